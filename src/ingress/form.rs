//! A strict `application/x-www-form-urlencoded` parser: unlike lenient parsers it refuses bad
//! percent-encoding and invalid UTF-8, so a malformed webhook gets a 400 instead of mangled text.

/// Why a form could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding near byte {0}")]
    BadPercent(usize),
    /// The decoded bytes are not UTF-8.
    #[error("parameter is not valid UTF-8")]
    BadUtf8,
}

/// Decodes `a=1&b=2` into pairs, in order; `+` is a space; empty segments are skipped.
pub fn parse(input: &[u8]) -> Result<Vec<(String, String)>, FormError> {
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
                let byte = std::str::from_utf8(hex)
                    .ok()
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
}
