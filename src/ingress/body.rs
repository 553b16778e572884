//! Reading a webhook's body with a size limit and a deadline, so a huge or trickling request gets
//! 413 or 408 instead of holding a connection and memory.

use std::time::Duration;

use actix_web::web::{Bytes, BytesMut, Payload};
use futures_util::StreamExt;

use super::error::IngressError;

/// Reads the body, refusing more than `limit` bytes, or a body that takes longer than `timeout`
/// (the profile's `request_timeout_ms`).
pub async fn read(
    mut payload: Payload,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, IngressError> {
    let collect = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| IngressError::BadRequest(format!("failed to read body: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(IngressError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    actix_rt::time::timeout(timeout, collect)
        .await
        .map_err(|_| IngressError::Timeout)?
}

/// Largest webhook body accepted (bytes); larger gets 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
