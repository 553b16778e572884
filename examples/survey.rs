//! A three-question survey, in Rust: a conversation kept in the sender's session. The first text
//! from a number starts the survey; each answer is stored in the session and the next question
//! asked; after the third the handler sends a summary and ends the session, so the number's next
//! text starts over. A rating that is not 1 to 5 is asked again without moving on.
//!
//! The session a handler changes is saved only when the job completes: if the handler or the
//! reply's send fails, the retry sees the session as the previous message left it.
//!
//! Run it with `cargo run --example survey` (settings: examples/survey.toml, dev profile, dry run
//! unless PYROWIRE_DRY_RUN=false), then answer it from one number (each text a new MessageSid):
//! `text() { curl -s -X POST http://127.0.0.1:62027/queue/survey --data-urlencode From=+15551234567 \
//!    --data-urlencode "MessageSid=SM$(openssl rand -hex 16)" --data-urlencode "Body=$1"; }`,
//! `text hi; text Ada; text Lisbon; text 4`, and read the replies with
//! `cargo run -q -- recent survey --settings examples/survey.toml`.

use pyrowire::domain::{InboundMessage, Reply};
use pyrowire::handlers::{from_fn, HandlerContext, HandlerError};
use pyrowire::Pyrowire;

const NAME: &str = "What's your name?";
const CITY: &str = "Which city do you live in?";
const RATING: &str = "From 1 to 5, how much do you like SMS surveys?";

/// The handler. The session holds `asked` (the question the sender is answering: 1, 2 or 3) and
/// the answers so far, `name` and `city`.
async fn survey(message: InboundMessage, context: HandlerContext) -> Result<Reply, HandlerError> {
    let answer = message.message.trim();
    match context.get::<u8>("asked")? {
        // No survey under way: this text starts one.
        None => {
            context.set("asked", 1)?;
            Ok(Reply::text(NAME))
        }
        Some(1) => {
            context.set("name", answer)?;
            context.set("asked", 2)?;
            Ok(Reply::text(CITY))
        }
        Some(2) => {
            context.set("city", answer)?;
            context.set("asked", 3)?;
            Ok(Reply::text(RATING))
        }
        _ => match answer.parse::<u8>() {
            Ok(rating @ 1..=5) => {
                let name: String = context.get("name")?.unwrap_or_default();
                let city: String = context.get("city")?.unwrap_or_default();
                // Deleted when this job completes; the next text starts a new survey.
                context.end_session();
                Ok(Reply::text(format!(
                    "Thanks, {name} from {city}! You rated SMS surveys {rating}/5."
                )))
            }
            // Nothing changes, so the sender is still answering question 3.
            _ => Ok(Reply::text(format!("That is not 1 to 5. {RATING}"))),
        },
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = std::env::var("PYROWIRE_SETTINGS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/survey.toml").into());
    Pyrowire::new()
        .settings(settings)
        .handler("survey", from_fn(survey))
        .run()?;
    Ok(())
}
