//! What the settings' URLs must look like: an http(s) URL with a host (`public_url`, `api_base`,
//! a webhook handler's `url`), a Redis URL of the schemes a key allows.

/// Whether `url` is `http://` or `https://` with a host.
pub(super) fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|host| !host.is_empty() && !host.starts_with('/') && !host.contains(' '))
}

/// Whether `url` has one of `schemes` and parses as a Redis URL.
pub(super) fn is_redis_url(url: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|s| url.starts_with(s)) && redis::parse_redis_url(url).is_some()
}
