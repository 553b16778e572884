//! Why an outbound API request was not done, and the answer each reason gets: JSON
//! `{"error": "..."}` (with the problems, the index or the status where there are some), every
//! answer under `/api` marked `no-store` by the scope. An error answered 503 is logged where it
//! is made, with its cause, before it becomes the answer.

use actix_web::http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::request::{Problems, Refused};
use crate::ingress::error::UnknownTopic;
use crate::outbound::outbox::{Accepted, MAX_BATCH_TEXTS};

/// Why a request to the outbound API was refused or not done.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The profile sets no `api_token`.
    #[error("the outbound API is off (set api_token)")]
    Off,
    /// The request's bearer token is missing or wrong.
    #[error("missing or wrong API token")]
    Unauthorized,
    /// No topic of that name.
    #[error(transparent)]
    UnknownTopic(#[from] UnknownTopic),
    /// No text of that id (or an id no text can have).
    #[error("no such message")]
    NoSuchText,
    /// No broadcast of that id (or an id no broadcast can have).
    #[error("no such broadcast")]
    NoSuchBroadcast,
    /// The body is not JSON by its content type.
    #[error("content type must be application/json")]
    NotJson,
    /// The body is over this many bytes.
    #[error("the body must be at most {0} bytes")]
    TooLarge(usize),
    /// The request holds more texts than one request may.
    #[error("at most {MAX_BATCH_TEXTS} messages per request, got {0}")]
    TooMany(usize),
    /// The body did not arrive within `request_timeout_ms`.
    #[error("the body did not arrive in time")]
    Timeout,
    /// The body could not be read (a broken stream, a bad length).
    #[error("{0}")]
    BadBody(String),
    /// Problems with the texts; nothing was queued.
    #[error("the request has problems; nothing was queued")]
    Invalid(Problems),
    /// A text repeats an idempotency key used with another message; nothing was queued.
    #[error(
        "an idempotency key was used before with another message (another to, body, media or \
         time); nothing was queued"
    )]
    KeyReused {
        /// The first such text's place in the request.
        index: usize,
    },
    /// Only a scheduled text can be cancelled; this one's status.
    #[error("only a scheduled text can be cancelled")]
    TooLate(String),
    /// Not done now; the message says why and what it left behind (503, `Retry-After: 1`).
    #[error("{0}")]
    Unavailable(&'static str),
    /// Part of the request was queued before the rest failed (503, `Retry-After: 1`): the texts
    /// queued are named; the same request again, with the same idempotency keys, queues the
    /// rest.
    #[error(
        "{} of the texts were queued, the rest could not be; send the same request again, with \
         the same idempotency keys, to queue the rest",
        .0.len()
    )]
    Partial(Vec<Accepted>),
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::TooMany(n) => ApiError::TooMany(n),
            Refused::Invalid(problems) => ApiError::Invalid(problems),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Off
            | ApiError::UnknownTopic(_)
            | ApiError::NoSuchText
            | ApiError::NoSuchBroadcast => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) | ApiError::TooMany(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::BadBody(_) | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::KeyReused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooLate(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) | ApiError::Partial(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut answer = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized => {
                answer.insert_header((WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            ApiError::Unavailable(_) | ApiError::Partial(_) => {
                answer.insert_header((RETRY_AFTER, HeaderValue::from_static("1")));
            }
            _ => {}
        }
        let error = self.to_string();
        match self {
            ApiError::Invalid(problems) => answer.json(problems),
            ApiError::KeyReused { index } => answer.json(json!({"error": error, "index": index})),
            ApiError::TooLate(status) => answer.json(json!({"error": error, "status": status})),
            ApiError::Partial(queued) => answer.json(json!({"error": error, "messages": queued})),
            _ => answer.json(json!({ "error": error })),
        }
    }
}
