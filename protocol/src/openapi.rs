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

/// A standard base64 string (padding optional); with `len`, exactly that many bytes once decoded.
pub(crate) fn base64(description: &str, len: Option<usize>) -> RefOr<Schema> {
    // Unpadded text of n bytes has ceil(4n/3) characters, padded text 4*ceil(n/3).
    let lengths = len.map(|n| (n * 4).div_ceil(3)).zip(len.map(|n| n.div_ceil(3) * 4));
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Byte)))
        .content_encoding("base64")
        .min_length(lengths.map(|(min, _)| min))
        .max_length(lengths.map(|(_, max)| max))
        .description(Some(description))
        .into()
}

/// Doc comment lines (each with its leading space) as one paragraph.
pub(crate) fn join(doc: &[&str]) -> String {
    doc.iter().map(|line| line.trim()).collect::<Vec<_>>().join(" ")
}
