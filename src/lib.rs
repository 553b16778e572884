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
//! # Using pyrowire as a library
//!
//! `pyrowire serve` runs topics whose handlers and validators are built in (`echo`, `reply`,
//! `webhook`; `profanity`, `length`, `parseable`, regex). A Rust program adds its own by name
//! with [`Pyrowire`], and runs the very same actor system:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use pyrowire::domain::{InboundMessage, Reply};
//! use pyrowire::handlers::from_fn;
//! use pyrowire::validators::Validator;
//! use pyrowire::Pyrowire;
//!
//! /// Only texts that mention pizza get through.
//! struct MentionsPizza;
//!
//! impl Validator for MentionsPizza {
//!     fn check(&self, message: &InboundMessage) -> bool {
//!         message.message.to_lowercase().contains("pizza")
//!     }
//! }
//!
//! fn main() -> Result<(), pyrowire::server::RunError> {
//!     Pyrowire::new()
//!         .settings("settings.toml")
//!         .validator("mentions_pizza", Arc::new(MentionsPizza))
//!         .handler("pizza", from_fn(|message, context| async move {
//!             // Extra texts go out at once, at most once per message, before the reply.
//!             context.sms("Checking the oven...").await?;
//!             let topping = context.properties.get("topping").and_then(|v| v.as_str());
//!             Ok(Reply::text(format!("One {} pizza for {}!", topping.unwrap_or("plain"), message.number)))
//!         }))
//!         .run()
//! }
//! ```
//!
//! with, in settings.toml:
//!
//! ```toml
//! [topics.pizza]
//! handler = "pizza"
//! [topics.pizza.validators]
//! mentions_pizza = "Say pizza!"
//! [topics.pizza.properties]
//! topping = "mushroom"
//! ```
//!
//! - A handler is anything implementing [`handlers::Handler`], or an async closure through
//!   [`handlers::from_fn`]. It gets the [`domain::InboundMessage`] (the original framework's
//!   field names: `message`, `number`, `sid`, `from_city`, `media`, ...) and a
//!   [`handlers::HandlerContext`] with the topic's `properties` and `sms` / `mms` / `send` for
//!   extra messages. It returns a [`domain::Reply`] (text, media, both, or none) or a
//!   [`handlers::HandlerError`], which is retried with backoff and then dead-lettered; a panic
//!   restarts only its worker actor.
//! - A validator implements [`validators::Validator`]; the topic lists it by name with the
//!   message to answer when it fails. Handlers and validators that take options from settings
//!   register a factory instead ([`Pyrowire::handler_factory`], [`Pyrowire::validator_factory`]).
//! - [`startup::App`] is the running system, for tests and programs that manage their own actix
//!   `System`; [`Pyrowire::build`] gives one.
//!
//! `examples/yo_momma.rs` is a complete program: a custom validator and a handler that calls an
//! HTTP API. `examples/webhook_app.py` shows the other way: any language, through the `webhook`
//! handler.
//!
//! # Map
//!
//! [`settings`] loads `settings.toml`; [`startup::App`] builds and runs the system; [`domain`]
//! holds the message types; [`messages`] every actor message; [`actors`] the actors;
//! [`redis_keys`] documents every Redis key; [`twilio`] speaks Twilio's REST API;
//! [`send_once`] keeps replies at most once; [`signature`] checks `X-Twilio-Signature`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod actors;
pub mod clock;
pub mod commands;
pub mod dead_letters;
pub mod delivery;
pub mod domain;
pub mod gsm;
pub mod handlers;
pub mod ingress;
pub mod keywords;
pub mod messages;
pub mod metrics;
pub mod overview;
pub mod rate_limit;
pub mod record;
pub mod redis_conn;
pub mod redis_keys;
pub mod segments;
pub mod send_once;
pub mod server;
pub mod settings;
pub mod signature;
pub mod startup;
pub mod topics;
pub mod twilio;
pub mod twiml;
pub mod validators;

pub use server::Pyrowire;
