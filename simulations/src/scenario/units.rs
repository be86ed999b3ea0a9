//! The two kinds of quantity written as strings in a scenario: durations ("30s") and bandwidths
//! ("10Mbit"). Each parser names the field it reads, so a typo points at its place.

use std::time::Duration;

use crate::error::{Error, invalid};

/// Reads a duration such as `"500ms"`, `"30s"`, `"2m"` or `"1h"`: a whole number and one unit, so there is
/// one way to write each value and no float rounding in a schedule.
pub(crate) fn duration(field: &str, text: &str) -> Result<Duration, Error> {
    let refuse = || {
        invalid(
            field,
            format!(
                "{text:?} is not a duration: write a whole number and a unit ms, s, m or h, such as \"500ms\" or \"30s\""
            ),
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(refuse)?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(refuse());
    }
    let value: u64 = number.parse().map_err(|_| refuse())?;
    let millis_per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(refuse()),
    };
    let millis = value
        .checked_mul(millis_per_unit)
        .ok_or_else(|| invalid(field, format!("{text:?} is too long")))?;
    Ok(Duration::from_millis(millis))
}

/// Same as [`duration`], for a field that may be left out.
pub(crate) fn optional_duration(field: &str, text: Option<&str>) -> Result<Option<Duration>, Error> {
    text.map(|text| duration(field, text)).transpose()
}

/// Same as [`duration`], for a span that must last (a restart delay, a flood): zero would make a
/// fault and its end one instant.
pub(crate) fn positive_duration(field: &str, text: &str) -> Result<Duration, Error> {
    let value = duration(field, text)?;
    if value.is_zero() {
        return Err(invalid(field, format!("must be > 0, got {text:?}")));
    }
    Ok(value)
}

/// Same as [`positive_duration`], for a field that may be left out.
pub(crate) fn optional_positive_duration(field: &str, text: Option<&str>) -> Result<Option<Duration>, Error> {
    text.map(|text| positive_duration(field, text)).transpose()
}

/// Reads a bandwidth such as `"10Mbit"` or `"1.5Gbit"` (per second) into bytes per second, the unit a
/// link model spends. Units are bits, as network links are quoted; the unit's case does not matter.
pub(crate) fn bandwidth(field: &str, text: &str) -> Result<u64, Error> {
    let refuse = || {
        invalid(
            field,
            format!(
                "{text:?} is not a bandwidth: write a number and a unit bit, kbit, Mbit or Gbit (per second), such as \"10Mbit\""
            ),
        )
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(refuse)?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| refuse())?;
    let bits_per_unit = match unit.to_ascii_lowercase().as_str() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        _ => return Err(refuse()),
    };
    let bytes = value * bits_per_unit / 8.0;
    if !(1.0..=1e12).contains(&bytes) {
        return Err(invalid(
            field,
            format!("must be between 8bit and 8000Gbit, got {text:?}"),
        ));
    }
    // In range, so the cast neither saturates nor loses more than the fraction of a byte.
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(duration("f", "500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("f", "30s").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("f", "2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("f", "1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(duration("f", "0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn malformed_durations_name_the_field() {
        for text in [
            "",
            "30",
            "s",
            "1.5s",
            "-1s",
            "30 s",
            "30sec",
            "1d",
            "99999999999999999999s",
        ] {
            let message = duration("traffic.start_after", text).unwrap_err().to_string();
            assert!(message.starts_with("traffic.start_after: "), "{text:?}: {message}");
        }
        let message = positive_duration("faults[0].restart_after", "0ms")
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("faults[0].restart_after: must be > 0"), "{message}");
    }

    #[test]
    fn bandwidths_become_bytes_per_second() {
        assert_eq!(bandwidth("f", "10Mbit").unwrap(), 1_250_000);
        assert_eq!(bandwidth("f", "1.5Gbit").unwrap(), 187_500_000);
        assert_eq!(bandwidth("f", "64kbit").unwrap(), 8_000);
        assert_eq!(bandwidth("f", "800bit").unwrap(), 100);
        for text in ["10", "10MB", "Mbit", "0Mbit", "1.2.3Mbit", "10 Mbit"] {
            let message = bandwidth("network.bandwidth", text).unwrap_err().to_string();
            assert!(message.starts_with("network.bandwidth: "), "{text:?}: {message}");
        }
    }
}
