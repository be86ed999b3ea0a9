//! Bounds that the derived schemas leave out, added to every schema of the document once:
//!
//! - Unsigned integers. utoipa writes `u32` and `u64` with the formats `u-int32` and `u-int64`, which
//!   say nothing to a JSON Schema validator, so the upper bound of the Rust type is written out: the
//!   node takes every value of the type, and refuses one past it.
//! - Free text. A string with a `maxLength` and no `format`, `pattern` or `enum` is free text, and
//!   `node::validate` checks all free text alike: the length counts the characters as sent, white space
//!   at either end is trimmed, and what remains must hold no control character. A field with
//!   `minLength` must not be blank; one without may be, and blank then means "none". [`TEXT`] and
//!   [`OPTIONAL_TEXT`] say that as a pattern.
//! - Shapes. A field of a known shape (an email address, a username, …) names it as its `format`, which
//!   is replaced by the pattern of what the node accepts there ([`SHAPES`]).
//! - Times. A `date-time` gets the pattern of RFC 3339's standard form.
//!
//! The tests hold the patterns to `node::validate`, which the node checks fields with.

use utoipa::Number;
use utoipa::openapi::path::PathItem;
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, KnownFormat, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// What Rust's `char::is_whitespace` trims, as a character class.
macro_rules! ws {
    () => {
        r"[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    };
}

/// White space that is no control character: what may stand inside a trimmed value.
macro_rules! space {
    () => {
        r"[ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    };
}

/// One character that is neither white space nor a control character.
macro_rules! visible {
    () => {
        r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    };
}

/// Text that is not blank, with no control character (`char::is_control`, `[\x00-\x1f\x7f-\x9f]`)
/// between its first and last visible character.
pub(crate) const TEXT: &str = concat!(
    "^",
    ws!(),
    r"*[^\x00-\x1f\x7f-\x9f]*",
    visible!(),
    r"[^\x00-\x1f\x7f-\x9f]*",
    ws!(),
    "*$"
);

/// [`TEXT`], or nothing but white space.
pub(crate) const OPTIONAL_TEXT: &str = concat!(
    "^",
    ws!(),
    r"*(?:[^\x00-\x1f\x7f-\x9f]*",
    visible!(),
    r"[^\x00-\x1f\x7f-\x9f]*",
    ws!(),
    "*)?$"
);

/// A username as `node::validate::username` takes it: trimmed, then 3 to 32 letters, digits, `_`, `.`
/// and `-`, the first a letter or digit. It is lower-cased first, and the Kelvin sign (U+212A) lower-cases
/// to `k`.
macro_rules! username {
    () => {
        r"[A-Za-z0-9\u212a][A-Za-z0-9_.\u212a-]{2,31}"
    };
}

/// A node name (`protocol::federation::NodeName`) once lower-cased: a DNS label.
macro_rules! node_name {
    () => {
        r"[A-Za-z0-9\u212a](?:[A-Za-z0-9\u212a-]{0,61}[A-Za-z0-9\u212a])?"
    };
}

/// A user's handle as sent: `username@node-name` or a local username, with
/// surrounding white space.
macro_rules! handle {
    () => {
        concat!(
            ws!(),
            "*",
            username!(),
            "(?:",
            space!(),
            "*@",
            node_name!(),
            ")?",
            ws!(),
            "*"
        )
    };
}

/// A UUID in each form `Uuid::parse_str` reads, exactly as sent: plain, hyphenated, braced or as a URN.
macro_rules! uuid {
    () => {
        concat!(
            r"[0-9A-Fa-f]{32}|(?:urn:uuid:)?",
            hyphenated!(),
            r"|\{",
            hyphenated!(),
            r"\}"
        )
    };
}

macro_rules! hyphenated {
    () => {
        r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    };
}

/// A real calendar date (29 February aside, which only some years have).
macro_rules! date {
    () => {
        concat!(
            r"[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)",
            r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
        )
    };
}

/// What follows the date in RFC 3339: a time and an offset.
macro_rules! time {
    () => {
        r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
    };
}

/// RFC 3339 as the node writes it and as chrono reads it. chrono is more lenient than this (a space
/// for `T`, say); the document asks for the standard form.
const DATE_TIME: &str = concat!("^", date!(), time!(), "$");

/// Fields of a known shape name it as their `format`, which no validator knows; it is replaced by the
/// pattern of what the node accepts there.
const SHAPES: [(&str, &str); 15] = [
    // `node::validate::email`: one `@`-separated local part and a domain with an inner dot, nothing blank.
    (
        "email",
        concat!(
            "^",
            ws!(),
            r"*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@]+@",
            r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@.]",
            r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@]*\.",
            r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@]*",
            r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@.]",
            ws!(),
            "*$"
        ),
    ),
    ("username", concat!("^", ws!(), "*", username!(), ws!(), "*$")),
    // `username@node-name`, or a local username.
    ("handle", concat!("^", handle!(), "$")),
    // A user by id, or by handle (`protocol::api::UserRef`).
    ("user-ref", concat!("^(?:", uuid!(), "|", handle!(), ")$")),
    // `node::validate::phone`, or blank for none: `+` and 7 to 15 digits, with spaces, `-` and parentheses.
    (
        "phone",
        concat!("^(?:", ws!(), r"*|[ ()-]*\+(?:[ ()-]*[0-9]){7,15}[ ()-]*)$"),
    ),
    ("sha256", concat!("^", ws!(), "*[0-9A-Fa-f]{64}", ws!(), "*$")),
    // A media type of printable ASCII, `type/subtype`; blank for the default.
    (
        "media-type",
        concat!("^", ws!(), r"*(?:[!-.0-~][ -.0-~]*/[ -~]*[!-~]", ws!(), "*)?$"),
    ),
    ("language", concat!("^", ws!(), "*[A-Za-z0-9-]{2,16}", ws!(), "*$")),
    // Lower-cased before it is compared.
    (
        "theme",
        concat!(
            "^",
            ws!(),
            r"*(?:[Ll][Ii][Gg][Hh][Tt]|[Dd][Aa][Rr][Kk\u212a]|[Ss][Yy][Ss][Tt][Ee][Mm])",
            ws!(),
            "*$"
        ),
    ),
    // Lower-cased before it is compared; blank for `other`.
    (
        "device-type",
        concat!(
            "^",
            ws!(),
            r"*(?:[Mm][Oo][Bb][Ii][Ll][Ee]|[Dd][Ee][Ss][Kk\u212a][Tt][Oo][Pp]|[Ww][Ee][Bb]",
            r"|[Tt][Aa][Bb][Ll][Ee][Tt]|[Oo][Tt][Hh][Ee][Rr])?",
            ws!(),
            "*$"
        ),
    ),
    // `node::validate::url`: blank for none.
    (
        "http-url",
        concat!("^", ws!(), r"*(?:https?://[^\x00-\x1f\x7f-\x9f]*)?", ws!(), "*$"),
    ),
    ("webhook-url", protocol::api::WEBHOOK_URL_PATTERN),
    // An invite link or its code: what follows the last `/` is the code.
    (
        "invite-link",
        concat!("^", ws!(), r"*(?:[^\x00-\x1f\x7f-\x9f]*/)?[A-Za-z0-9_-]+", ws!(), "*$"),
    ),
    // messaging-app's `from` and `to`: a date, or an RFC 3339 time.
    ("date-or-date-time", concat!("^", date!(), "(?:", time!(), ")?$")),
    // One emoji, or any short run of visible characters: the node checks no more.
    ("emoji", concat!("^", ws!(), "*", visible!(), "{1,16}", ws!(), "*$")),
];

/// Strings the node keeps as they come (secrets, a key backup's ciphertexts): only their length is
/// checked, so they get no pattern.
const OPAQUE: &str = "opaque";

/// Adds the bounds to every schema: the components and those written inline in the operations.
pub(crate) fn add(doc: &mut OpenApi) {
    if let Some(components) = doc.components.as_mut() {
        components.schemas.values_mut().for_each(visit);
    }
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter
                    && let Some(schema) = parameter.schema.as_mut()
                {
                    visit(schema);
                }
            }
            if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
                body.content.values_mut().for_each(visit_content);
            }
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    response.content.values_mut().for_each(visit_content);
                }
            }
        }
    }
}

fn visit_content(content: &mut RefOr<utoipa::openapi::Content>) {
    if let RefOr::T(content) = content
        && let Some(schema) = content.schema.as_mut()
    {
        visit(schema);
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn visit(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            bound(object);
            object.properties.values_mut().for_each(visit);
            if let Some(additional) = object.additional_properties.as_deref_mut()
                && let AdditionalProperties::RefOr(inner) = additional
            {
                visit(inner);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                visit(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(visit),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(visit),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(visit),
        _ => {}
    }
}

fn bound(object: &mut utoipa::openapi::schema::Object) {
    let unsigned_max = match &object.format {
        Some(SchemaFormat::KnownFormat(KnownFormat::UInt8)) => Some(u64::from(u8::MAX)),
        Some(SchemaFormat::KnownFormat(KnownFormat::UInt16)) => Some(u64::from(u16::MAX)),
        Some(SchemaFormat::KnownFormat(KnownFormat::UInt32)) => Some(u64::from(u32::MAX)),
        Some(SchemaFormat::KnownFormat(KnownFormat::UInt64)) => Some(u64::MAX),
        _ => None,
    };
    if let Some(max) = unsigned_max
        && object.maximum.is_none()
    {
        object.maximum = Some(Number::UInt(max as usize));
    }
    if object.format == Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)) && object.pattern.is_none() {
        object.pattern = Some(DATE_TIME.to_owned());
    }
    if let Some(SchemaFormat::Custom(name)) = &object.format {
        if name == OPAQUE {
            object.format = None;
            return;
        }
        if let Some((_, pattern)) = SHAPES.iter().find(|(shape, _)| shape == name) {
            object.pattern = Some((*pattern).to_owned());
            object.format = None;
        }
    }
    let is_free_text = is_string(&object.schema_type)
        && object.max_length.is_some()
        && object.format.is_none()
        && object.pattern.is_none()
        && object.enum_values.is_none();
    if is_free_text {
        let required = object.min_length.is_some_and(|min| min > 0);
        object.pattern = Some(if required { TEXT } else { OPTIONAL_TEXT }.to_owned());
    }
}

fn is_string(schema_type: &SchemaType) -> bool {
    match schema_type {
        SchemaType::Type(Type::String) => true,
        SchemaType::Array(types) => types.contains(&Type::String),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns against `node::validate`'s rule, written out: trim, then not blank (for [`TEXT`])
    /// and no control character.
    fn accepted(value: &str, required: bool) -> bool {
        let trimmed = value.trim();
        (!required || !trimmed.is_empty()) && !trimmed.chars().any(char::is_control)
    }

    fn shape(name: &str) -> regex::Regex {
        let (_, pattern) = SHAPES.iter().find(|(shape, _)| *shape == name).unwrap();
        regex::Regex::new(pattern).unwrap()
    }

    /// Texts around the edges of a rule: each sample alone, with white space or a control character
    /// at either end or inside, and upper-cased.
    fn variants(samples: &[&str]) -> Vec<String> {
        let mut all = Vec::new();
        for sample in samples {
            for (before, after) in [
                ("", ""),
                (" ", "\t"),
                ("\u{85}", "\u{3000}"),
                ("\u{1}", ""),
                ("", "\n\u{7f}"),
            ] {
                all.push(format!("{before}{sample}{after}"));
                all.push(format!("{before}{}{after}", sample.to_uppercase()));
            }
            all.push(sample.replacen('.', " .", 1));
            all.push(sample.replacen('.', "\u{2028}", 1));
        }
        all
    }

    #[test]
    fn the_shapes_say_what_the_validators_do() {
        let emails = variants(&[
            "a@b.c",
            "ann@example.org",
            "a@b",
            "@b.c",
            "a@.b",
            "a@b.",
            "a@b@c.d",
            "a@b..c",
        ]);
        for email in emails {
            // The schema is the pattern and a `maxLength` of 254.
            let documented = shape("email").is_match(&email) && email.chars().count() <= 254;
            assert_eq!(documented, node::validate::email(&email).is_ok(), "email {email:?}");
        }
        let names = [
            "ann",
            "an",
            "_ann",
            "ann_1.x-y",
            "a.b",
            "ann\u{212a}",
            "aé",
            &"a".repeat(32),
            &"a".repeat(33),
        ];
        for name in variants(&names) {
            let documented = shape("username").is_match(&name) && name.chars().count() <= 32;
            assert_eq!(documented, node::validate::username(&name).is_ok(), "username {name:?}");
        }
        let phones = [
            "+15551234567",
            "+1 (555) 123-4567",
            "5551234567",
            "+123456",
            "+1234567",
            "+1234567890123456",
        ];
        for phone in variants(&phones).into_iter().chain(["".to_owned(), " \t".to_owned()]) {
            // Blank is no phone number at all.
            let valid = phone.trim().is_empty() || node::validate::phone(&phone).is_ok();
            assert_eq!(shape("phone").is_match(&phone), valid, "phone {phone:?}");
        }
        for url in variants(&["http://a", "https://x.y/z?q", "ftp://a", "http:/a", ""]) {
            let valid = node::validate::url("avatar_url", Some(&url)).is_ok();
            assert_eq!(shape("http-url").is_match(&url), valid, "url {url:?}");
        }
        for kind in variants(&[
            "mobile",
            "desktop",
            "web",
            "tablet",
            "other",
            "phone",
            "desk\u{212a}top",
            "",
        ]) {
            let valid = node::validate::device_type(Some(&kind)).is_ok();
            assert_eq!(shape("device-type").is_match(&kind), valid, "device type {kind:?}");
        }
    }

    #[test]
    fn the_text_patterns_say_what_the_validator_does() {
        let text = regex::Regex::new(TEXT).unwrap();
        let optional = regex::Regex::new(OPTIONAL_TEXT).unwrap();
        let samples = [
            "",
            " ",
            "a",
            " a ",
            "\ta\n",
            "a b",
            "a\tb",
            "a\u{0}",
            "\u{85}a\u{85}",
            "a\u{85}b",
            "\u{a0}",
            "\u{3000}x\u{3000}",
            "x\u{7f}",
            "\u{1c}x",
            "x\u{9f}y",
            "é",
            "\u{200b}",
            "\r\n",
            "a\u{2028}b",
        ];
        for sample in samples {
            assert_eq!(text.is_match(sample), accepted(sample, true), "TEXT {sample:?}");
            assert_eq!(
                optional.is_match(sample),
                accepted(sample, false),
                "OPTIONAL_TEXT {sample:?}"
            );
        }
        // Every character class boundary: a visible letter beside each code point up to U+3000.
        for code in (0..=0x3001).filter_map(char::from_u32) {
            for sample in [format!("a{code}"), format!("{code}a{code}"), code.to_string()] {
                assert_eq!(text.is_match(&sample), accepted(&sample, true), "TEXT {sample:?}");
                assert_eq!(
                    optional.is_match(&sample),
                    accepted(&sample, false),
                    "OPTIONAL_TEXT {sample:?}"
                );
            }
        }
    }
}
