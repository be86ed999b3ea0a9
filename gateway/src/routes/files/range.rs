//! `Range: bytes=…` (RFC 9110 §14): one range of a file of known size. A header this node does not
//! serve (another unit, several ranges, bad syntax) is ignored and the whole file is sent, as the RFC
//! allows.

/// What to send.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ranged {
    /// The whole file (200).
    Full,
    /// Bytes `start..=end` (206).
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// The range lies outside the file (416).
    Unsatisfiable,
}

/// A non-negative decimal without sign or spaces.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads a `Range` header against a file of `size` bytes.
pub(super) fn parse(header: Option<&str>, size: u64) -> Ranged {
    let Some(header) = header.map(str::trim) else {
        return Ranged::Full;
    };
    let Some((unit, spec)) = header.split_once('=') else {
        return Ranged::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // `-n`: the last n bytes.
        return match number(last) {
            None => Ranged::Full,
            Some(0) => Ranged::Unsatisfiable,
            Some(_) if size == 0 => Ranged::Unsatisfiable,
            Some(suffix) => Ranged::Partial {
                start: size - suffix.min(size),
                end: size - 1,
            },
        };
    }
    let Some(start) = number(first) else {
        return Ranged::Full;
    };
    let end = if last.is_empty() {
        None
    } else {
        match number(last) {
            Some(end) if end >= start => Some(end),
            _ => return Ranged::Full,
        }
    };
    if start >= size {
        return Ranged::Unsatisfiable;
    }
    Ranged::Partial {
        start,
        end: end.map_or(size - 1, |end| end.min(size - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(start: u64, end: u64) -> Ranged {
        Ranged::Partial { start, end }
    }

    #[test]
    fn single_ranges_are_served() {
        assert_eq!(parse(Some("bytes=0-99"), 1000), partial(0, 99));
        assert_eq!(parse(Some("bytes=500-"), 1000), partial(500, 999));
        assert_eq!(parse(Some("bytes=900-5000"), 1000), partial(900, 999));
        assert_eq!(parse(Some("bytes=-100"), 1000), partial(900, 999));
        assert_eq!(parse(Some("bytes=-5000"), 1000), partial(0, 999));
        assert_eq!(parse(Some("Bytes = 3-3"), 1000), partial(3, 3));
    }

    #[test]
    fn ranges_outside_the_file_are_unsatisfiable() {
        assert_eq!(parse(Some("bytes=1000-"), 1000), Ranged::Unsatisfiable);
        assert_eq!(parse(Some("bytes=1000-2000"), 1000), Ranged::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 1000), Ranged::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-10"), 0), Ranged::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-"), 0), Ranged::Unsatisfiable);
    }

    #[test]
    fn headers_not_served_mean_the_whole_file() {
        for header in [
            None,
            Some("bytes=0-1,5-6"),
            Some("items=0-1"),
            Some("bytes=5-1"),
            Some("bytes=+1-2"),
            Some("bytes=a-b"),
            Some("bytes=-"),
            Some("bytes"),
        ] {
            assert_eq!(parse(header, 1000), Ranged::Full, "{header:?}");
        }
    }
}
