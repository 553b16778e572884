//! SMS segments: how a body is encoded on the air (GSM-7 or UCS-2), how many segments Twilio
//! bills and rate-limits it as, and how a long reply is split into bodies Twilio accepts.
//!
//! The sender uses [`split`] to cut long handler replies into bodies of at most
//! [`MAX_BODY_CHARS`]; records and metrics show the [`SegmentInfo`] from [`analyze`], because
//! Twilio's per-sender throughput is counted in segments, not messages. Pure functions, no I/O.

use crate::twilio::gsm::{is_gsm7, is_gsm7_extension};

/// How a text is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// GSM 03.38 septets; extension-table characters cost two.
    Gsm7,
    /// UTF-16 code units; a character outside the BMP costs two.
    Ucs2,
}

/// Encoding and segment count of one message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentInfo {
    /// The encoding the whole body needs.
    pub encoding: Encoding,
    /// Segments the body is sent as (at least 1).
    pub segments: u32,
    /// Size of the body in septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: u32,
}

/// Twilio's limit for one message body, in characters.
pub const MAX_BODY_CHARS: usize = 1600;

/// Analyzes `text`: GSM-7 when every char is in the GSM 03.38 alphabet (extension-table chars
/// cost 2 septets), else UCS-2 (UTF-16 code units: an emoji outside the BMP costs 2). GSM-7
/// fits 160 septets in one segment, 153 per segment when split; UCS-2 70 units, 67 when split.
/// An empty text is 1 segment of GSM-7 with 0 units.
///
/// An escape pair or a surrogate pair is never cut across two segments, so a split body that
/// has one straddling a boundary takes one segment more than `units / 153` (or `/ 67`) suggests.
pub fn analyze(text: &str) -> SegmentInfo {
    let (encoding, single, per_part) = if text.chars().all(is_gsm7) {
        (Encoding::Gsm7, 160, 153)
    } else {
        (Encoding::Ucs2, 70, 67)
    };
    let cost = |c: char| -> u32 {
        match encoding {
            Encoding::Gsm7 if is_gsm7_extension(c) => 2,
            Encoding::Gsm7 => 1,
            Encoding::Ucs2 => c.len_utf16() as u32,
        }
    };
    let units: u32 = text.chars().map(cost).sum();
    let segments = if units <= single {
        1
    } else {
        // Greedy packing, so a two-unit char starts a new segment rather than straddling one.
        let (mut segments, mut used) = (1, 0);
        for c in text.chars().map(cost) {
            if used + c > per_part {
                segments += 1;
                used = 0;
            }
            used += c;
        }
        segments
    };
    SegmentInfo {
        encoding,
        segments,
        units,
    }
}

/// Splits a reply longer than `max_chars` characters into parts of at most `max_chars`
/// characters each, breaking at word boundaries (the last whitespace before the limit; the
/// whitespace run at a break is dropped) and hard-breaking a word longer than the limit. A hard
/// break backs off so a base keeps its combining marks (and a ZWJ its neighbours) when the part
/// can still hold something; it never falls inside a `char`, so never inside a surrogate pair.
///
/// A text within the limit comes back as one part, unchanged; an empty text gives no parts.
/// In a longer text leading whitespace is dropped as at a break, so no part is empty or only
/// whitespace, and an all-whitespace text gives no parts. Joining the parts with a single space
/// reproduces the text when it was split only at single spaces. `max_chars` 0 is treated as 1.
pub fn split(text: &str, max_chars: usize) -> Vec<String> {
    let max = max_chars.max(1);
    if text.is_empty() {
        return Vec::new();
    }
    if text.chars().nth(max).is_none() {
        return vec![text.to_owned()];
    }
    let mut parts = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        // Byte index of the first char that does not fit; `None` when the rest fits whole.
        let Some((limit, next)) = rest.char_indices().nth(max) else {
            parts.push(rest.to_owned());
            break;
        };
        let head = &rest[..limit];
        // `rest` starts with non-whitespace, so a break found here leaves a non-empty part.
        let cut = if next.is_whitespace() {
            Some(limit)
        } else {
            head.rfind(char::is_whitespace).filter(|&at| at > 0)
        };
        let (part, tail) = match cut {
            Some(at) => (rest[..at].trim_end(), &rest[at..]),
            None => rest.split_at(hard_break(rest, limit)),
        };
        parts.push(part.to_owned());
        rest = tail.trim_start();
    }
    parts
}

/// The byte index at or before `limit` where `text` can be cut without separating a base from
/// its combining marks; `limit` itself when no such place exists after the first char.
fn hard_break(text: &str, limit: usize) -> usize {
    let inner = text[..limit].char_indices().rev().map(|(at, _)| at);
    std::iter::once(limit)
        .chain(inner)
        .take_while(|&at| at > 0)
        .find(|&at| !joins(&text[..at], &text[at..]))
        .unwrap_or(limit)
}

/// Whether the char starting `after` is glued to the char ending `before`: a combining mark,
/// variation selector, emoji skin-tone modifier, or either side of a zero-width joiner.
fn joins(before: &str, after: &str) -> bool {
    const ZWJ: char = '\u{200D}';
    let Some(next) = after.chars().next() else {
        return false;
    };
    before.ends_with(ZWJ)
        || matches!(next, ZWJ | '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{FE20}'..='\u{FE2F}' | '\u{1F3FB}'..='\u{1F3FF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn summary(text: &str) -> (Encoding, u32, u32) {
        let info = analyze(text);
        (info.encoding, info.units, info.segments)
    }

    fn char_counts(parts: &[String]) -> Vec<usize> {
        parts.iter().map(|p| p.chars().count()).collect()
    }

    #[test]
    fn counts_gsm_segments_at_160_and_153() {
        let lengths = [160, 161, 306, 307];
        let counts = lengths.map(|n| summary(&"a".repeat(n)).2);
        assert_eq!(counts, [1, 2, 2, 3]);
    }

    #[test]
    fn counts_extension_chars_as_two_septets() {
        let (eighty, eighty_one) = ("€".repeat(80), "{".repeat(81));
        let (one, two) = (summary(&eighty), summary(&eighty_one));
        assert_eq!(
            (one, two),
            ((Encoding::Gsm7, 160, 1), (Encoding::Gsm7, 162, 2))
        );
    }

    #[test]
    fn one_emoji_makes_the_whole_text_ucs2_and_costs_two_units() {
        let text = format!("{}😀", "a".repeat(10));
        let info = summary(&text);
        assert_eq!(info, (Encoding::Ucs2, 12, 1));
    }

    #[test]
    fn counts_ucs2_segments_at_70_and_67() {
        let lengths = [70, 71, 134, 135];
        let counts = lengths.map(|n| summary(&"ж".repeat(n)).2);
        assert_eq!(counts, [1, 2, 2, 3]);
    }

    #[test]
    fn never_lets_an_escape_or_surrogate_pair_straddle_two_segments() {
        let gsm = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        let ucs2 = format!("{}😀{}", "ж".repeat(66), "ж".repeat(66));
        let infos = (summary(&gsm), summary(&ucs2));
        assert_eq!(infos, ((Encoding::Gsm7, 306, 3), (Encoding::Ucs2, 134, 3)));
    }

    #[test]
    fn treats_empty_text_as_one_empty_gsm_segment() {
        assert_eq!(summary(""), (Encoding::Gsm7, 0, 1));
    }

    #[test]
    fn returns_short_text_unchanged_and_empty_or_blank_long_text_as_no_parts() {
        let text = " x".repeat(MAX_BODY_CHARS / 2);
        let parts = (
            split(&text, MAX_BODY_CHARS),
            split("", 10),
            split(&" ".repeat(20), 10),
        );
        assert_eq!(parts, (vec![text], vec![], vec![]));
    }

    #[test]
    fn splits_words_at_spaces_losing_nothing() {
        let text = "word ".repeat(600).trim_end().to_owned();
        let parts = split(&text, MAX_BODY_CHARS);
        assert_eq!(char_counts(&parts), [1599, 1399]);
        assert_eq!(parts.join(" "), text);
    }

    #[test]
    fn hard_splits_a_word_longer_than_the_limit() {
        let text = "w".repeat(2000);
        let parts = split(&text, MAX_BODY_CHARS);
        assert_eq!(char_counts(&parts), [1600, 400]);
    }

    #[test]
    fn splits_multibyte_text_by_chars() {
        let text = "é😀".repeat(1000);
        let parts = split(&text, MAX_BODY_CHARS);
        assert_eq!(char_counts(&parts), [1600, 400]);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn keeps_combining_marks_with_their_base() {
        let text = "e\u{301}".repeat(5);
        let parts = split(&text, 3);
        assert_eq!(parts, ["e\u{301}"; 5]);
    }

    fn non_whitespace(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn check_split(text: &str, max: usize) -> Result<(), TestCaseError> {
        let parts = split(text, max);
        prop_assert_eq!(
            parts.is_empty(),
            text.trim().is_empty() && (text.is_empty() || text.chars().count() > max)
        );
        for part in &parts {
            prop_assert!(!part.is_empty() && part.chars().count() <= max);
            prop_assert!(parts == [text] || !part.trim().is_empty());
        }
        prop_assert_eq!(non_whitespace(&parts.concat()), non_whitespace(text));
        Ok(())
    }

    proptest! {
        #[test]
        fn split_keeps_every_char_in_order_within_the_limit(
            text in any::<String>(),
            max in 1usize..200,
        ) {
            check_split(&text, max)?;
        }

        #[test]
        fn split_keeps_words_and_marks_within_the_limit(
            text in "([a-zé😀\u{301}\u{200D}]{0,30}[ \n]{0,3}){0,40}",
            max in 1usize..200,
        ) {
            check_split(&text, max)?;
        }
    }
}
