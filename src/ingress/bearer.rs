//! The bearer token of a request (`Authorization: Bearer <token>`), for the dashboard's JSON and
//! the outbound API, compared with the configured token in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::settings::Secret;

/// The token of an `Authorization: Bearer <token>` header; empty without one.
pub(crate) fn bearer(request: &actix_web::HttpRequest) -> &str {
    request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
}

/// Whether the request carries `token`. Digests are compared, so neither the length nor the
/// content of the token leaks through timing.
pub(crate) fn carries(request: &actix_web::HttpRequest, token: &Secret) -> bool {
    let given = Sha256::digest(bearer(request).as_bytes());
    bool::from(given.ct_eq(&Sha256::digest(token.expose().as_bytes())))
}
