//! UTC time stamps of Unix times, on the workspace's one calendar ([`overlay::date`]): run ids
//! and the original report's time stamps.

use overlay::date::DateKey;

/// Days from 1970-01-01 to 9999-12-31, the last day a [`DateKey`] holds; later times are
/// stamped with that day.
const LAST_DAY: u64 = 2_932_896;

/// `YYYYMMDD-HHMMSS` (UTC) of a Unix time in seconds.
pub fn stamp(unix_s: u64) -> String {
    let secs = unix_s % 86_400;
    format!(
        "{}-{:02}{:02}{:02}",
        civil_day(unix_s / 86_400),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The calendar day `days` after 1970-01-01, counted on [`DateKey`]'s calendar.
fn civil_day(days: u64) -> DateKey {
    let mut day = DateKey::from_ymd(1970, 1, 1).expect("1970-01-01 is a calendar day");
    for _ in 0..days.min(LAST_DAY) {
        day = day.next_day();
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(stamp(0), "19700101-000000");
        assert_eq!(stamp(951_782_400 + 3_661), "20000229-010101");
        assert_eq!(stamp(1_735_689_599), "20241231-235959");
        assert_eq!(stamp(4_102_444_800), "21000101-000000");
    }

    #[test]
    fn times_past_the_calendar_stop_at_its_last_day() {
        assert!(stamp(u64::MAX).starts_with("99991231-"));
    }
}
