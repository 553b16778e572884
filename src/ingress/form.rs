//! A strict `application/x-www-form-urlencoded` parser: unlike lenient parsers it refuses bad
//! percent-encoding and invalid UTF-8, so a malformed webhook gets a 400 instead of mangled text.

/// Why a form could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormError {
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding near byte {0}")]
    BadPercent(usize),
    /// The decoded bytes are not UTF-8.
    #[error("parameter is not valid UTF-8")]
    BadUtf8,
}

/// Decodes `a=1&b=2` into pairs, in order; `+` is a space; empty segments are skipped.
pub(crate) fn parse(input: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut pairs = Vec::new();
    let mut offset = 0;
    for segment in input.split(|&b| b == b'&') {
        if !segment.is_empty() {
            let eq = segment.iter().position(|&b| b == b'=');
            let (name, value, value_at) = match eq {
                Some(eq) => (&segment[..eq], &segment[eq + 1..], offset + eq + 1),
                None => (segment, &segment[segment.len()..], offset + segment.len()),
            };
            pairs.push((decode(name, offset)?, decode(value, value_at)?));
        }
        offset += segment.len() + 1;
    }
    Ok(pairs)
}

fn decode(raw: &[u8], offset: usize) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .ok_or(FormError::BadPercent(offset + i))?;
                // Two hex digits exactly (`from_str_radix` alone would take a sign, as in `%+1`).
                let byte = Some(hex)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(FormError::BadPercent(offset + i))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::BadUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_plus_and_percent() {
        let pairs = parse(b"Body=Hi+there%21&From=%2B1555&Empty=&Flag").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("Body".into(), "Hi there!".into()),
                ("From".into(), "+1555".into()),
                ("Empty".into(), String::new()),
                ("Flag".into(), String::new()),
            ]
        );
        assert_eq!(parse(b"Body=%F0%9F%98%80").unwrap()[0].1, "😀");
    }

    #[test]
    fn refuses_bad_percent_and_bad_utf8() {
        assert_eq!(parse(b"a=%zz"), Err(FormError::BadPercent(2)));
        assert_eq!(parse(b"a=%4"), Err(FormError::BadPercent(2)));
        assert_eq!(parse(b"a=%FF%FE"), Err(FormError::BadUtf8));
    }

    #[test]
    fn refuses_a_percent_followed_by_a_plus_sign() {
        assert_eq!(parse(b"a=%+1"), Err(FormError::BadPercent(2)));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn encode(pairs: &[(String, String)]) -> String {
            serde_urlencoded::to_string(pairs).unwrap()
        }

        /// What may follow a `%` without making two hex digits: the end, or a non-hex byte
        /// right away or after one hex digit.
        fn bad_escape() -> impl Strategy<Value = Vec<u8>> {
            let non_hex = any::<u8>().prop_filter("not a hex digit", |b| !b.is_ascii_hexdigit());
            let hex = prop::sample::select(b"0123456789abcdefABCDEF".to_vec());
            prop_oneof![
                Just(Vec::new()),
                hex.clone().prop_map(|h| vec![h]),
                (non_hex.clone(), prop::collection::vec(any::<u8>(), 0..8))
                    .prop_map(|(b, rest)| [vec![b], rest].concat()),
                (hex, non_hex, prop::collection::vec(any::<u8>(), 0..8))
                    .prop_map(|(h, b, rest)| [vec![h, b], rest].concat()),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn arbitrary_bytes_never_panic_and_what_parses_survives_a_round_trip(
                input in prop::collection::vec(any::<u8>(), 0..512),
            ) {
                if let Ok(pairs) = parse(&input) {
                    prop_assert_eq!(parse(encode(&pairs).as_bytes()), Ok(pairs));
                }
            }

            #[test]
            fn form_like_bytes_never_panic_and_what_parses_survives_a_round_trip(
                input in prop::collection::vec(
                    prop::sample::select(b"=&%+aZ09\xc3\xa9\xff ".to_vec()),
                    0..128,
                ),
            ) {
                if let Ok(pairs) = parse(&input) {
                    prop_assert_eq!(parse(encode(&pairs).as_bytes()), Ok(pairs));
                }
            }

            // Nothing is skipped: even an empty name with an empty value encodes as `=`,
            // which is a non-empty segment.
            #[test]
            fn encoded_unicode_pairs_parse_back_exactly(
                pairs in prop::collection::vec((any::<String>(), any::<String>()), 0..8),
            ) {
                prop_assert_eq!(parse(encode(&pairs).as_bytes()), Ok(pairs));
            }

            #[test]
            fn a_percent_without_two_hex_digits_is_refused_at_its_position(
                pairs in prop::collection::vec((any::<String>(), any::<String>()), 0..4),
                tail in bad_escape(),
            ) {
                let mut input = encode(&pairs).into_bytes();
                input.extend_from_slice(b"&name=value");
                let at = input.len();
                input.push(b'%');
                input.extend(tail);
                prop_assert_eq!(parse(&input), Err(FormError::BadPercent(at)));
            }
        }
    }
}
