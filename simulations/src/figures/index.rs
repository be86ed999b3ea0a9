//! `index.html`: one page that shows a run, opened straight from its directory. It is plain HTML with
//! inline CSS and relative links, so it needs no server, no script and nothing from the network.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

const STYLE: &str = "\
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #222; max-width: 860px; \
margin: 2em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.25em 0.9em; border-bottom: 1px solid #e3e3e3; text-align: left; }
th { font-weight: normal; color: #555; font-family: ui-monospace, monospace; font-size: 0.92em; }
td { font-variant-numeric: tabular-nums; }
figure { margin: 2em 0; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.95em; margin-top: 0.4em; }
";

/// The run's files besides the plots, linked from the page.
const FILES: [&str; 3] = ["summary.json", "deliveries.csv", "timeseries.csv"];

/// Writes `dir/index.html`; see [`super::write_index`].
pub(super) fn write(dir: &Path, title: &str, summary_json: &Value, plots: &[(String, String)]) -> std::io::Result<()> {
    let title = escape(title);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<p>Files:"
    );
    for (index, file) in FILES.iter().enumerate() {
        let separator = if index == 0 { "" } else { " ·" };
        let _ = write!(html, "{separator} <a href=\"{0}\">{0}</a>", escape(file));
    }
    html.push_str("</p>\n<h2>Summary</h2>\n<table>\n");
    for (key, value) in rows(summary_json) {
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape(&key),
            escape(&value)
        );
    }
    html.push_str("</table>\n");
    if !plots.is_empty() {
        html.push_str("<h2>Figures</h2>\n");
    }
    for (file, caption) in plots {
        let _ = writeln!(
            html,
            "<figure>\n<a href=\"{file}\"><img src=\"{file}\" alt=\"{caption}\" width=\"800\" height=\"500\"></a>\n\
             <figcaption>{caption}</figcaption>\n</figure>",
            file = escape(file),
            caption = escape(caption),
        );
    }
    html.push_str("</body>\n</html>\n");
    std::fs::write(dir.join("index.html"), html)
}

/// The summary's `(key, value)` rows: nested objects flattened one level as `outer.inner`, anything
/// deeper shown as compact JSON. Keys come in the object's order.
fn rows(summary: &Value) -> Vec<(String, String)> {
    let Value::Object(fields) = summary else {
        return vec![("value".to_owned(), show(summary))];
    };
    let mut rows = Vec::new();
    for (key, value) in fields {
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                rows.extend(inner.iter().map(|(name, value)| (format!("{key}.{name}"), show(value))));
            }
            _ => rows.push((key.clone(), show(value))),
        }
    }
    rows
}

/// A value as a reader wants it: strings bare, whole numbers whole, fractions to four significant
/// decimals (the exact values are in `summary.json`).
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) if number.is_f64() => number.as_f64().map_or_else(|| number.to_string(), fraction),
        other => other.to_string(),
    }
}

fn fraction(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 0.01 {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{value:.3e}")
    }
}

/// Escapes text for HTML content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_page_shows_the_summary_the_plots_and_the_files() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let summary = json!({
            "scenario": "<b>smoke</b> & co",
            "deliveries": 120,
            "delivery_ratio": 0.9876543,
            "encryption": true,
            "latency_local": { "count": 100, "p50_ms": 1.5, "max_ms": 0.001234 },
            "nothing": null,
        });
        let plots = vec![
            ("latency_cdf.svg".to_owned(), "Latency <CDF>".to_owned()),
            ("delivery_ratio.svg".to_owned(), "Ratio".to_owned()),
        ];
        crate::figures::write_index(dir.path(), "Run \"one\" <1>", &summary, &plots).expect("index written");
        let html = std::fs::read_to_string(dir.path().join("index.html")).expect("index read");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>Run &quot;one&quot; &lt;1&gt;</title>"));
        for (file, _) in &plots {
            assert!(html.contains(&format!("<img src=\"{file}\"")), "{file} missing");
        }
        assert!(html.contains("<figcaption>Latency &lt;CDF&gt;</figcaption>"));
        for row in [
            "<th scope=\"row\">scenario</th><td>&lt;b&gt;smoke&lt;/b&gt; &amp; co</td>",
            "<th scope=\"row\">deliveries</th><td>120</td>",
            "<th scope=\"row\">delivery_ratio</th><td>0.9877</td>",
            "<th scope=\"row\">encryption</th><td>true</td>",
            "<th scope=\"row\">latency_local.count</th><td>100</td>",
            "<th scope=\"row\">latency_local.p50_ms</th><td>1.5</td>",
            "<th scope=\"row\">latency_local.max_ms</th><td>1.234e-3</td>",
            "<th scope=\"row\">nothing</th><td>null</td>",
        ] {
            assert!(html.contains(row), "{row} missing from\n{html}");
        }
        assert!(!html.contains("<b>smoke"));
        for file in FILES {
            assert!(html.contains(&format!("<a href=\"{file}\">")));
        }
    }

    #[test]
    fn a_summary_that_is_not_an_object_is_one_row() {
        assert_eq!(rows(&json!([1, 2])), vec![("value".to_owned(), "[1,2]".to_owned())]);
        assert_eq!(
            rows(&json!({ "empty": {} })),
            vec![("empty".to_owned(), "{}".to_owned())]
        );
    }
}
