//! Why a request was not accepted, and the status and body each reason is answered with.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::twilio::twiml;

/// A request named a topic the settings do not have: 404 on every route (webhooks, status
/// callbacks, the API), with the name cut to a topic name's longest (64 characters) so a
/// stranger's 30 KB path is not echoed back or logged whole.
#[derive(Debug, thiserror::Error)]
#[error("unknown topic `{0}`")]
pub(crate) struct UnknownTopic(String);

impl UnknownTopic {
    /// The error for `name`, as a request path gave it.
    pub(crate) fn named(name: &str) -> Self {
        let cut = name.char_indices().nth(64).map_or(name.len(), |(i, _)| i);
        let suffix = if cut < name.len() { "..." } else { "" };
        UnknownTopic(format!("{}{suffix}", &name[..cut]))
    }
}

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IngressError {
    /// No topic of that name.
    #[error(transparent)]
    UnknownTopic(#[from] UnknownTopic),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The body is not a form.
    #[error("content type must be application/x-www-form-urlencoded")]
    UnsupportedMediaType,
    /// The signature is missing or wrong.
    #[error("missing or invalid X-Twilio-Signature")]
    Forbidden,
    /// The body is larger than allowed.
    #[error("body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body did not arrive in time.
    #[error("body did not arrive in time")]
    Timeout,
    /// The message could not be queued (Redis down, queue full, shutting down).
    #[error("message could not be queued")]
    Unavailable {
        /// The topic's `error_response`, if any.
        error_response: Option<String>,
    },
}

impl ResponseError for IngressError {
    fn status_code(&self) -> StatusCode {
        match self {
            IngressError::UnknownTopic(_) => StatusCode::NOT_FOUND,
            IngressError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IngressError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngressError::Forbidden => StatusCode::FORBIDDEN,
            IngressError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngressError::Timeout => StatusCode::REQUEST_TIMEOUT,
            IngressError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            IngressError::Unavailable { error_response } => response
                .content_type("text/xml")
                .insert_header(("Retry-After", "1"))
                .body(twiml::respond(error_response.as_deref())),
            other => response
                .content_type("text/plain; charset=utf-8")
                .body(other.to_string()),
        }
    }
}
