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
//! fn main() -> Result<(), pyrowire::builder::RunError> {
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
//! - [`app::App`] is the running system, for tests and programs that manage their own actix
//!   `System`; [`Pyrowire::build`] gives one.
//! - [`Outbox`] queues texts pyrowire sends first (a reminder, a broadcast) into the running
//!   system from any Rust program: the same durable path, opt-outs, pacing and records as the
//!   outbound API.
//!
//! ```no_run
//! # async fn remind() -> Result<(), Box<dyn std::error::Error>> {
//! use pyrowire::domain::TextFields;
//! use pyrowire::Outbox;
//!
//! let options = pyrowire::settings::LoadOptions {
//!     path: "settings.toml".into(),
//!     profile: None,
//! };
//! let settings = pyrowire::settings::load(&options)?;
//! let outbox = Outbox::connect(&settings).await?;
//! let text = TextFields {
//!     to: Some("+15551234567".into()),
//!     body: Some("Your appointment is tomorrow at 9.".into()),
//!     send_at: Some("2026-12-01T09:00:00Z".into()),
//!     ..TextFields::default()
//! }
//! .check(pyrowire::domain::now_ms())
//! .map_err(|errors| format!("{errors:?}"))?;
//! let accepted = outbox.send("sample", &[text]).await?;
//! println!("{} is {}", accepted[0].id, accepted[0].status.as_str());
//! # Ok(())
//! # }
//! ```
//!
//! `examples/yo_momma.rs` is a complete program: a custom validator and a handler that calls an
//! HTTP API. `examples/webhook_app.py` shows the other way: any language, through the `webhook`
//! handler.
//!
//! # Map
//!
//! The modules follow the pipeline, from the edge inwards:
//!
//! - [`app`]: building and running the actor system (Redis, actors, the HTTP server) for a role.
//! - [`builder`]: the library's front door, [`Pyrowire`]: register handlers and validators, run.
//! - [`settings`]: `settings.toml` as types: load, interpolate `${VAR}`, validate.
//! - [`domain`]: the inbound message, job and reply; a message's record; the clock.
//! - `topics`: each topic ready to run: its settings with its handler and validators built.
//! - `ingress`: the HTTP routes: Twilio's webhook and status callback, health, metrics, the
//!   dashboard, the outbound API.
//! - `actors`: one room per actor (`validator`, `queue`, `pool`, `worker`, `sender`,
//!   `recorder`, `scheduler`) and the typed messages between them.
//! - `outbound`: the rules of sending: at most once, paced, delivery status; the outbox of texts
//!   sent first (queue, schedule, cancel, status).
//! - [`twilio`]: Twilio's protocol only: REST client, signatures, TwiML, keywords, segments.
//! - `store`: Redis: every key, connections, the breaker, dead letters, the overview.
//! - [`handlers`] and [`validators`]: the built-in ones and the traits for your own.
//! - [`commands`]: `check`, `status`, `recent`, `dead`, `session`, `send`, `init`.
//! - `metrics`: the Prometheus registry behind `/metrics`.
//! - [`errors`]: how an error is printed where it is reported: with every cause, once.
//! - [`allocator`]: mimalloc's one setting (the crate's only `unsafe`, an FFI call).

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub(crate) mod actors;
pub mod allocator;
pub mod app;
pub mod builder;
pub mod commands;
pub mod domain;
pub mod errors;
pub(crate) mod events;
pub mod handlers;
pub(crate) mod ingress;
pub(crate) mod metrics;
pub(crate) mod outbound;
pub mod settings;
pub(crate) mod store;
pub(crate) mod topics;
pub mod twilio;
pub mod validators;

pub use builder::Pyrowire;
pub use outbound::broadcast::BroadcastView;
pub use outbound::handle::Outbox;
pub use outbound::lookup::OutboundView;
pub use outbound::outbox::{Accepted, OutboxError};
pub use outbound::schedule::Cancelled;
