//! Quiet hours: a topic's `send_window` (a start and an end time of day, and the days it
//! opens), checked in the recipient's local time. A text due outside it is held until it next
//! opens. The recipient's zone comes from the text's own `timezone`, else from the number (see
//! [`super::zones`]); a number that could be in several zones is held to the window of all of
//! them at once (the strictest), and one whose zones are unknown to the window of the topic's
//! `default_timezone`.

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Day names as settings write them, Monday first.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Rounds a search for a moment open in every zone of a number makes before it gives up.
const MAX_ROUNDS: usize = 32;

/// A window of local time: open from `start` (inclusive) to `end` (exclusive) on `days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    /// Minutes after midnight.
    start: u16,
    /// Minutes after midnight, after `start`.
    end: u16,
    /// Monday first.
    days: [bool; 7],
}

/// A window as settings and requests write it: `{ start = "08:00", end = "21:00", days = [...] }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Opens, local time (`HH:MM`).
    pub start: String,
    /// Closes, local time (`HH:MM`, after `start`; `24:00` for midnight).
    pub end: String,
    /// The days it opens (`mon` ... `sun`); unset: every day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<String>>,
}

impl WindowSpec {
    /// The window it describes, or what is wrong with it.
    pub fn parse(&self) -> Result<SendWindow, String> {
        SendWindow::parse(&self.start, &self.end, self.days.as_deref())
    }
}

/// A topic's window with the zone of recipients whose zone is unknown.
#[derive(Debug, Clone)]
pub struct TopicWindow {
    /// The window.
    pub window: SendWindow,
    /// `default_timezone` (UTC when unset).
    pub default_zone: TimeZone,
}

/// An IANA time zone by name (`America/New_York`), from the database compiled in.
pub fn zone_named(name: &str) -> Result<TimeZone, String> {
    let plausible = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b));
    if !plausible {
        return Err("must be an IANA time zone name such as America/New_York".into());
    }
    TimeZone::get(name).map_err(|_| format!("`{name}` is not a time zone this build knows"))
}

fn minutes(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    // 24:00 ends a window at midnight.
    ((h < 24 && m < 60) || (h == 24 && m == 0)).then_some(h * 60 + m)
}

/// The full English name of a day given by its first three letters.
fn full_day(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

fn day_index(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

impl SendWindow {
    /// A window from `start` to `end` (`HH:MM`, end after start, `24:00` for midnight) on
    /// `days` (`mon` ... `sun`; none given: every day).
    pub fn parse(start: &str, end: &str, days: Option<&[String]>) -> Result<SendWindow, String> {
        let start_at = minutes(start).filter(|m| *m < 24 * 60);
        let (Some(start_at), Some(end_at)) = (start_at, minutes(end)) else {
            return Err("`start` and `end` must be times of day as HH:MM, such as 08:00".into());
        };
        if end_at <= start_at {
            return Err("`end` must be after `start` (a window does not cross midnight)".into());
        }
        let mut open = [days.is_none(); 7];
        for day in days.unwrap_or_default() {
            let name = day.trim().to_ascii_lowercase();
            match DAY_NAMES
                .iter()
                .position(|d| name == *d || full_day(d) == name)
            {
                Some(index) => open[index] = true,
                None => {
                    return Err(format!(
                        "`days` must name days as {}, got `{day}`",
                        DAY_NAMES.join(", ")
                    ))
                }
            }
        }
        if !open.contains(&true) {
            return Err("`days` must name at least one day".into());
        }
        Ok(SendWindow {
            start: start_at,
            end: end_at,
            days: open,
        })
    }

    /// Whether the window is open at `at` in `zone`.
    pub fn is_open(&self, at: Timestamp, zone: &TimeZone) -> bool {
        let local = at.to_zoned_datetime(zone.clone());
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        self.days[day_index(local.weekday())] && (self.start..self.end).contains(&minute)
    }

    /// The first moment from `at` on when the window is open in `zone` (`at` itself when open).
    pub fn next_open(&self, at: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        if self.is_open(at, zone) {
            return Some(at);
        }
        let today = at.to_zoned_datetime(zone.clone()).date();
        let (hour, minute) = ((self.start / 60) as i8, (self.start % 60) as i8);
        (0..=8).find_map(|ahead| {
            let day = today.checked_add(ahead.days()).ok()?;
            if !self.days[day_index(day.weekday())] {
                return None;
            }
            // A start inside a clock change's gap moves to the first moment after it.
            let opens = zone
                .to_zoned_datetime(day.at(hour, minute, 0, 0))
                .ok()?
                .timestamp();
            (opens > at).then_some(opens)
        })
    }

    /// The first moment from `at` on when the window is open in every one of `zones` (`None`
    /// when there is no such moment within a few weeks: zones too far apart).
    pub fn next_open_in_all(&self, at: Timestamp, zones: &[TimeZone]) -> Option<Timestamp> {
        let mut candidate = at;
        for _ in 0..MAX_ROUNDS {
            let mut latest = candidate;
            for zone in zones {
                latest = latest.max(self.next_open(candidate, zone)?);
            }
            if zones.iter().all(|zone| self.is_open(latest, zone)) {
                return Some(latest);
            }
            // Open somewhere, closed elsewhere: look from the next minute on.
            candidate = latest.checked_add(1.minute()).ok()?;
        }
        None
    }
}

/// How a text's zone was found, for its hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSource {
    /// The text's own `timezone`.
    Given,
    /// The number's only zone.
    Number,
    /// The number could be in several zones: all of them.
    Country,
    /// Unknown: the topic's `default_timezone`.
    Default,
}

impl TopicWindow {
    /// When a text to `to` (with its own `timezone`, if any) due at `due_ms` may go: `due_ms`
    /// itself when the window is open then, else when it next opens (ms since the epoch).
    pub fn opening(&self, to: &str, timezone: Option<&TimeZone>, due_ms: u64) -> (u64, ZoneSource) {
        let Ok(at) = Timestamp::from_millisecond(due_ms as i64) else {
            return (due_ms, ZoneSource::Default);
        };
        let (zones, source) = match timezone {
            Some(zone) => (vec![zone.clone()], ZoneSource::Given),
            None => {
                let zones: Vec<TimeZone> = super::zones::zone_names(to)
                    .iter()
                    .filter_map(|name| TimeZone::get(name).ok())
                    .collect();
                match zones.len() {
                    0 => (Vec::new(), ZoneSource::Default),
                    1 => (zones, ZoneSource::Number),
                    _ => (zones, ZoneSource::Country),
                }
            }
        };
        let strict = match zones.is_empty() {
            true => None,
            false => self.window.next_open_in_all(at, &zones),
        };
        // No zone, or zones so far apart that no moment is open in all: the default zone's.
        let (opens, source) = match strict {
            Some(opens) => (opens, source),
            None => {
                let opens = self.window.next_open(at, &self.default_zone).unwrap_or(at);
                (opens, ZoneSource::Default)
            }
        };
        (opens.as_millisecond().max(0) as u64, source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u64 {
        text.parse::<Timestamp>().unwrap().as_millisecond() as u64
    }

    fn nine_to_nine() -> TopicWindow {
        TopicWindow {
            window: SendWindow::parse("08:00", "21:00", None).unwrap(),
            default_zone: TimeZone::get("UTC").unwrap(),
        }
    }

    #[test]
    fn a_window_is_parsed_or_refused_with_a_reason() {
        assert!(SendWindow::parse("08:00", "21:00", None).is_ok());
        assert!(SendWindow::parse("00:00", "24:00", Some(&["Mon".into()])).is_ok());
        for (start, end) in [("8:00", "21:00"), ("21:00", "08:00"), ("08:00", "08:00")] {
            assert!(
                SendWindow::parse(start, end, None).is_err(),
                "{start}-{end}"
            );
        }
        assert!(SendWindow::parse("08:00", "21:00", Some(&["someday".into()])).is_err());
        assert!(SendWindow::parse("08:00", "21:00", Some(&["month".into()])).is_err());
        assert!(SendWindow::parse("08:00", "21:00", Some(&["Friday".into()])).is_ok());
        assert!(SendWindow::parse("08:00", "21:00", Some(&[])).is_err());
        assert!(zone_named("America/New_York").is_ok());
        assert!(zone_named("Mars/Olympus").is_err());
        assert!(zone_named("../../etc/passwd").is_err());
    }

    #[test]
    fn a_text_due_at_night_waits_for_the_morning_of_its_area_code() {
        let window = nine_to_nine();
        // 03:00 in New York (EST, UTC-5) on a Thursday: opens at 08:00 local, 13:00 UTC.
        let (opens, source) = window.opening("+12125550100", None, ms("2026-12-03T08:00:00Z"));
        assert_eq!(opens, ms("2026-12-03T13:00:00Z"));
        assert_eq!(source, ZoneSource::Number);
        // 14:00 in Los Angeles: open now.
        let due = ms("2026-12-03T22:00:00Z");
        assert_eq!(window.opening("+13105550100", None, due).0, due);
        // 22:00 in New York: tomorrow at 08:00.
        let (opens, _) = window.opening("+12125550100", None, ms("2026-12-04T03:00:00Z"));
        assert_eq!(opens, ms("2026-12-04T13:00:00Z"));
    }

    #[test]
    fn the_texts_own_zone_wins_and_days_are_skipped() {
        let weekdays: Vec<String> = ["mon", "tue", "wed", "thu", "fri"].map(String::from).into();
        let window = TopicWindow {
            window: SendWindow::parse("09:00", "17:00", Some(&weekdays)).unwrap(),
            default_zone: TimeZone::get("UTC").unwrap(),
        };
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        // Saturday 10:00 in Tokyo (01:00 UTC): Monday 09:00 Tokyo, Monday 00:00 UTC.
        let (opens, source) =
            window.opening("+12125550100", Some(&tokyo), ms("2026-12-05T01:00:00Z"));
        assert_eq!(opens, ms("2026-12-07T00:00:00Z"));
        assert_eq!(source, ZoneSource::Given);
    }

    #[test]
    fn a_number_of_several_zones_waits_until_all_are_open_and_an_unknown_one_uses_the_default() {
        let window = nine_to_nine();
        // +618 8 may be Adelaide (UTC+10:30 in December) or Perth (UTC+8): open in both once
        // Perth reaches 08:00, 00:00 UTC.
        let (opens, source) = window.opening("+61885501000", None, ms("2026-12-03T20:00:00Z"));
        assert_eq!(source, ZoneSource::Country);
        assert_eq!(opens, ms("2026-12-04T00:00:00Z"));
        // A calling code with no zone: the default zone's window (UTC).
        let (opens, source) = window.opening("+999555", None, ms("2026-12-03T22:00:00Z"));
        assert_eq!(source, ZoneSource::Default);
        assert_eq!(opens, ms("2026-12-04T08:00:00Z"));
    }
}
