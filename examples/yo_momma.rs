//! The original pyrowire tutorial's "yo momma" app, in Rust: a custom validator insists the text
//! says "yo momma", and a custom handler answers with a joke fetched from an HTTP API — here a
//! small local one this example starts itself, so it runs without the internet.
//!
//! Run it with `cargo run --example yo_momma` (settings: examples/yo_momma.toml, dev profile,
//! dry run unless PYROWIRE_DRY_RUN=false), then text it:
//! `curl -X POST http://127.0.0.1:62025/queue/yo_momma --data-urlencode 'From=+15551234567' \
//!    --data-urlencode 'MessageSid=SM00000000000000000000000000000003' --data-urlencode 'Body=tell me a yo momma joke'`

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, HttpResponse, HttpServer};
use pyrowire::domain::{InboundMessage, Reply};
use pyrowire::handlers::{from_fn, HandlerContext, HandlerError};
use pyrowire::validators::Validator;
use pyrowire::Pyrowire;

const JOKES: &[&str] = &[
    "Yo momma's so old, her birth certificate says 'expired'.",
    "Yo momma's so kind, she holds the door open for the Wi-Fi.",
    "Yo momma's so fast, she finished this text before you sent it.",
];

/// The validator: the text must say "yo momma".
struct SaysYoMomma;

impl Validator for SaysYoMomma {
    fn check(&self, message: &InboundMessage) -> bool {
        message.message.to_lowercase().contains("yo momma")
    }
}

/// The handler: fetch a joke from the API named in the topic's `properties.joke_api`.
async fn tell_a_joke(
    message: InboundMessage,
    context: HandlerContext,
) -> Result<Reply, HandlerError> {
    let api = context
        .properties
        .get("joke_api")
        .and_then(|v| v.as_str())
        .ok_or_else(|| HandlerError::new("properties.joke_api is not set"))?;
    let mut response = awc::Client::default()
        .get(format!("{api}/jokes/random?seed={}", message.received_at))
        .send()
        .await
        .map_err(|e| HandlerError::new(format!("joke API unreachable: {e}")))?;
    if !response.status().is_success() {
        return Err(HandlerError::new(format!(
            "joke API answered {}",
            response.status()
        )));
    }
    let joke: serde_json::Value = response
        .json()
        .await
        .map_err(|e| HandlerError::new(format!("joke API sent no joke: {e}")))?;
    let text = joke["joke"]
        .as_str()
        .unwrap_or("Yo momma's so quiet, the API said nothing.");
    Ok(Reply::text(text))
}

/// A tiny joke API on a free loopback port, in its own thread; returns its base URL.
fn start_joke_api() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                actix_web::App::new().route(
                    "/jokes/random",
                    web::get().to(
                        |query: web::Query<std::collections::HashMap<String, String>>| async move {
                            let seed: usize =
                                query.get("seed").and_then(|s| s.parse().ok()).unwrap_or(0);
                            HttpResponse::Ok()
                                .json(serde_json::json!({ "joke": JOKES[seed % JOKES.len()] }))
                        },
                    ),
                )
            })
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run();
            server.await
        })
    });
    Ok(url)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // settings.toml reads the API's address from $JOKE_API.
    if std::env::var_os("JOKE_API").is_none() {
        std::env::set_var("JOKE_API", start_joke_api()?);
    }
    let settings = std::env::var("PYROWIRE_SETTINGS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/yo_momma.toml").into());
    Pyrowire::new()
        .settings(settings)
        .validator("says_yo_momma", Arc::new(SaysYoMomma))
        .handler("joke", from_fn(tell_a_joke))
        .run()?;
    Ok(())
}
