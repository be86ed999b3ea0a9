//! `parley node --config <file>`: a TOML file of `parley node`'s settings, each under its long flag's
//! name. The file is applied through clap itself: a file value becomes a `--name=value` argument,
//! appended only where clap saw neither a flag nor an environment variable, so clap's own parsers
//! check it and the precedence (flags > environment > file > defaults) needs no code of its own. Nothing
//! here names a setting: a flag added to `NodeArgs` is settable from the file, and printed by
//! `--print-config`, as soon as it exists.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use crate::node_command::NodeArgs;

/// Long flags that say what `parley node` does rather than how the node runs: a file cannot hold them
/// (`config` naming another file would make the precedence depend on reading order).
const NOT_SETTINGS: [&str; 2] = ["config", "print-config"];

/// A setting is a secret when the last word of its name is one of these. The last word, not any word:
/// `access-token-ttl` is a lifetime, `registration-token` a secret.
const SECRET_WORDS: [&str; 6] = ["secret", "secrets", "password", "passwords", "token", "tokens"];

/// Settings whose values are `;`-separated with a secret part: (name, index of the secret part).
const SECRET_PARTS: [(&str, usize); 1] = [("ice-server", 2)];

/// `parley node`'s arguments with its config file applied; `None` once `--print-config` has printed
/// the effective configuration, when there is nothing to run. `cli` is the whole program's command and
/// `argv` its command line, which is parsed again with the file's values appended.
pub(crate) fn node_args(cli: Command, mut argv: Vec<OsString>) -> anyhow::Result<Option<NodeArgs>> {
    let settings = NodeArgs::augment_args(Command::new("parley node"));
    let first = cli.clone().try_get_matches_from(&argv).map_err(|err| one_line(&err))?;
    let args = NodeArgs::from_arg_matches(node_matches(&first)?).map_err(|err| one_line(&err))?;
    let mut from_file = BTreeSet::new();
    if let Some(path) = &args.config {
        for (key, value) in read(path)? {
            let arg = setting(&settings, &key).with_context(|| path.display().to_string())?;
            let arguments = arguments(arg, &value)
                .and_then(|arguments| validate(&settings, &arguments).map(|()| arguments))
                .with_context(|| format!("{}: key {key:?}", path.display()))?;
            let source = node_matches(&first)?.value_source(arg.get_id().as_str());
            if matches!(source, None | Some(ValueSource::DefaultValue)) {
                argv.extend(arguments.into_iter().map(OsString::from));
                from_file.insert(key);
            }
        }
    }
    let matches = cli.try_get_matches_from(&argv).map_err(|err| {
        let err = one_line(&err);
        match &args.config {
            Some(path) => err.context(path.display().to_string()),
            None => err,
        }
    })?;
    let matches = node_matches(&matches)?;
    let args = NodeArgs::from_arg_matches(matches).map_err(|err| one_line(&err))?;
    if !args.print_config {
        return Ok(Some(args));
    }
    let text = render(&settings, matches, &from_file, args.config.as_deref());
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("printing the configuration")?;
    Ok(None)
}

fn node_matches(matches: &ArgMatches) -> anyhow::Result<&ArgMatches> {
    matches
        .subcommand()
        .map(|(_, matches)| matches)
        .ok_or_else(|| anyhow!("no subcommand on the command line"))
}

/// The file's table, or one line naming the file (and the line and column of a syntax error).
fn read(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    text.parse::<toml::Table>().map_err(|err| {
        let message = err.message().trim().replace('\n', "; ");
        let place = err.span().and_then(|span| text.get(..span.start)).map(|before| {
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
            format!("line {line}, column {column}: ")
        });
        anyhow!("{}: {}{message}", path.display(), place.unwrap_or_default())
    })
}

/// The settings: args with a long name that take values or are on/off flags, minus `NOT_SETTINGS`.
fn settings(command: &Command) -> impl Iterator<Item = (&str, &Arg)> {
    command.get_arguments().filter_map(|arg| {
        let settable = matches!(
            arg.get_action(),
            ArgAction::Set | ArgAction::Append | ArgAction::SetTrue | ArgAction::SetFalse
        );
        let long = arg.get_long().filter(|long| settable && !NOT_SETTINGS.contains(long))?;
        Some((long, arg))
    })
}

fn setting<'a>(command: &'a Command, key: &str) -> anyhow::Result<&'a Arg> {
    if let Some((_, arg)) = settings(command).find(|(long, _)| *long == key) {
        return Ok(arg);
    }
    if NOT_SETTINGS.contains(&key) {
        bail!("key {key:?} is not a setting (--{key} goes on the command line)");
    }
    // Underscores are the likeliest slip (`data_dir`), so they cost nothing in the comparison.
    let wanted = key.replace('_', "-");
    let nearest = settings(command)
        .map(|(long, _)| (distance(&wanted, long), long))
        .min()
        .filter(|(distance, long)| *distance <= 2 || distance * 3 <= long.len());
    match nearest {
        Some((_, long)) => Err(anyhow!("unknown key {key:?} (did you mean {long:?}?)")),
        None => Err(anyhow!("unknown key {key:?}")),
    }
}

/// The command-line arguments that say what `value` says for `arg`: `--name=value` per value, a bare
/// `--name` for an on/off flag set the non-default way, nothing for one left the default way.
fn arguments(arg: &Arg, value: &toml::Value) -> anyhow::Result<Vec<String>> {
    let long = arg.get_long().unwrap_or_default();
    let flag_means = match arg.get_action() {
        ArgAction::SetTrue => Some(true),
        ArgAction::SetFalse => Some(false),
        _ => None,
    };
    if let Some(flag_means) = flag_means {
        let toml::Value::Boolean(on) = value else {
            bail!("expected true or false, not a {}", value.type_str());
        };
        return Ok(if *on == flag_means {
            vec![format!("--{long}")]
        } else {
            Vec::new()
        });
    }
    match value {
        toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => items
            .iter()
            .map(|item| scalar(item).map(|item| format!("--{long}={item}")))
            .collect(),
        toml::Value::Array(_) => bail!("takes one value, not an array"),
        other => Ok(vec![format!("--{long}={}", scalar(other)?)]),
    }
}

/// A value as clap would read it from the command line: strings as they are, numbers and booleans as
/// written.
fn scalar(value: &toml::Value) -> anyhow::Result<String> {
    match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Float(number) => Ok(number.to_string()),
        toml::Value::Boolean(on) => Ok(on.to_string()),
        other => bail!("expected a string, number or boolean, not a {}", other.type_str()),
    }
}

/// Parses `parley node` with only `arguments` (and no environment), so an error is about this one key.
/// Errors about other arguments (one this one requires, or conflicts with) are left to the full parse.
fn validate(settings: &Command, arguments: &[String]) -> anyhow::Result<()> {
    let alone = settings.clone().no_binary_name(true).mut_args(|arg| arg.env(None));
    match alone.try_get_matches_from(arguments) {
        Err(err)
            if !matches!(
                err.kind(),
                ErrorKind::MissingRequiredArgument | ErrorKind::ArgumentConflict
            ) =>
        {
            Err(one_line(&err))
        }
        _ => Ok(()),
    }
}

/// A clap error as one line: `invalid value "x": <the parser's reason>`, or clap's own first line.
fn one_line(err: &clap::Error) -> anyhow::Error {
    let rendered = err.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    let Some(ContextValue::String(value)) = err.get(ContextKind::InvalidValue) else {
        return anyhow!(first);
    };
    let reason = match (std::error::Error::source(err), err.get(ContextKind::ValidValue)) {
        (Some(source), _) => source.to_string(),
        (None, Some(ContextValue::Strings(valid))) => {
            let valid: Vec<String> = valid.iter().map(|value| format!("{value:?}")).collect();
            format!("expected one of {}", valid.join(", "))
        }
        _ => first,
    };
    anyhow!("invalid value {value:?}: {reason}")
}

/// The effective configuration as a config file: every setting, each with where its value came from.
fn render(
    settings_command: &Command,
    matches: &ArgMatches,
    from_file: &BTreeSet<String>,
    file: Option<&Path>,
) -> String {
    let mut text = String::from("# parley node: effective configuration (flags > environment > file > defaults)\n");
    if let Some(file) = file {
        let _ = writeln!(text, "# file: {}", file.display());
    }
    for (long, arg) in settings(settings_command) {
        let id = arg.get_id().as_str();
        let source = if from_file.contains(long) {
            "file"
        } else {
            match matches.value_source(id) {
                Some(ValueSource::CommandLine) => "flag",
                Some(ValueSource::EnvVariable) => "environment",
                _ => "default",
            }
        };
        let values: Vec<String> = matches
            .try_get_raw(id)
            .ok()
            .flatten()
            .into_iter()
            .flatten()
            .map(|value| toml_value(&redact(long, &value.to_string_lossy())))
            .collect();
        let _ = match (arg.get_action(), values.first()) {
            (ArgAction::Append, _) => writeln!(text, "{long} = [{}]  # {source}", values.join(", ")),
            (_, Some(value)) => writeln!(text, "{long} = {value}  # {source}"),
            (_, None) => writeln!(text, "# {long} is not set  # {source}"),
        };
    }
    text
}

fn redact(long: &str, value: &str) -> String {
    if long.rsplit('-').next().is_some_and(|word| SECRET_WORDS.contains(&word)) {
        return "<redacted>".to_owned();
    }
    match SECRET_PARTS.iter().find(|(name, _)| *name == long) {
        Some((_, secret)) => value
            .split(';')
            .enumerate()
            .map(|(index, part)| if index == *secret { "<redacted>" } else { part })
            .collect::<Vec<_>>()
            .join(";"),
        None => value.to_owned(),
    }
}

/// A command-line value written back as TOML, in the type the file would give it: `true`/`false` and
/// integers bare (they read back as the same text), anything else a quoted string.
fn toml_value(value: &str) -> String {
    let integer = value.parse::<i64>().is_ok_and(|number| number.to_string() == value);
    if integer || value == "true" || value == "false" {
        return value.to_owned();
    }
    let mut quoted = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Levenshtein distance, for suggesting the key that was meant.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = i;
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_the_toml_the_file_would_hold() {
        assert_eq!(toml_value("5"), "5");
        assert_eq!(toml_value("007"), "\"007\"");
        assert_eq!(toml_value("false"), "false");
        assert_eq!(toml_value("a \"b\" \\ \n"), "\"a \\\"b\\\" \\\\ \\u000A\"");
    }

    #[test]
    fn secrets_are_redacted_by_name_and_by_part() {
        assert_eq!(redact("ice-server", "turn:x;ann;pw"), "turn:x;ann;<redacted>");
        assert_eq!(redact("ice-server", "stun:x"), "stun:x");
        assert_eq!(redact("registration-token", "abc"), "<redacted>");
        assert_eq!(redact("access-token-ttl", "60"), "60");
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("htp", "http"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}
