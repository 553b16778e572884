//! Validators: checks a message must pass before it is queued. Each topic runs its validators in
//! settings order; the first failure's message is the TwiML answer. Built in: `profanity`,
//! `length`, `parseable`; declarative regex validators (`must_match` / `must_not_match`) come from
//! settings, and a Rust program may register its own by name.

mod length;
mod parseable;
mod pattern;
mod profanity;
mod validator;

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::InboundMessage;
use crate::settings::ValidatorSpec;

pub(crate) use length::Length;
pub(crate) use parseable::Parseable;
pub(crate) use pattern::Pattern;
pub(crate) use profanity::Profanity;
pub use validator::Validator;

/// Builds a custom validator from its settings table (everything but `message`).
pub type ValidatorFactory =
    Arc<dyn Fn(&toml::Table) -> Result<Arc<dyn Validator>, String> + Send + Sync>;

/// Custom validators registered by name through the library API.
#[derive(Clone, Default)]
pub struct ValidatorRegistry {
    factories: HashMap<String, ValidatorFactory>,
}

impl ValidatorRegistry {
    /// Registers a validator kind under `name`.
    pub fn register(&mut self, name: impl Into<String>, factory: ValidatorFactory) {
        self.factories.insert(name.into(), factory);
    }
}

/// The outcome of running a topic's validators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every validator passed.
    Accept,
    /// A validator failed; `response` is its message.
    Reject {
        /// The validator's name in settings.
        validator: String,
        /// The text to answer.
        response: String,
    },
}

/// The built-in length validator's name.
const LENGTH: &str = "length";

struct Step {
    name: String,
    validator: Arc<dyn Validator>,
    response: String,
}

/// A topic's validators, in order.
#[derive(Clone, Default)]
pub(crate) struct ValidatorChain {
    steps: Arc<Vec<Step>>,
}

impl ValidatorChain {
    /// Builds the chain from settings; each error names the validator's key.
    pub(crate) fn build(
        specs: &indexmap::IndexMap<String, ValidatorSpec>,
        max_message_length: usize,
        registry: &ValidatorRegistry,
    ) -> Result<Self, Vec<(String, String)>> {
        let mut steps = Vec::new();
        // `max_message_length` holds for every topic; listing `length` only chooses where it
        // runs and what it answers (and adds that a body must not be empty).
        if !specs.contains_key(LENGTH) {
            steps.push(Step {
                name: LENGTH.to_string(),
                validator: Arc::new(Length::at_most(max_message_length)),
                response: format!(
                    "Your message is too long: at most {max_message_length} characters, please."
                ),
            });
        }
        let mut errors = Vec::new();
        for (name, spec) in specs {
            match build_one(name, spec, max_message_length, registry) {
                Ok(validator) => steps.push(Step {
                    name: name.clone(),
                    validator,
                    response: spec.message().unwrap_or_default().to_string(),
                }),
                Err(problem) => errors.push((name.clone(), problem)),
            }
        }
        if errors.is_empty() {
            Ok(ValidatorChain {
                steps: Arc::new(steps),
            })
        } else {
            Err(errors)
        }
    }

    /// Runs the validators in order; the first failure decides.
    pub(crate) fn run(&self, message: &InboundMessage) -> Verdict {
        for step in self.steps.iter() {
            if !step.validator.check(message) {
                return Verdict::Reject {
                    validator: step.name.clone(),
                    response: step.response.clone(),
                };
            }
        }
        Verdict::Accept
    }
}

fn build_one(
    name: &str,
    spec: &ValidatorSpec,
    max_message_length: usize,
    registry: &ValidatorRegistry,
) -> Result<Arc<dyn Validator>, String> {
    let options = spec.options();
    let no_options = |v: Arc<dyn Validator>| match options.keys().next() {
        Some(key) => Err(format!("has an unknown option `{key}`")),
        None => Ok(v),
    };
    if let Some(factory) = registry.factories.get(name) {
        return factory(&options);
    }
    match name {
        "profanity" => no_options(Arc::new(Profanity)),
        LENGTH => no_options(Arc::new(Length::new(max_message_length))),
        "parseable" => Parseable::from_options(&options).map(|v| Arc::new(v) as _),
        _ if Pattern::applies(&options) => {
            Pattern::from_options(&options).map(|v| Arc::new(v) as _)
        }
        _ => Err(
            "is not a known validator (built in: profanity, length, parseable; \
             a custom one needs `must_match` or `must_not_match`)"
                .to_string(),
        ),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::domain::InboundMessage;

    /// A message with the given body, for validator tests.
    pub fn message(body: &str) -> InboundMessage {
        let params = vec![
            ("From".to_string(), "+15551234567".to_string()),
            ("MessageSid".to_string(), "SM1".to_string()),
            ("Body".to_string(), body.to_string()),
        ];
        InboundMessage::from_params("t", &params).unwrap()
    }
}
