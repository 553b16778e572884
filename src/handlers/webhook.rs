//! `webhook`: lets an application in any language be the handler. Each message is POSTed as
//! JSON (the message fields, the topic's `properties` as a nested `properties` object and the
//! sender's session as `session`, `{}` when there is none) to the topic's `url`, with
//! `X-Pyrowire-Secret` when a `secret` is set so the application can trust the call. The JSON
//! answer is the reply: `{"reply": "text", "media_url": "..." | [...], "session": {...}}`, where
//! `session` replaces the session, `"session": null` ends it and no `session` key leaves it as it
//! is; 204 or an empty body means no reply and no change. A non-2xx answer, a bad body or a
//! timeout (`timeout_ms`, default 10000) is a handler error: retried, then dead-lettered.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use serde::Deserialize;

use super::context::HandlerContext;
use super::error::HandlerError;
use super::handler::Handler;
use crate::domain::{InboundMessage, Reply, Session};
use crate::settings::Secret;

/// The header carrying the topic's shared secret.
pub(super) const SECRET_HEADER: &str = "X-Pyrowire-Secret";

/// Largest answer read from the application.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A handler that asks an HTTP application for the reply.
pub(crate) struct Webhook {
    url: String,
    timeout: Duration,
    /// Sent as [`SECRET_HEADER`]; printed as `[redacted]` if the handler is ever debugged.
    secret: Option<Secret>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MediaUrls {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Answer {
    reply: Option<String>,
    media_url: Option<MediaUrls>,
}

thread_local! {
    /// awc clients are not `Send`; each worker thread keeps one, with its connection pool.
    static CLIENT: awc::Client = awc::Client::builder().disable_redirects().finish();
}

impl Webhook {
    /// Builds from settings options: `url` (required), `timeout_ms`, `secret`.
    pub(crate) fn from_options(options: &toml::Table) -> Result<Arc<dyn Handler>, String> {
        let mut url = None;
        let mut timeout = Duration::from_secs(10);
        let mut secret = None;
        for (key, value) in options {
            match key.as_str() {
                "url" => url = Some(value.as_str().ok_or("`url` must be a string")?.to_string()),
                "timeout_ms" => {
                    let ms = value
                        .as_integer()
                        .filter(|ms| (1..=300_000).contains(ms))
                        .ok_or("`timeout_ms` must be between 1 and 300000")?;
                    timeout = Duration::from_millis(ms as u64);
                }
                "secret" => {
                    let value = value.as_str().ok_or("`secret` must be a string")?;
                    secret = Some(Secret::new(value))
                }
                other => return Err(format!("has an unknown option `{other}`")),
            }
        }
        let url = url.ok_or("needs `url`")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("`url` must be an http(s) URL, got `{url}`"));
        }
        Ok(Arc::new(Webhook {
            url,
            timeout,
            secret: secret.filter(|s| !s.expose().is_empty()),
        }))
    }

    async fn call(
        &self,
        message: &InboundMessage,
        context: &HandlerContext,
    ) -> Result<Reply, HandlerError> {
        let mut payload =
            serde_json::to_value(message).map_err(|e| HandlerError::new(e.to_string()))?;
        let properties = serde_json::to_value(&*context.properties).unwrap_or_default();
        payload["properties"] = properties;
        payload["session"] = context.session().into_value();
        let mut request = CLIENT
            .with(|client| client.post(&self.url))
            .timeout(self.timeout);
        if let Some(secret) = &self.secret {
            request = request.insert_header((SECRET_HEADER, secret.expose()));
        }
        let mut response = request
            .send_json(&payload)
            .await
            .map_err(|e| HandlerError::new(format!("webhook call failed: {e}")))?;
        let status = response.status();
        let body = response
            .body()
            .limit(MAX_ANSWER_BYTES)
            .await
            .map_err(|e| HandlerError::new(format!("webhook answer unreadable: {e}")))?;
        if !status.is_success() {
            return Err(HandlerError::new(format!("webhook answered {status}")));
        }
        if status.as_u16() == 204 || body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Reply::none());
        }
        let bad =
            |e: String| HandlerError::new(format!("webhook answer is not the expected JSON: {e}"));
        let mut answer: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        match answer.remove("session") {
            None => {}
            Some(serde_json::Value::Null) => context.end_session(),
            Some(serde_json::Value::Object(map)) => context.replace_session(Session::from_map(map)),
            Some(_) => return Err(bad("`session` must be an object or null".into())),
        }
        match answer.remove("expect_reply_within_s") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => {
                let seconds = n.as_u64().unwrap_or_default();
                context.expect_reply_within(Duration::from_secs(seconds))?;
            }
            Some(_) => {
                return Err(bad(
                    "`expect_reply_within_s` must be a whole number of seconds".into(),
                ))
            }
        }
        let answer: Answer = serde_json::from_value(serde_json::Value::Object(answer))
            .map_err(|e| bad(e.to_string()))?;
        let media_urls = match answer.media_url {
            None => Vec::new(),
            Some(MediaUrls::One(url)) => vec![url],
            Some(MediaUrls::Many(urls)) => urls,
        };
        Ok(Reply {
            text: answer.reply.filter(|r| !r.is_empty()),
            media_urls,
        })
    }
}

impl Handler for Webhook {
    fn handle<'a>(
        &'a self,
        message: &'a InboundMessage,
        context: &'a HandlerContext,
    ) -> LocalBoxFuture<'a, Result<Reply, HandlerError>> {
        self.call(message, context).boxed_local()
    }
}
