//! Topics ready to run: each topic's settings with its validator chain and handler built once,
//! at start-up, from the registries. A bad validator or handler is a settings error here.

use std::sync::Arc;

use indexmap::IndexMap;

use crate::handlers::{Handler, HandlerRegistry};
use crate::settings::{Problem, SettingsError};
use crate::settings::{Settings, TopicSettings};
use crate::validators::{ValidatorChain, ValidatorRegistry};

/// One SMS application, compiled.
pub(crate) struct Topic {
    /// The topic's name (its URL segment).
    pub name: String,
    /// Its settings.
    pub settings: TopicSettings,
    /// Its validators, in order.
    pub validators: ValidatorChain,
    /// Its handler.
    pub handler: Arc<dyn Handler>,
    /// The topic's `properties`, handed to the handler.
    pub properties: Arc<toml::Table>,
    /// The TwiML an accepted message is answered with: the accept text, unless it is sent as an
    /// SMS (`send_on_accept`).
    pub accepted_twiml: actix_web::web::Bytes,
    /// Twilio's keywords and the topic's own.
    pub keywords: crate::twilio::keywords::Keywords,
    /// The topic's `send_window` (with its `default_timezone`), if any.
    pub window: Option<crate::domain::window::TopicWindow>,
    /// `default_timezone` (UTC when unset): the zone of recipients whose zone is unknown, for
    /// the topic's window and a broadcast's own.
    pub default_zone: jiff::tz::TimeZone,
}

/// The TwiML that answers an accepted message of `topic`.
fn accepted_twiml(topic: &TopicSettings) -> actix_web::web::Bytes {
    let text = match topic.send_on_accept {
        true => None,
        false => topic.accept_response.as_deref(),
    };
    crate::twilio::twiml::respond(text).into()
}

/// Every topic of the settings, by name.
pub(crate) type Topics = IndexMap<String, Arc<Topic>>;

/// Builds every topic; reports every bad handler and validator at once.
pub(crate) fn build_topics(
    settings: &Settings,
    handlers: &HandlerRegistry,
    validators: &ValidatorRegistry,
) -> Result<Topics, SettingsError> {
    let mut topics = Topics::new();
    let mut problems = Vec::new();
    for (name, topic) in &settings.topics {
        let key = format!("topics.{name}");
        let chain = ValidatorChain::build(&topic.validators, topic.max_message_length, validators)
            .map_err(|errors| {
                problems.extend(errors.into_iter().map(|(validator, problem)| Problem {
                    key: format!("{key}.validators.{validator}"),
                    problem,
                }))
            });
        let kind = topic.handler.kind().unwrap_or_default();
        let handler = handlers
            .build(kind, &topic.handler.options())
            .map_err(|problem| {
                problems.push(Problem {
                    key: format!("{key}.handler"),
                    problem,
                })
            });
        if let (Ok(validators), Ok(handler)) = (chain, handler) {
            let compiled = Topic {
                name: name.clone(),
                settings: topic.clone(),
                validators,
                handler,
                properties: Arc::new(topic.properties.clone()),
                accepted_twiml: accepted_twiml(topic),
                keywords: crate::twilio::keywords::Keywords::of(&topic.keywords),
                window: topic.window(),
                default_zone: topic.default_zone(),
            };
            topics.insert(name.clone(), Arc::new(compiled));
        }
    }
    if problems.is_empty() {
        Ok(topics)
    } else {
        Err(SettingsError::Invalid {
            path: settings.path.clone(),
            problems,
        })
    }
}
