//! Schemas written by hand for what has no Rust type to derive one from: raw bytes, the `null` data of
//! an answer that only reports success, the avatar form and the error envelope.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};

/// Raw bytes, as an `application/octet-stream` body or answer.
pub(crate) struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {}

/// The `data` of an answer that carries nothing but its success.
pub(crate) struct Null;

impl PartialSchema for Null {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Null)
            .description(Some("Always null: nothing to report beyond success."))
            .into()
    }
}

impl ToSchema for Null {}

/// A `multipart/form-data` body with the picture in a part named `avatar`.
pub(crate) struct AvatarForm;

impl PartialSchema for AvatarForm {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "avatar",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                    .description(Some(
                        "A PNG, JPEG, GIF or WebP image (recognised by its bytes) of at most 1 MiB.",
                    )),
            )
            .required("avatar")
            .into()
    }
}

impl ToSchema for AvatarForm {}

/// Every failure: the envelope with a human-readable `error` and a stable `code`.
pub(crate) struct ErrorEnvelope;

impl PartialSchema for ErrorEnvelope {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("A failed request."))
            .property(
                "success",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([false])),
            )
            .required("success")
            .property(
                "error",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("What went wrong.")),
            )
            .required("error")
            .property(
                "code",
                ObjectBuilder::new().schema_type(Type::String).description(Some(
                    "A stable machine-readable code, e.g. `VALIDATION_ERROR`, `NOT_FOUND`, `RATE_LIMIT_EXCEEDED`.",
                )),
            )
            .required("code")
            .property(
                "retry_after",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("Seconds until the budget renews (`RATE_LIMIT_EXCEEDED` only).")),
            )
            .into()
    }
}

impl ToSchema for ErrorEnvelope {}
