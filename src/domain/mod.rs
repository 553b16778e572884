//! Domain types, parsed at the edge and not checked again: the inbound message a webhook
//! carries (`inbound`), a text pyrowire sends first (`outbound`), the job queued for the workers
//! (`job`), the reply a handler produces
//! (`reply`), the queue a job waits in (`lane`), Twilio's MessageSid and phone numbers (`ids`), which of a job's sends a send is
//! (`send_kind`), a message's record (`record`), a sender's conversation (`session`), quiet
//! hours in the recipient's zone (`window`, `zones`), and the clock.
//! Nothing here imports the layers above (settings, handlers, validators, actors).

pub mod clock;
mod error;
pub mod expiry;
mod ids;
mod inbound;
mod job;
mod lane;
pub mod outbound;
pub mod record;
mod reply;
mod send_kind;
mod session;
pub mod window;
pub mod zones;

pub use clock::{now_ms, rfc3339};
pub use error::InboundError;
pub(crate) use ids::mask_number;
pub use ids::{MessageSid, PhoneNumber, MAX_ID_BYTES};
pub(crate) use inbound::check_plain;
pub use inbound::{InboundMessage, Media, MessageEvent, MAX_MEDIA};
pub(crate) use job::{Job, JOB_VERSION, REPLY_TIMEOUT_ID_PREFIX};
pub use lane::Lane;
pub(crate) use outbound::is_outbound_id;
pub use outbound::{
    is_e164, parse_time, FieldError, NewText, OutboundStatus, TextFields,
    MAX_IDEMPOTENCY_KEY_BYTES, MAX_OUTBOUND_MEDIA,
};
pub use reply::Reply;
pub use send_kind::SendKind;
pub use session::{Session, SessionError, MAX_SESSION_BYTES};
pub(crate) use session::{SessionChange, SessionSave, SessionTooLarge};
