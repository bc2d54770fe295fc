//! Time helpers for scripts: `now()`, `parse_date(s)` and `days_between(a, b)`. Dates stay
//! strings in Rhai (they live in tag values and maps); every date this file returns is
//! `YYYY-MM-DDTHH:MM:SSZ` in UTC, fixed-width, so that comparing two strings compares the times.
//! Knows the `time` crate and Rhai; nothing of ARM.

use rhai::{Engine, EvalAltResult};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::api::FnDoc;
use super::convert::arm_error;
use crate::arm::ArmError;

/// `now()`.
pub const NOW: FnDoc = FnDoc {
    name: "now",
    params: &[],
    returns: "String",
    doc: "The current time in UTC, as YYYY-MM-DDTHH:MM:SSZ.",
    example: r#"now().sub_string(0, 4)"#,
};

/// `parse_date(text)`.
pub const PARSE_DATE: FnDoc = FnDoc {
    name: "parse_date",
    params: &["text: &str"],
    returns: "String",
    doc: "Reads an RFC 3339 date-time (any offset; no offset means UTC) or a date (YYYY-MM-DD, midnight UTC) and returns it as YYYY-MM-DDTHH:MM:SSZ in UTC; fails on anything else.",
    example: r#"parse_date("2025-03-01T01:30:00+02:00")"#,
};

/// `days_between(from, to)`.
pub const DAYS_BETWEEN: FnDoc = FnDoc {
    name: "days_between",
    params: &["from: &str", "to: &str"],
    returns: "i64",
    doc: "Whole days from one date to another, rounded down: negative when `to` is earlier, so days_between(now(), d) < 0 exactly when d has passed.",
    example: r#"days_between("2025-01-01", "2025-03-01")"#,
};

/// What a date must look like, for error messages.
const EXPECTED: &str =
    "expected an RFC 3339 date-time such as 2025-01-31T12:00:00Z, or a date such as 2025-01-31";

/// Registers `now`, `parse_date` and `days_between`.
pub fn register(engine: &mut Engine) {
    NOW.registration()
        .register_into_engine(engine, || format_utc(OffsetDateTime::now_utc()));
    PARSE_DATE.registration().register_into_engine(
        engine,
        |text: &str| -> Result<String, Box<EvalAltResult>> {
            parse(text).map(format_utc).map_err(arm_error)
        },
    );
    DAYS_BETWEEN.registration().register_into_engine(
        engine,
        |from: &str, to: &str| -> Result<i64, Box<EvalAltResult>> {
            let (from, to) = (
                parse(from).map_err(arm_error)?,
                parse(to).map_err(arm_error)?,
            );
            Ok(days_between(from, to))
        },
    );
}

/// Reads a date-time with an offset, one without (UTC), or a bare date (midnight UTC).
pub fn parse(text: &str) -> Result<OffsetDateTime, ArmError> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let naive = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(text, naive) {
        return Ok(t.assume_utc());
    }
    let date = format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(text, date) {
        return Ok(d.midnight().assume_utc());
    }
    Err(ArmError::invalid("date", text, EXPECTED))
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC (fractions of a second dropped, so the width never changes).
pub fn format_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Whole days from `from` to `to`, rounded towards the past.
pub fn days_between(from: OffsetDateTime, to: OffsetDateTime) -> i64 {
    (to - from).whole_seconds().div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_iso_forms_and_normalises_to_utc() {
        let cases = [
            ("2025-03-01", "2025-03-01T00:00:00Z"),
            ("2025-03-01T10:20:30Z", "2025-03-01T10:20:30Z"),
            ("2025-03-01T01:30:00+02:00", "2025-02-28T23:30:00Z"),
            ("2025-03-01T10:20:30.999Z", "2025-03-01T10:20:30Z"),
            ("2025-03-01T10:20:30", "2025-03-01T10:20:30Z"),
            (" 2025-03-01 ", "2025-03-01T00:00:00Z"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse(input).map(format_utc).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in ["next-friday", "2025-13-01", "2025-02-30", "01/02/2025", ""] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code(), "InvalidArgument", "{bad}");
            assert!(e.to_string().contains(&format!("'{}'", bad.trim())), "{e}");
        }
    }

    #[test]
    fn days_round_down() {
        let d = |s: &str| parse(s).unwrap();
        assert_eq!(days_between(d("2025-01-01"), d("2025-03-01")), 59);
        assert_eq!(days_between(d("2025-03-01"), d("2025-01-01")), -59);
        assert_eq!(
            days_between(d("2025-01-01T00:00:00Z"), d("2025-01-01T23:59:59Z")),
            0
        );
        assert_eq!(
            days_between(d("2025-01-02T00:00:00Z"), d("2025-01-01T23:00:00Z")),
            -1,
            "an hour in the past is already a day ago"
        );
        assert_eq!(
            days_between(d("2024-02-28"), d("2024-03-01")),
            2,
            "leap year"
        );
    }

    #[test]
    fn the_format_sorts_as_time_does() {
        let a = format_utc(parse("2025-01-01T09:00:00+05:00").unwrap());
        let b = format_utc(parse("2025-01-01T05:00:00Z").unwrap());
        assert!(a < b, "{a} {b}");
    }
}
