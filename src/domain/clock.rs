//! Wall-clock helpers: milliseconds since the epoch, RFC 3339 times, Twilio's RFC 2822 dates, and the
//! `YYYY-MM-DD` days its `DateSent>=` filter takes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// `ms` as RFC 3339 in UTC, to the millisecond.
pub fn rfc3339(ms: u64) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Parses Twilio's `date_created` (`Thu, 30 Jul 2015 20:12:31 +0000`) into ms since the epoch.
pub(crate) fn parse_twilio_date(text: &str) -> Option<u64> {
    let text = text.trim();
    let gmt = text
        .strip_suffix("+0000")
        .map(|t| format!("{t}GMT"))
        .unwrap_or_else(|| text.to_string());
    let time = httpdate::parse_http_date(&gmt).ok()?;
    time.duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as u64)
}

/// The UTC day of a time given in ms since the epoch, as `YYYY-MM-DD`.
pub fn utc_day(ms: u64) -> String {
    let days = (Duration::from_millis(ms).as_secs() / 86_400) as i64;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_twilio_dates_and_formats_days() {
        let ms = parse_twilio_date("Thu, 30 Jul 2015 20:12:31 +0000").unwrap();
        assert_eq!(ms, 1_438_287_151_000);
        assert_eq!(utc_day(ms), "2015-07-30");
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(951_782_400_000), "2000-02-29");
        assert!(parse_twilio_date("yesterday").is_none());
    }
}
