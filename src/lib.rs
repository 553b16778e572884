//! # pyrowire
//!
//! Turns a Twilio phone number into an SMS/MMS application. The pipeline, one actor system:
//!
//! ```text
//! Twilio ──POST /queue/{topic}──▶ ingress (actix-web)
//!                                   │ Validate            ┌─────────────┐
//!                                   ├────────────────────▶│ Validator   │ (sync actors)
//!                                   │ Enqueue             └─────────────┘
//!                                   ├────────────────────▶ RedisQueue ──XADD──▶ Redis stream
//!                                   ▼
//!                              TwiML answer
//!
//! Redis stream ──XREADGROUP──▶ WorkerPool (per topic) ──RunJob──▶ TopicWorker × workers
//!                                                                │ handler
//!                                                                │ SendSms ──▶ TwilioSender ──▶ Twilio
//!                                                                └ RecordOutcome ──▶ Recorder ──▶ Redis
//! ```
//!
//! [`settings`] loads `settings.toml`; [`startup::App`] builds and runs the system; [`domain`]
//! holds the message types; [`redis_keys`] documents every key.

#![forbid(unsafe_code)]

pub mod actors;
pub mod clock;
pub mod commands;
pub mod delivery;
pub mod domain;
pub mod gsm;
pub mod handlers;
pub mod ingress;
pub mod keywords;
pub mod messages;
pub mod rate_limit;
pub mod record;
pub mod redis_conn;
pub mod redis_keys;
pub mod segments;
pub mod send_once;
pub mod settings;
pub mod signature;
pub mod startup;
pub mod topics;
pub mod twilio;
pub mod twiml;
pub mod validators;
