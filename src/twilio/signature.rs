//! Twilio webhook signature validation (`X-Twilio-Signature`).
//!
//! Ingress calls `is_valid` on every Twilio webhook and status callback before it parses the
//! message, so a forged request never reaches the validator or the queue. Pure functions: no I/O,
//! no actix types; the caller hands over the URL Twilio called and the decoded form parameters or
//! the raw body. The algorithm follows twilio-python's `RequestValidator`.

use std::collections::{BTreeMap, BTreeSet};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// What was signed: the full URL Twilio called (scheme, host, optional port, path, query string
/// exactly as received) and, for a form POST, the decoded body parameters in received order
/// (repeated names allowed). For a JSON (or other non-form) body, `params` is empty and `body`
/// holds the raw bytes.
pub(crate) struct SignedRequest<'a> {
    /// The URL exactly as Twilio called it, query string included.
    pub url: &'a str,
    /// Decoded form parameters in received order; empty for a non-form body.
    pub params: &'a [(String, String)],
    /// The raw body of a non-form request; required when the URL carries `bodySHA256`.
    pub body: Option<&'a [u8]>,
}

/// Twilio's signature for `url` + params: base64(HMAC-SHA1(token, url + each name immediately
/// followed by its value, names sorted byte-wise; for a repeated name its DISTINCT values sorted,
/// each appended after the name)), exactly as twilio-python's RequestValidator.compute_signature.
pub fn compute(token: &str, url: &str, params: &[(String, String)]) -> String {
    // `str` orders byte-wise, which for UTF-8 matches Python's code-point sort; the set drops
    // duplicate values as twilio-python does.
    let mut grouped: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        grouped.entry(name).or_default().insert(value);
    }
    let mut mac =
        Hmac::<Sha1>::new_from_slice(token.as_bytes()).expect("HMAC accepts a key of any length");
    mac.update(url.as_bytes());
    for (name, values) in &grouped {
        for value in values {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature` (the X-Twilio-Signature header) is valid for the request under any of
/// `tokens` (current and, during rotation, previous auth token). Compares in constant time.
/// Handles Twilio's quirks: tries the URL as given, with its port removed, and with the default
/// port added (:443 for https, :80 for http) when it has none (only the host part changes; the
/// path and query stay). For a request whose URL query has `bodySHA256`, the signature covers the
/// URL only (no params appended) and the hex SHA-256 of the raw body must equal that parameter
/// (compare case-insensitively, in constant time); such a request validates only if both hold.
/// A `bodySHA256` request without a `body` is refused, since nothing would vouch for its content.
pub(crate) fn is_valid(tokens: &[&str], signature: &str, request: &SignedRequest) -> bool {
    let (params, body_ok) = match query_param(request.url, "bodySHA256") {
        Some(expected) => (&[][..], body_hash_matches(request.body, expected)),
        None => (request.params, Choice::from(1)),
    };
    // Every candidate is computed and compared, so timing does not reveal which one matched.
    let mut signature_ok = Choice::from(0);
    for url in url_variants(request.url) {
        for token in tokens {
            signature_ok |= compute(token, &url, params)
                .as_bytes()
                .ct_eq(signature.as_bytes());
        }
    }
    bool::from(signature_ok & body_ok)
}

/// The URL forms Twilio may have signed, in this order and without duplicates: `url` as given;
/// without its port, if it has one; with the default port (`:443` for https, `:80` for http),
/// if it has none. Only the host part changes; path and query stay byte for byte. A URL without
/// a `scheme://` prefix comes back alone.
pub(crate) fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let port_colon = port_colon(&authority[host_start..]).map(|i| host_start + i);
    let prefix = &url[..url.len() - rest.len()];
    let variant = match port_colon {
        Some(colon) => Some(format!("{prefix}{}{tail}", &authority[..colon])),
        None => default_port(scheme).map(|port| format!("{prefix}{authority}:{port}{tail}")),
    };
    variants.extend(variant.filter(|v| v != url));
    variants
}

/// Where the `:port` starts in `host[:port]`, skipping the colons of an `[IPv6]` literal.
fn port_colon(host_port: &str) -> Option<usize> {
    let search_from = if host_port.starts_with('[') {
        host_port.find(']')?
    } else {
        0
    };
    host_port[search_from..].find(':').map(|i| search_from + i)
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

/// The first raw (undecoded) value of `name` in the query string of `url`.
fn query_param<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn body_hash_matches(body: Option<&[u8]>, expected_hex: &str) -> Choice {
    let Some(body) = body else {
        return Choice::from(0);
    };
    let actual: String = Sha256::digest(body)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    actual
        .as_bytes()
        .ct_eq(expected_hex.to_ascii_lowercase().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const URL_443: &str = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    const SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const SIGNATURE_443: &str = "kvajT1Ptam85bY51eRf/AJRuM3w=";
    const CALL: [(&str, &str); 5] = [
        ("From", "+14158675309"),
        ("CallSid", "CA1234567890ABCDE"),
        ("To", "+18005551212"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
    ];
    const JSON: &[u8] = br#"{"property": "value", "boolean": true}"#;
    const JSON_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const JSON_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2\
        &bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|&(n, v)| (n.into(), v.into())).collect()
    }

    type Params = [(String, String)];

    fn req<'a>(url: &'a str, params: &'a Params, body: Option<&'a [u8]>) -> SignedRequest<'a> {
        SignedRequest { url, params, body }
    }

    /// Whether a form POST of `params` to `url` is valid under [`TOKEN`].
    fn form_ok(url: &str, params: &Params, signature: &str) -> bool {
        is_valid(&[TOKEN], signature, &req(url, params, None))
    }

    /// Whether a JSON POST of `body` to `url` is valid under [`TOKEN`].
    fn json_ok(url: &str, body: Option<&[u8]>, signature: &str) -> bool {
        is_valid(&[TOKEN], signature, &req(url, &[], body))
    }

    #[test]
    fn computes_twilios_known_answers_and_accepts_them_under_either_url_form() {
        let params = owned(&CALL);
        assert_eq!(compute(TOKEN, URL, &params), SIGNATURE);
        assert_eq!(compute(TOKEN, URL_443, &params), SIGNATURE_443);
        for url in [URL, URL_443] {
            assert!(form_ok(url, &params, SIGNATURE), "{url}");
            assert!(form_ok(url, &params, SIGNATURE_443), "{url}");
        }
    }

    #[test]
    fn signs_the_distinct_sorted_values_of_a_repeated_name() {
        let mut params = owned(&CALL[..4]);
        for digits in ["5678", "1234", "1234"] {
            params.push(("Digits".into(), digits.into()));
        }
        assert_eq!(compute(TOKEN, URL, &params), "1F55Y6EDsEviuHKQm9BIkrznRZk=");
    }

    #[test]
    fn accepts_a_json_body_whose_hash_is_in_the_signed_url() {
        assert_eq!(body_hash_matches(Some(JSON), JSON_HASH).unwrap_u8(), 1);
        assert_eq!(compute(TOKEN, JSON_URL, &[]), JSON_SIGNATURE);
        assert!(json_ok(JSON_URL, Some(JSON), JSON_SIGNATURE));
        let upper = format!("{URL}&bodySHA256={}", JSON_HASH.to_ascii_uppercase());
        assert!(json_ok(&upper, Some(JSON), &compute(TOKEN, &upper, &[])));
    }

    #[test]
    fn refuses_a_changed_json_body_or_a_missing_one() {
        let changed = br#"{"property": "value", "boolean": false}"#;
        assert!(!json_ok(JSON_URL, Some(changed), JSON_SIGNATURE));
        assert!(!json_ok(JSON_URL, None, JSON_SIGNATURE));
    }

    #[test]
    fn refuses_a_changed_param_or_another_url() {
        let mut params = owned(&CALL);
        assert!(!form_ok(&URL.replace("bar=2", "bar=3"), &params, SIGNATURE));
        params[4].1 = "9999".into();
        assert!(!form_ok(URL, &params, SIGNATURE));
    }

    #[test]
    fn refuses_a_wrong_token_but_accepts_the_second_token() {
        let params = owned(&CALL);
        let request = req(URL, &params, None);
        assert!(!is_valid(&["54321"], SIGNATURE, &request));
        assert!(is_valid(&["54321", TOKEN], SIGNATURE, &request));
        assert!(!is_valid(&[], SIGNATURE, &request));
    }

    #[test]
    fn refuses_an_empty_or_garbage_signature() {
        let params = owned(&CALL);
        for signature in ["", "garbage", "RSOYDt4T1cUTdK1PDd93/VVr8B8", "é\u{0}"] {
            assert!(!form_ok(URL, &params, signature), "{signature:?}");
        }
    }

    #[test]
    fn lists_url_variants_and_handles_weird_urls_without_panicking() {
        let cases = [
            (URL, Some(URL_443)),
            (URL_443, Some(URL)),
            ("http://u:p@h/x?a=b:c", Some("http://u:p@h:80/x?a=b:c")),
            ("http://[::1]:8080/x", Some("http://[::1]/x")),
            ("http://[::1]", Some("http://[::1]:80")),
            ("https://h?q=1", Some("https://h:443?q=1")),
            ("http://h:", Some("http://h")),
            ("mycompany.com/x", None),
            ("ftp://h/x", None),
        ];
        for (url, other) in cases {
            let expected: Vec<&str> = std::iter::once(url).chain(other).collect();
            assert_eq!(url_variants(url), expected, "{url}");
        }
        // Garbage must be refused, not panic.
        for url in "|://|http://|http://[::1|?bodySHA256|é://é:é".split('|') {
            assert!(!form_ok(url, &[], SIGNATURE), "{url:?}");
        }
    }
}
