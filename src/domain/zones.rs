//! Which time zones a phone number may be in, from the prefix table of Google's libphonenumber
//! (`timezones.txt`: its `resources/timezones/map_data.txt`, Apache 2.0, kept as it is; refresh
//! it with `scripts/update-timezones`). Each line maps a prefix of the number's digits (calling
//! code, and for +1 the area code and sometimes the exchange) to one or more IANA zones; the
//! longest prefix that matches wins.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The table, as libphonenumber publishes it.
const TABLE: &str = include_str!("timezones.txt");

/// Prefix → zone names, and the longest prefix.
static PREFIXES: LazyLock<(HashMap<&'static str, Vec<&'static str>>, usize)> =
    LazyLock::new(|| {
        let mut map = HashMap::new();
        let mut longest = 0;
        for line in TABLE.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((prefix, zones)) = line.split_once('|') else {
                continue;
            };
            longest = longest.max(prefix.len());
            map.insert(prefix, zones.split('&').collect());
        }
        (map, longest)
    });

/// The zones `number` (E.164) may be in; empty when its calling code has none in the table.
pub fn zone_names(number: &str) -> &'static [&'static str] {
    let digits = number.trim_start_matches('+');
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return &[];
    }
    let (map, longest) = &*PREFIXES;
    (1..=digits.len().min(*longest))
        .rev()
        .find_map(|len| map.get(&digits[..len]))
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_codes_and_calling_codes_name_their_zones() {
        assert_eq!(zone_names("+12125550100"), ["America/New_York"]);
        assert_eq!(zone_names("+13105550100"), ["America/Los_Angeles"]);
        assert_eq!(zone_names("+33612345678"), ["Europe/Paris"]);
        assert!(
            zone_names("+15555550100").len() > 1,
            "no such area code: all of +1"
        );
        assert!(zone_names("+999123").is_empty());
        assert!(zone_names("+1a").is_empty());
    }

    #[test]
    fn every_zone_in_the_table_is_known_to_the_compiled_in_database() {
        let (map, _) = &*PREFIXES;
        let mut unknown: Vec<&str> = map
            .values()
            .flatten()
            .copied()
            .filter(|name| jiff::tz::TimeZone::get(name).is_err())
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        assert!(
            unknown.is_empty(),
            "zones the tz database lacks: {unknown:?}"
        );
    }
}
