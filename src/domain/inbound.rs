//! The inbound message a webhook carries, parsed from Twilio's parameters once, at the edge,
//! with the field names the original framework gave handlers.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::clock::now_ms;
use super::error::InboundError;
use super::ids::{MessageSid, PhoneNumber};

/// Most media items one inbound message may carry (Twilio sends at most 10).
pub const MAX_MEDIA: usize = 10;

/// Twilio parameters mapped onto named fields; everything else lands in `extra`.
const MAPPED: &[&str] = &[
    "Body",
    "From",
    "To",
    "MessageSid",
    "FromCity",
    "FromState",
    "FromCountry",
    "FromZip",
    "ToCity",
    "ToState",
    "ToCountry",
    "ToZip",
    "NumMedia",
];

/// Media attached to a message: `{count, media: {url: content_type}}`, as the original had it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// Number of items.
    pub count: usize,
    /// Each item's URL and its content type, in order.
    pub media: IndexMap<String, String>,
}

/// What a handler is called for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageEvent {
    /// A text from the sender.
    #[default]
    Message,
    /// The sender sent nothing within the wait a handler asked for (`expect_reply_within`):
    /// no text, the session as it stands.
    ReplyTimeout,
}

/// One inbound text, with the field names the original framework gave handlers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The text (`Body`); may be empty when media is attached.
    pub message: String,
    /// The sender (`From`).
    pub number: PhoneNumber,
    /// Twilio's `MessageSid`.
    pub sid: MessageSid,
    /// The topic the message was posted to.
    pub topic: String,
    /// The number texted (`To`).
    #[serde(default)]
    pub to: String,
    /// The sender's city (`FromCity`), when Twilio knows it.
    pub from_city: Option<String>,
    /// The sender's state or province (`FromState`).
    pub from_state: Option<String>,
    /// The sender's country (`FromCountry`).
    pub from_country: Option<String>,
    /// The sender's postal code (`FromZip`).
    pub from_zip: Option<String>,
    /// The city of the number texted (`ToCity`).
    pub to_city: Option<String>,
    /// The state of the number texted (`ToState`).
    pub to_state: Option<String>,
    /// The country of the number texted (`ToCountry`).
    pub to_country: Option<String>,
    /// The postal code of the number texted (`ToZip`).
    pub to_zip: Option<String>,
    /// Attached media.
    pub media: Media,
    /// The reply, once a handler has produced it.
    pub reply: Option<String>,
    /// When pyrowire received the webhook, in milliseconds since the Unix epoch.
    pub received_at: u64,
    /// Every other parameter Twilio sent, under Twilio's own name.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// `message` for a text; `reply_timeout` when the sender did not answer in time.
    #[serde(default)]
    pub event: MessageEvent,
    /// Set when the text is an opt-in or help keyword (`opt_in`, `help`) that reaches the
    /// handler because the sender has a live session; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
}

impl InboundMessage {
    /// Builds a message from the webhook's parameters (query string or form body).
    pub(crate) fn from_params(
        topic: &str,
        params: &[(String, String)],
    ) -> Result<Self, InboundError> {
        let get = |name: &str| param(params, name);
        let optional = |name: &str| get(name).map(str::to_string);
        let number = PhoneNumber::parse("From", get("From").unwrap_or_default())?;
        let sid = MessageSid::parse("MessageSid", get("MessageSid").unwrap_or_default())?;
        let media = parse_media(params)?;
        let mut extra = BTreeMap::new();
        for (name, value) in params {
            if !MAPPED.contains(&name.as_str()) && !is_media_param(name) {
                extra.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        Ok(InboundMessage {
            message: optional("Body").unwrap_or_default(),
            number,
            sid,
            topic: topic.to_string(),
            to: optional("To").unwrap_or_default(),
            from_city: optional("FromCity"),
            from_state: optional("FromState"),
            from_country: optional("FromCountry"),
            from_zip: optional("FromZip"),
            to_city: optional("ToCity"),
            to_state: optional("ToState"),
            to_country: optional("ToCountry"),
            to_zip: optional("ToZip"),
            media,
            reply: None,
            received_at: now_ms(),
            extra,
            event: MessageEvent::Message,
            keyword: None,
        })
    }

    /// The address of an outbound text (see [`crate::domain::Job::outbound`]): its id, recipient
    /// and topic, every other field empty.
    pub(crate) fn addressing(topic: &str, id: MessageSid, to: PhoneNumber, at: u64) -> Self {
        InboundMessage {
            message: String::new(),
            number: to,
            sid: id,
            topic: topic.to_string(),
            to: String::new(),
            from_city: None,
            from_state: None,
            from_country: None,
            from_zip: None,
            to_city: None,
            to_state: None,
            to_country: None,
            to_zip: None,
            media: Media::default(),
            reply: None,
            received_at: at,
            extra: BTreeMap::new(),
            event: MessageEvent::Message,
            keyword: None,
        }
    }

    /// The value of a field by its name, for reply templates (`{message}`, `{number}`, ...).
    /// Unknown names fall back to Twilio's own parameters in `extra`.
    pub fn field(&self, name: &str) -> Option<String> {
        let opt = |v: &Option<String>| Some(v.clone().unwrap_or_default());
        match name {
            "message" => Some(self.message.clone()),
            "number" => Some(self.number.to_string()),
            "sid" => Some(self.sid.to_string()),
            "topic" => Some(self.topic.clone()),
            "to" => Some(self.to.clone()),
            "from_city" => opt(&self.from_city),
            "from_state" => opt(&self.from_state),
            "from_country" => opt(&self.from_country),
            "from_zip" => opt(&self.from_zip),
            "to_city" => opt(&self.to_city),
            "to_state" => opt(&self.to_state),
            "to_country" => opt(&self.to_country),
            "to_zip" => opt(&self.to_zip),
            "received_at" => Some(self.received_at.to_string()),
            "media_count" => Some(self.media.count.to_string()),
            other => self.extra.get(other).cloned(),
        }
    }
}

/// The first value of a parameter.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn is_media_param(name: &str) -> bool {
    let digits = |rest: &str| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit());
    name.strip_prefix("MediaUrl").is_some_and(digits)
        || name.strip_prefix("MediaContentType").is_some_and(digits)
}

/// Refuses a value longer than `max` bytes or holding control characters: what a stranger puts
/// in a field must not grow a Redis key or a log line without bound.
pub(crate) fn check_plain(name: &str, value: &str, max: usize) -> Result<(), InboundError> {
    if value.len() > max || value.chars().any(char::is_control) {
        return Err(InboundError::Invalid {
            name: name.to_string(),
            problem: format!("must be at most {max} characters without control characters"),
        });
    }
    Ok(())
}

fn parse_media(params: &[(String, String)]) -> Result<Media, InboundError> {
    let get = |name: &str| param(params, name);
    let count = match get("NumMedia").map(str::trim).filter(|v| !v.is_empty()) {
        None => 0,
        Some(raw) => raw.parse::<usize>().map_err(|_| InboundError::Invalid {
            name: "NumMedia".into(),
            problem: format!("must be a whole number, got `{raw}`"),
        })?,
    };
    if count > MAX_MEDIA {
        return Err(InboundError::Invalid {
            name: "NumMedia".into(),
            problem: format!("must be at most {MAX_MEDIA}, got {count}"),
        });
    }
    let mut media = IndexMap::new();
    for i in 0..count {
        let url_name = format!("MediaUrl{i}");
        let url = get(&url_name).filter(|u| !u.is_empty());
        let Some(url) = url else {
            return Err(InboundError::Invalid {
                name: url_name,
                problem: format!("is required when NumMedia is {count}"),
            });
        };
        let type_name = format!("MediaContentType{i}");
        let content_type = get(&type_name).unwrap_or_default();
        media.insert(url.to_string(), content_type.to_string());
    }
    Ok(Media {
        count: media.len(),
        media,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mask_number;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_fields_media_and_extras() {
        let p = params(&[
            ("From", "+15551234567"),
            ("MessageSid", "SM1"),
            ("Body", "hi"),
            ("FromCity", "PORTLAND"),
            ("NumMedia", "2"),
            ("MediaUrl0", "https://a/0"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", "https://a/1"),
            ("MediaContentType1", "image/png"),
            ("AccountSid", "AC1"),
        ]);
        let m = InboundMessage::from_params("t", &p).unwrap();
        assert_eq!(m.from_city.as_deref(), Some("PORTLAND"));
        assert_eq!(m.media.count, 2);
        assert_eq!(m.media.media["https://a/1"], "image/png");
        assert_eq!(m.extra["AccountSid"], "AC1");
        assert!(!m.extra.contains_key("MediaUrl0"));
    }

    #[test]
    fn rejects_missing_sender_and_bad_media_count() {
        let err = InboundMessage::from_params("t", &params(&[("MessageSid", "SM1")]));
        assert_eq!(err.unwrap_err(), InboundError::Missing("From"));
        let p = params(&[("From", "+1"), ("MessageSid", "S"), ("NumMedia", "x")]);
        assert!(InboundMessage::from_params("t", &p).is_err());
        let p = params(&[("From", "+1"), ("MessageSid", "S"), ("NumMedia", "1")]);
        assert!(InboundMessage::from_params("t", &p).is_err());
    }

    #[test]
    fn masks_all_but_the_ends_of_a_number() {
        assert_eq!(mask_number("+15551234567"), "+1********67");
        assert_eq!(mask_number("123"), "***");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        const NAMES: &[&str] = &[
            "Body",
            "From",
            "To",
            "MessageSid",
            "SmsMessageSid",
            "AccountSid",
            "MessagingServiceSid",
            "NumMedia",
            "NumSegments",
            "FromCity",
            "FromState",
            "FromCountry",
            "FromZip",
            "ToCity",
            "ToState",
            "ToCountry",
            "ToZip",
            "ApiVersion",
        ];

        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(NAMES).prop_map(str::to_string),
                (0..13usize).prop_map(|i| format!("MediaUrl{i}")),
                (0..13usize).prop_map(|i| format!("MediaContentType{i}")),
                Just("MediaUrl".to_string()),
                Just("MediaUrl-1".to_string()),
                any::<String>(),
            ]
        }

        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[ -~]{0,16}",
                "https://[a-z]{1,4}/[0-9]{1,2}",
                Just(String::new()),
                Just(" ".to_string()),
            ]
        }

        fn num_media() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => (0..=12usize).prop_map(|n| n.to_string()),
                1 => " ?[+]?[0-9]{1,3} ?",
                1 => "[0-9]{15,40}",
                1 => Just("-1".to_string()),
                1 => any::<String>(),
            ]
        }

        /// A webhook's parameters: usually with a sender, a sid and some media so that many
        /// cases get past the required checks, plus arbitrary extras, in any order and with
        /// duplicates.
        fn params() -> impl Strategy<Value = Vec<(String, String)>> {
            let fixed = (
                prop::option::weighted(0.9, "\\+[0-9]{1,15}|[ -~]{0,70}|\\PC{0,8}"),
                prop::option::weighted(0.9, "SM[0-9a-f]{32}|[ -~]{0,70}|\\PC{0,8}"),
                prop::option::weighted(0.6, num_media()),
                prop::collection::vec(
                    ("https://[a-z]{1,3}/[0-9]{1,2}", "[a-z]{1,5}/[a-z]{1,5}"),
                    0..12,
                ),
            );
            let extras = prop::collection::vec((name(), value()), 0..24);
            (fixed, extras)
                .prop_map(|((from, sid, num_media, media), extras)| {
                    let mut all = extras;
                    all.extend(from.map(|v| ("From".to_string(), v)));
                    all.extend(sid.map(|v| ("MessageSid".to_string(), v)));
                    all.extend(num_media.map(|v| ("NumMedia".to_string(), v)));
                    for (i, (url, content_type)) in media.into_iter().enumerate() {
                        all.push((format!("MediaUrl{i}"), url));
                        all.push((format!("MediaContentType{i}"), content_type));
                    }
                    all
                })
                .prop_shuffle()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_parameters_give_a_consistent_message_or_a_clean_error(
                topic in "[a-z]{1,8}|\\PC{0,8}",
                params in params(),
            ) {
                let Ok(message) = InboundMessage::from_params(&topic, &params) else {
                    return Ok(());
                };
                prop_assert_eq!(message.media.count, message.media.media.len());
                prop_assert!(message.media.count <= MAX_MEDIA);
                prop_assert!(message.media.media.keys().all(|url| !url.is_empty()));
                prop_assert!(!message.number.trim().is_empty());
                prop_assert!(!message.sid.trim().is_empty());
                prop_assert!(!message.extra.keys().any(|k| MAPPED.contains(&k.as_str())));
                let json = serde_json::to_string(&message).unwrap();
                let back: InboundMessage = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(back, message);
            }

            #[test]
            fn arbitrary_parameter_lists_never_panic(
                params in prop::collection::vec((name(), value()), 0..32),
            ) {
                let _ = InboundMessage::from_params("t", &params);
            }
        }
    }
}
