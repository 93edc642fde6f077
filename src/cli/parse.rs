//! What people type, read for the API: ids, durations (`90s`, `15m`, `1h`, `3600`) and
//! times (RFC 3339, a date, or a duration ago). Each is a clap value parser, so a bad value
//! is a usage error (exit 2) naming the argument.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use uuid::Uuid;

/// Longest duration accepted: far beyond any grant the executor allows, and small enough
/// that no arithmetic on it overflows.
const MAX_SECONDS: u64 = 100 * 365 * 24 * 3600;

/// An approval, grant or audit id: a UUID.
pub fn id(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text.trim())
        .map_err(|_| format!("`{text}` is not an id (expected a UUID such as 0190b7a2-…)"))
}

/// A duration in seconds: `3600`, `90s`, `15m`, `1h`, `2d`, or a sum such as `1h30m`.
pub fn duration(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a duration (write 90s, 15m, 1h, 2d, 1h30m or 3600)");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= MAX_SECONDS)
            .ok_or_else(bad);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .filter(|s| *s <= MAX_SECONDS)
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() {
        // `1h30`: a number without its unit after one with a unit is ambiguous.
        return Err(bad());
    }
    Ok(total)
}

/// A grant's TTL: a [`duration`] of at least one second.
pub fn ttl(text: &str) -> Result<u64, String> {
    match duration(text)? {
        0 => Err("a grant lasts at least 1s".to_owned()),
        seconds => Ok(seconds),
    }
}

/// A time for the audit API, as RFC 3339 in UTC: an RFC 3339 time, a date (`2026-01-31`,
/// midnight UTC), or a [`duration`] meaning that long ago (`1h`).
pub fn time(text: &str) -> Result<String, String> {
    time_at(text, Utc::now())
}

/// [`time`] with `now` given.
pub fn time_at(text: &str, now: DateTime<Utc>) -> Result<String, String> {
    let text = text.trim();
    let at = if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        at.with_timezone(&Utc)
    } else if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        date.and_time(chrono::NaiveTime::MIN).and_utc()
    } else if let Ok(ago) = duration(text) {
        let ago = i64::try_from(ago).map_err(|e| e.to_string())?;
        now.checked_sub_signed(TimeDelta::seconds(ago))
            .ok_or_else(|| format!("`{text}` ago is too long ago"))?
    } else {
        return Err(format!(
            "`{text}` is not a time (write 2026-01-31T08:00:00Z, 2026-01-31, or 2h for two hours ago)"
        ));
    };
    Ok(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Seconds in the shortest of the forms [`duration`] reads: `3600` → `1h`, `5400` →
/// `1h30m`, `0` → `0s`.
pub fn human_seconds(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = seconds;
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_in_every_form_people_write() {
        for (text, seconds) in [
            ("3600", 3600),
            ("90s", 90),
            ("15m", 900),
            ("1h", 3600),
            ("2d", 172_800),
            ("1h30m", 5400),
            (" 45s ", 45),
            ("0", 0),
        ] {
            assert_eq!(duration(text), Ok(seconds), "{text}");
        }
        for bad in [
            "",
            "h",
            "1x",
            "1h30",
            "-5m",
            "1.5h",
            "99999999999999999999d",
            "1 h",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert!(ttl("0s").is_err());
        assert_eq!(ttl("1h"), Ok(3600));
    }

    #[test]
    fn seconds_are_shown_in_the_same_forms() {
        assert_eq!(human_seconds(3600), "1h");
        assert_eq!(human_seconds(5400), "1h30m");
        assert_eq!(human_seconds(90), "1m30s");
        assert_eq!(human_seconds(0), "0s");
        assert_eq!(duration(&human_seconds(93_784)), Ok(93_784));
    }

    #[test]
    fn times_are_sent_in_utc() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            time_at("2026-01-31T09:00:00+01:00", now).unwrap(),
            "2026-01-31T08:00:00Z"
        );
        assert_eq!(time_at("2026-01-31", now).unwrap(), "2026-01-31T00:00:00Z");
        assert_eq!(time_at("2h", now).unwrap(), "2026-03-01T10:00:00Z");
        assert!(time_at("yesterday", now).is_err());
    }

    #[test]
    fn ids_are_uuids() {
        assert!(id("0190b7a2-3c4d-7e8f-9a0b-1c2d3e4f5a6b").is_ok());
        assert!(id("../audit").is_err());
    }
}
