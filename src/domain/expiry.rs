//! When an outbound text stops being worth sending: `expires_at` (RFC 3339) or `validity_s`
//! (seconds after the text is due: its `send_at`, or when it was accepted). A text not sent by
//! then is not sent (status `expired`); one sent in time tells Twilio how long it may still
//! queue it (`ValidityPeriod`, 1 to 36,000 s), so Twilio drops it too when its own queue is late.

use super::outbound::{parse_time, FieldError};

/// Longest `validity_s`: a year.
pub const MAX_VALIDITY_S: u64 = 366 * 24 * 3600;

/// Twilio's bounds on `ValidityPeriod` (seconds).
pub(crate) const MIN_VALIDITY_PERIOD_S: u64 = 1;
pub(crate) const MAX_VALIDITY_PERIOD_S: u64 = 36_000;

/// The expiry (ms since the epoch) a text's `expires_at` or `validity_s` gives, for a text due
/// at `due` (ms); each problem is pushed to `errors`.
pub(super) fn check_expiry(
    expires_at: Option<&str>,
    validity_s: Option<u64>,
    due: u64,
    now: u64,
    errors: &mut Vec<FieldError>,
) -> Option<u64> {
    match (expires_at, validity_s) {
        (None, None) => None,
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "validity_s",
                "give expires_at or validity_s, not both",
            ));
            None
        }
        (None, Some(seconds)) => {
            if !(1..=MAX_VALIDITY_S).contains(&seconds) {
                errors.push(FieldError::new(
                    "validity_s",
                    format!("must be a whole number of seconds from 1 to {MAX_VALIDITY_S}"),
                ));
                return None;
            }
            Some(due + seconds * 1000)
        }
        (Some(at), None) => match parse_time(at, now) {
            Err(message) => {
                errors.push(FieldError::new("expires_at", message));
                None
            }
            Ok(ms) if ms <= due => {
                errors.push(FieldError::new(
                    "expires_at",
                    "must be after the text is due (send_at, or now)",
                ));
                None
            }
            Ok(ms) => Some(ms),
        },
    }
}

/// `ValidityPeriod` for a text that expires at `expires_at` (ms), sent at `now`: the whole
/// seconds left, within Twilio's 1 to 36,000.
pub(crate) fn validity_period(expires_at: u64, now: u64) -> u64 {
    let left_s = expires_at.saturating_sub(now) / 1000;
    left_s.clamp(MIN_VALIDITY_PERIOD_S, MAX_VALIDITY_PERIOD_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000_000;

    fn check(
        expires_at: Option<&str>,
        validity_s: Option<u64>,
        due: u64,
    ) -> Result<Option<u64>, Vec<String>> {
        let mut errors = Vec::new();
        let expiry = check_expiry(expires_at, validity_s, due, NOW, &mut errors);
        if errors.is_empty() {
            Ok(expiry)
        } else {
            Err(errors
                .into_iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect())
        }
    }

    #[test]
    fn validity_counts_from_when_the_text_is_due() {
        assert_eq!(check(None, Some(60), NOW), Ok(Some(NOW + 60_000)));
        assert_eq!(check(None, Some(60), NOW + 5_000), Ok(Some(NOW + 65_000)));
        assert_eq!(check(None, None, NOW), Ok(None));
    }

    #[test]
    fn bad_or_contradictory_expiries_are_named() {
        assert!(check(None, Some(0), NOW).unwrap_err()[0].starts_with("validity_s"));
        assert!(check(None, Some(MAX_VALIDITY_S + 1), NOW).is_err());
        let both = check(Some("2026-12-01T09:00:00Z"), Some(5), NOW).unwrap_err();
        assert!(both[0].contains("not both"), "{both:?}");
        let past = check(Some("2020-01-01T00:00:00Z"), None, NOW).unwrap_err();
        assert!(past[0].starts_with("expires_at"), "{past:?}");
        assert!(check(Some("soon"), None, NOW).is_err());
    }

    #[test]
    fn the_validity_period_is_the_seconds_left_within_twilios_bounds() {
        assert_eq!(validity_period(NOW + 90_500, NOW), 90);
        assert_eq!(validity_period(NOW + 200, NOW), 1);
        assert_eq!(validity_period(NOW + 50_000_000, NOW), 36_000);
    }
}
