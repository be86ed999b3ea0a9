//! Writing YAML by hand, so generated files keep comments saying what each part is for (a serializer
//! would drop them). Every value that comes from the scenario goes through [`quote`], so a node named
//! `no` or `1` stays a string whatever YAML version reads it.

use std::fmt::Write as _;
use std::time::Duration;

/// A double-quoted YAML scalar (also a JSON string) holding exactly `text`.
pub(super) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A flow sequence of quoted strings, `["a", "b"]`.
pub(super) fn list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|item| quote(item.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// A literal block scalar for `text` as the value of a key indented by `indent` spaces: the
/// `|`-header and the text's lines indented two more. The chomping indicator keeps the text's
/// trailing newlines exactly, and the indentation indicator lets the first line start with spaces.
/// Text a block cannot hold (carriage returns, control characters) is quoted instead.
pub(super) fn literal(text: &str, indent: usize) -> String {
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return format!("{}\n", quote(text));
    }
    let chomp = if text.ends_with('\n') { "+" } else { "-" };
    let pad = " ".repeat(indent + 2);
    let mut out = format!("|2{chomp}\n");
    let body = text.trim_end_matches('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    // `|+` keeps the newline after the last line, and any blank lines below it, as content.
    for _ in 1..text.len() - text.trim_end_matches('\n').len() {
        out.push('\n');
    }
    out
}

/// A literal block scalar for a script we generate, as a sequence entry whose content is indented by
/// `pad` spaces. The script's first line is a comment or a command, never indented, so YAML finds the
/// indentation itself, and it ends with one newline, which the default chomping keeps.
pub(super) fn script_block(script: &str, pad: usize) -> String {
    let pad = " ".repeat(pad);
    let mut out = String::from("|\n");
    for line in script.trim_end_matches('\n').split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// A duration as Go's `time.ParseDuration` reads it (Chaos Mesh), and `tc` too: whole milliseconds,
/// which is all a scenario can write.
pub(super) fn millis(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

/// A probability as a percentage (`0.001` → `0.1`), as both `tc netem loss` and Chaos Mesh take it.
pub(super) fn percent(probability: f64) -> String {
    let text = format!("{:.6}", probability * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}
