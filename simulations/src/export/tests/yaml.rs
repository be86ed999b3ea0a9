//! The hand-written YAML reads back as the values written, whatever the text.

use serde::Deserialize;

use crate::export::yaml::{literal, quote, script_block};

fn value_of(text: &str) -> serde_json::Value {
    serde_json::Value::deserialize(serde_norway::Deserializer::from_str(text)).unwrap()
}

#[test]
fn quoted_names_stay_strings() {
    for text in [
        "no",
        "1",
        "yes",
        "null",
        "a\"b",
        "back\\slash",
        "tab\there",
        "line\nbreak",
        "\u{7}",
    ] {
        let document = format!("key: {}\n", quote(text));
        assert_eq!(value_of(&document)["key"], text, "{document}");
    }
}

#[test]
fn a_literal_block_holds_the_text_exactly() {
    let texts = [
        "a = 1\nb = 2\n",
        "no final newline",
        "  starts indented\nthen not\n",
        "two final newlines\n\n",
        "\n\nstarts blank\n",
        "tabs\tinside\n\tand at the start\n",
        "",
        "\n",
        "carriage\r\nreturns\r\n",
    ];
    for text in texts {
        let document = format!("data:\n  file: {}other: 1\n", literal(text, 2));
        let value = value_of(&document);
        assert_eq!(value["data"]["file"], text, "{document}");
        assert_eq!(value["other"], 1, "{document}");
    }
}

#[test]
fn a_script_block_holds_the_script() {
    let script = "# comment\nfor x in a b; do\n    echo \"$x\"\ndone\n\necho done\n";
    let document = format!("command:\n  - /bin/sh\n  - {}next: true\n", script_block(script, 4));
    let value = value_of(&document);
    assert_eq!(value["command"][1], script, "{document}");
    assert_eq!(value["next"], true);
}
