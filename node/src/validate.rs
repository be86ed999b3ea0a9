//! Field checks shared by the services. Each error names the field as the client spelled it. Public so
//! that the gateway's OpenAPI document, which states them as patterns, is tested against them.

use crate::{Error, Result};

/// Trims and checks a required text field. `max` counts the characters as sent, `min` those left
/// after trimming: the OpenAPI document can say the first as `maxLength` and the second as a pattern
/// (`gateway::openapi::bounds`).
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String> {
    at_most(field, value, max)?;
    let value = value.trim();
    if value.chars().count() < min {
        return Err(if min == 1 {
            Error::invalid(field, "must not be empty")
        } else {
            Error::invalid(field, format!("must be at least {min} characters"))
        });
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// An optional text field where a blank string means "clear".
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    match value {
        Some(value) if !value.trim().is_empty() => text(field, value, 1, max).map(Some),
        Some(value) => at_most(field, value, max).map(|()| None),
        None => Ok(None),
    }
}

fn at_most(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("must be at most {max} characters")));
    }
    Ok(())
}

/// An email address, trimmed and lower-cased: one `@`, a local part, a domain with an inner dot.
pub fn email(value: &str) -> Result<String> {
    let value = text("email", value, 3, 254)?.to_lowercase();
    let valid = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.starts_with('.')
                && domain.contains('.')
                && !domain.ends_with('.')
                && !value.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    };
    if valid {
        Ok(value)
    } else {
        Err(Error::invalid("email", "must be an email address"))
    }
}

/// A username, trimmed and lower-cased: 3 to 32 letters, digits, `_`, `.` and `-`, the first a letter
/// or digit.
pub fn username(value: &str) -> Result<String> {
    let value = text("username", value, 3, 32)?.to_lowercase();
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(Error::invalid(
            "username",
            "may contain only letters, digits, '_', '.' and '-'",
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid("username", "must start with a letter or digit"));
    }
    Ok(value)
}

/// A phone number in E.164 form once spaces, `-` and parentheses are dropped.
pub fn phone(value: &str) -> Result<String> {
    let value: String = value.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    let digits = value.strip_prefix('+').unwrap_or("");
    if (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(value)
    } else {
        Err(Error::invalid(
            "phone_number",
            "must be in E.164 form, e.g. +15551234567",
        ))
    }
}

/// A password: 8 to 128 characters, taken as they are.
pub fn password(field: &str, value: &str) -> Result<()> {
    let len = value.chars().count();
    if len < 8 {
        return Err(Error::invalid(field, "must be at least 8 characters"));
    }
    if len > 128 {
        return Err(Error::invalid(field, "must be at most 128 characters"));
    }
    Ok(())
}

/// An optional http(s) URL of at most 2048 characters; blank means none.
pub fn url(field: &str, value: Option<&str>) -> Result<Option<String>> {
    let Some(value) = optional_text(field, value, 2048)? else {
        return Ok(None);
    };
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(Some(value))
    } else {
        Err(Error::invalid(field, "must be an http(s) URL"))
    }
}

/// A device's kind, `other` when left out or blank.
pub fn device_type(value: Option<&str>) -> Result<String> {
    match value.map(str::trim).map(str::to_lowercase).as_deref() {
        None | Some("") => Ok("other".into()),
        Some(kind @ ("mobile" | "desktop" | "web" | "tablet" | "other")) => Ok(kind.into()),
        Some(_) => Err(Error::invalid(
            "device_type",
            "must be one of mobile, desktop, web, tablet, other",
        )),
    }
}

/// A 1-based page number, 1 by default.
pub fn page(value: Option<u32>) -> Result<usize> {
    match value {
        Some(0) => Err(Error::invalid("page", "must be at least 1")),
        Some(n) => Ok(n as usize),
        None => Ok(1),
    }
}

/// Clamps a page size into 1..=max, with a default.
pub fn limit(value: Option<u32>, default: u32, max: u32) -> Result<usize> {
    match value {
        None => Ok(default as usize),
        Some(0) => Err(Error::invalid("limit", "must be at least 1")),
        Some(n) if n > max => Err(Error::invalid("limit", format!("must be at most {max}"))),
        Some(n) => Ok(n as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email(" Ann@Example.org ").unwrap(), "ann@example.org");
        for bad in ["ann", "ann@", "@example.org", "ann@example", "a b@example.org"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_are_lower_case_and_plain() {
        assert_eq!(username("Ann_1").unwrap(), "ann_1");
        assert!(username("an").is_err());
        assert!(username("ann smith").is_err());
        assert!(username("_ann").is_err());
    }

    #[test]
    fn phones_are_e164() {
        assert_eq!(phone("+1 555 123-4567").unwrap(), "+15551234567");
        assert!(phone("5551234567").is_err());
    }

    #[test]
    fn lengths_count_the_text_as_sent_and_emptiness_what_is_left_trimmed() {
        assert_eq!(text("name", " ab ", 1, 4).unwrap(), "ab");
        assert!(text("name", "  ab ", 1, 4).is_err(), "five characters as sent");
        assert!(text("name", " \t ", 1, 4).is_err(), "blank");
        assert_eq!(optional_text("bio", Some("   "), 3).unwrap(), None);
        assert!(optional_text("bio", Some("    "), 3).is_err(), "blank but too long");
    }

    #[test]
    fn errors_name_the_field() {
        let err = text("subject", "", 1, 10).unwrap_err();
        assert_eq!(err.to_string(), "subject: must not be empty");
    }
}
