//! Reading a webhook's body with a size limit and a deadline, so a huge or trickling request gets
//! 413 or 408 instead of holding a connection and memory. The signature can only be checked once
//! the whole body is in, so until then a connection holds at most `limit` bytes here: a declared
//! `Content-Length` over the limit is refused before anything is read, and the buffer grows with
//! what arrives, never past the declared length or the limit.

use std::time::Duration;

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::web::{Bytes, Payload};
use actix_web::HttpRequest;
use futures_util::StreamExt;

use super::error::IngressError;

/// Reads the body, refusing more than `limit` bytes, or a body that takes longer than `timeout`
/// (the profile's `request_timeout_ms`).
pub(super) async fn read(
    request: &HttpRequest,
    mut payload: Payload,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, IngressError> {
    let declared = declared_length(request);
    if declared.is_some_and(|length| length > limit) {
        return Err(IngressError::TooLarge(limit));
    }
    let most = declared.unwrap_or(limit);
    let collect = async {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| IngressError::BadRequest(format!("failed to read body: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(IngressError::TooLarge(limit));
            }
            grow(&mut body, chunk.len(), most);
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    };
    actix_rt::time::timeout(timeout, collect)
        .await
        .map_err(|_| IngressError::Timeout)?
}

/// Largest webhook body accepted (bytes); larger gets 413.
pub(super) const MAX_BODY_BYTES: usize = 64 * 1024;

/// The `Content-Length` the client declared, when it sent a valid one (actix has already refused
/// a malformed one).
fn declared_length(request: &HttpRequest) -> Option<usize> {
    let value = request.headers().get(CONTENT_LENGTH)?;
    value.to_str().ok()?.trim().parse().ok()
}

/// Makes room for `more` bytes, doubling as a `Vec` does but never past `most` unless the data
/// itself needs it, so a stalled body costs what it sent, not twice that.
fn grow(body: &mut Vec<u8>, more: usize, most: usize) {
    let needed = body.len() + more;
    if needed > body.capacity() {
        let target = needed.max((body.capacity() * 2).min(most));
        body.reserve_exact(target - body.len());
    }
}

#[cfg(test)]
mod tests {
    use super::grow;

    #[test]
    fn buffer_grows_by_doubling_but_never_past_the_declared_length() {
        // Arrange
        let most = 65_536;
        let mut body = Vec::new();

        // Act: 65,000 bytes in chunks, where plain doubling would end at 128,000.
        for chunk in [16_000, 16_000, 16_000, 16_000, 1_000] {
            grow(&mut body, chunk, most);
            body.resize(body.len() + chunk, b'a');
        }

        // Assert
        assert_eq!(body.len(), 65_000);
        assert!(
            body.capacity() <= most,
            "capacity {} went past {most}",
            body.capacity()
        );
    }

    #[test]
    fn buffer_takes_what_the_data_needs_beyond_the_declared_length() {
        // Arrange
        let mut body = vec![b'a'; 10];

        // Act
        grow(&mut body, 100, 20);

        // Assert
        assert!(body.capacity() >= 110);
    }
}
