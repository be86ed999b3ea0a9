//! OpenAPI schemas for the types whose serde form is hand-written (ids, base64 bytes, keys), so the
//! derived schemas of the REST bodies can refer to them. Only built with the `openapi` feature.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

/// A UUID string, described by the type's doc comment lines.
pub(crate) fn uuid(doc: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .description(Some(join(doc)))
        .into()
}

/// A standard base64 string as `Base64Bytes::decode` reads it; with `len`, exactly that many bytes.
pub(crate) fn base64(description: &str, len: Option<usize>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_encoding("base64")
        .pattern(Some(base64_pattern(len)))
        .description(Some(description))
        .into()
}

/// Whole groups of four characters, then the last one or two bytes: their final character carries
/// unused low bits, which must be zero, and padding may be left out or shortened.
fn base64_pattern(len: Option<usize>) -> String {
    const CHAR: &str = "[A-Za-z0-9+/]";
    let one_byte = format!("{CHAR}[AQgw](?:==?)?");
    let two_bytes = format!("{CHAR}{{2}}[AEIMQUYcgkosw048]=?");
    match len {
        None => format!("^(?:{CHAR}{{4}})*(?:{two_bytes}|{one_byte})?$"),
        Some(len) => {
            let tail = match len % 3 {
                1 => one_byte,
                2 => two_bytes,
                _ => String::new(),
            };
            format!("^(?:{CHAR}{{4}}){{{}}}{tail}$", len / 3)
        }
    }
}

/// Doc comment lines (each with its leading space) as one paragraph.
pub(crate) fn join(doc: &[&str]) -> String {
    doc.iter().map(|line| line.trim()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Base64Bytes;

    /// Over every text of up to four characters of a small alphabet, the pattern for `len` matches
    /// exactly those that decode to `len` bytes.
    #[test]
    fn base64_patterns_match_what_decodes() {
        let alphabet = ['A', 'B', 'Q', 'g', '/', '='];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(longer);
        }
        for len in [None, Some(1), Some(2), Some(3), Some(4)] {
            let pattern = regex::Regex::new(&base64_pattern(len)).unwrap();
            for text in &texts {
                let decodes = Base64Bytes::decode(text).is_ok_and(|b| len.is_none_or(|n| b.len() == n));
                assert_eq!(pattern.is_match(text), decodes, "{pattern} {text:?}");
            }
        }
    }
}
