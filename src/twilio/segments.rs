//! SMS segments: how a body is encoded on the air (GSM-7 or UCS-2), how many segments Twilio
//! bills and rate-limits it as, and how a long reply is split into bodies Twilio accepts.
//!
//! The sender uses [`split`] to cut long handler replies into bodies of at most
//! [`MAX_BODY_CHARS`]; records and metrics show the [`SegmentInfo`] from [`analyze`], because
//! Twilio's per-sender throughput is counted in segments, not messages. Pure functions, no I/O.

use unicode_segmentation::UnicodeSegmentation;

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

/// Bits one segment carries (140 octets).
const SEGMENT_BITS: u32 = 1120;
/// Bits the concatenation header takes from each segment of a split message (6 octets).
const HEADER_BITS: u32 = 48;

/// Analyzes `text` the way Twilio's segment calculator does: GSM-7 when every grapheme is one
/// character of the GSM 03.38 alphabet (extension-table chars cost 2 septets), else UCS-2
/// (UTF-16 code units: an emoji outside the BMP costs 2). One segment carries 1120 bits (160
/// septets or 70 units); a split message gives 48 of each segment's bits to the concatenation
/// header (153 septets or 67 units). A grapheme cluster (a ZWJ emoji, a skin tone, a flag, a
/// base with its combining marks) is never cut across two segments, and CR LF counts as two.
/// An empty text is 1 segment of GSM-7 with 0 units.
pub fn analyze(text: &str) -> SegmentInfo {
    let graphemes = graphemes(text);
    let gsm = graphemes.iter().all(|g| {
        let mut chars = g.chars();
        matches!((chars.next(), chars.next()), (Some(c), None) if c.len_utf16() == 1 && is_gsm7(c))
    });
    let (encoding, unit_bits) = if gsm {
        (Encoding::Gsm7, 7)
    } else {
        (Encoding::Ucs2, 16)
    };
    let units_of = |g: &str| -> u32 {
        match encoding {
            Encoding::Gsm7 if g.chars().any(is_gsm7_extension) => 2,
            Encoding::Gsm7 => 1,
            Encoding::Ucs2 => g.chars().map(|c| c.len_utf16() as u32).sum(),
        }
    };
    let sizes: Vec<u32> = graphemes.iter().map(|g| units_of(g)).collect();
    SegmentInfo {
        encoding,
        segments: pack(sizes.iter().map(|units| units * unit_bits)),
        units: sizes.iter().sum(),
    }
}

/// The extended grapheme clusters of `text`, with CR LF as two (as the calculator counts it).
fn graphemes(text: &str) -> Vec<&str> {
    text.graphemes(true)
        .flat_map(|g| match g {
            "\r\n" => [Some("\r"), Some("\n")],
            g => [Some(g), None],
        })
        .flatten()
        .collect()
}

/// How many segments graphemes of these sizes (bits) fill, in order: each goes whole into the
/// current segment while it fits; when one does not, a new segment starts, and the first
/// segment, which now needs the concatenation header too, hands the graphemes the header
/// displaced on to the new one.
fn pack(sizes: impl Iterator<Item = u32>) -> u32 {
    // Each segment's graphemes' sizes and whether it carries the header.
    let mut segments: Vec<(Vec<u32>, bool)> = vec![(Vec::new(), false)];
    let used = |(sizes, header): &(Vec<u32>, bool)| {
        sizes.iter().sum::<u32>() + if *header { HEADER_BITS } else { 0 }
    };
    for size in sizes {
        let current = segments.last().expect("there is always a segment");
        if SEGMENT_BITS.saturating_sub(used(current)) < size {
            let mut next = (Vec::new(), true);
            let previous = segments.last_mut().expect("there is always a segment");
            if !previous.1 {
                previous.1 = true;
                let mut displaced = Vec::new();
                while used(previous) > SEGMENT_BITS {
                    match previous.0.pop() {
                        Some(moved) => displaced.push(moved),
                        None => break,
                    }
                }
                next.0.extend(displaced.into_iter().rev());
            }
            segments.push(next);
        }
        segments
            .last_mut()
            .expect("there is always a segment")
            .0
            .push(size);
    }
    segments.len() as u32
}

/// Splits a reply longer than `max_chars` characters into parts of at most `max_chars`
/// characters each, breaking at word boundaries (the last whitespace before the limit; the
/// whitespace run at a break is dropped) and hard-breaking a word longer than the limit. A hard
/// break falls between grapheme clusters (a flag, a ZWJ emoji or a base with its combining marks
/// stays whole) unless one cluster is longer than the limit; it never falls inside a `char`, so
/// never inside a surrogate pair.
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

/// The byte index at or before `limit` where `text` can be cut without cutting a grapheme
/// cluster (a flag, a ZWJ emoji, a base with its combining marks); `limit` itself when the first
/// cluster alone is longer than the part may be.
fn hard_break(text: &str, limit: usize) -> usize {
    text.grapheme_indices(true)
        .map(|(at, _)| at)
        .take_while(|&at| at <= limit)
        .filter(|&at| at > 0)
        .last()
        .unwrap_or(limit)
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
