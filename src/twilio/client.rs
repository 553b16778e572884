//! Twilio's REST API over HTTP(S): send a message (`POST .../Messages.json`) and parse Twilio's
//! success and error bodies, timing each call and counting Twilio's answers. Only HTTP lives
//! here; the sender actor decides about retries.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use prometheus::{Histogram, IntCounter};

use crate::domain::expiry::validity_period;
use crate::metrics::{Metrics, NO_ERROR_CODE};
use crate::settings::{Secret, TwilioSettings};
use crate::twilio::segments::{analyze, SegmentInfo};
use crate::twilio::smart::smart_encode;

/// Twilio's error code for a recipient who unsubscribed (replied STOP): sending fails, and the
/// number counts as opted out.
pub(crate) const UNSUBSCRIBED: i64 = 21610;

/// Largest Twilio response body read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// What every request to Twilio names itself as (Twilio support asks for it).
pub(crate) const USER_AGENT: &str = concat!("pyrowire/", env!("CARGO_PKG_VERSION"));

/// Who sends a message: exactly one of the create form's `From` and `MessagingServiceSid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sender {
    /// `From`: a number, short code or channel address of the account.
    Number(String),
    /// `MessagingServiceSid` (`MG…`): Twilio picks the number from the service's sender pool and
    /// names it in the answer's `from`.
    MessagingService(String),
}

impl From<&TwilioSettings> for Sender {
    /// The topic's messaging service when it has one (its `from_number` is then not sent), else
    /// its number. Validation requires one of them; without either, the empty `From` makes
    /// Twilio refuse the send (21603) rather than the worker panic.
    fn from(settings: &TwilioSettings) -> Self {
        match (&settings.messaging_service_sid, &settings.from_number) {
            (Some(service), _) => Sender::MessagingService(service.clone()),
            (None, number) => Sender::Number(number.clone().unwrap_or_default()),
        }
    }
}

impl std::fmt::Display for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sender::Number(number) => write!(f, "from {number}"),
            Sender::MessagingService(sid) => write!(f, "through messaging service {sid}"),
        }
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutboundSms {
    /// Recipient.
    pub to: String,
    /// The topic's number or messaging service.
    pub sender: Sender,
    /// Text, if any.
    pub body: Option<String>,
    /// Media URLs, sent as repeated `MediaUrl`.
    pub media_urls: Vec<String>,
    /// Where Twilio posts delivery status, if anywhere.
    pub status_callback: Option<String>,
    /// Send `SmartEncoded=true`: Twilio replaces Unicode characters that have a GSM-7
    /// look-alike (’ “ – …), so the text stays GSM-7.
    pub smart_encoded: bool,
    /// When the text stops being worth sending (ms since the epoch): the send tells Twilio the
    /// time left as `ValidityPeriod`.
    pub expires_at: Option<u64>,
}

impl OutboundSms {
    /// The form fields, in the order the Messages API documents them.
    pub(crate) fn form(&self) -> Vec<(&'static str, &str)> {
        let sender = match &self.sender {
            Sender::Number(number) => ("From", number.as_str()),
            Sender::MessagingService(sid) => ("MessagingServiceSid", sid.as_str()),
        };
        let mut form = vec![("To", self.to.as_str()), sender];
        if let Some(body) = self.body.as_deref().filter(|b| !b.is_empty()) {
            form.push(("Body", body));
        }
        for url in &self.media_urls {
            form.push(("MediaUrl", url.as_str()));
        }
        if let Some(callback) = &self.status_callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        if self.smart_encoded {
            form.push(("SmartEncoded", "true"));
        }
        form
    }

    /// The segments Twilio will send the body as, after its smart encoding when it is on.
    pub(crate) fn segments(&self) -> SegmentInfo {
        let body = self.body.as_deref().unwrap_or_default();
        if self.smart_encoded {
            analyze(&smart_encode(body))
        } else {
            analyze(body)
        }
    }
}

/// The parts of Twilio's Message resource that pyrowire reads, as a send answers it and as a
/// ListMessage page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct MessageResource {
    /// `SM…` or `MM…`.
    pub sid: String,
    /// `queued`, `accepted`, ...
    pub status: Option<String>,
    /// Segments Twilio will bill, as a string.
    pub num_segments: Option<String>,
    /// The text.
    pub body: Option<String>,
    /// RFC 2822 creation time.
    pub date_created: Option<String>,
    /// The messaging service it was sent through (`MG…`), if any.
    pub messaging_service_sid: Option<String>,
}

/// One page of ListMessage, newest first.
#[derive(Debug, Deserialize)]
pub(crate) struct MessagePage {
    /// The page's messages.
    pub messages: Vec<MessageResource>,
    /// The next (older) page's path, `None` on the last page.
    #[serde(default)]
    pub next_page_uri: Option<String>,
}

/// Twilio's error body: `{"code", "message", "more_info", "status"}`.
#[derive(Debug, Clone, Deserialize)]
struct ApiErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

/// Why a call to Twilio failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TwilioError {
    /// Twilio answered with an error status.
    #[error("twilio answered {status}{}: {message}", code.map(|c| format!(" with code {c}")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// Twilio's error code, such as 21211.
        code: Option<i64>,
        /// Twilio's description.
        message: String,
        /// The `Retry-After` header, if any.
        retry_after: Option<Duration>,
    },
    /// Twilio could not be reached, or did not answer in time. `message` is the HTTP client's
    /// own description (its error type cannot leave the thread it was made on).
    #[error("failed to reach twilio: {message}")]
    Transport {
        /// What the HTTP client said.
        message: String,
        /// False when the request surely never reached Twilio (no connection was made).
        maybe_sent: bool,
    },
    /// Twilio's answer broke off, or was over 1 MiB, before it was read whole.
    #[error("failed to read twilio's answer")]
    Body(#[source] awc::error::PayloadError),
    /// Twilio answered 2xx with a body that is not what was asked for.
    #[error("failed to decode twilio's answer")]
    Decode(#[source] serde_json::Error),
    /// A list page named a next page outside this account's Messages list; it was not followed.
    #[error("twilio's next_page_uri is not this account's Messages list")]
    ForeignPage,
    /// The list's query could not be encoded (nothing was sent).
    #[error("failed to encode the list query")]
    Query(#[source] serde_urlencoded::ser::Error),
}

impl TwilioError {
    /// Whether trying again later may succeed: 429, 5xx, and transport failures. A 4xx with a
    /// Twilio error code is permanent.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            TwilioError::Api { status, .. } => *status == 429 || *status >= 500,
            TwilioError::Transport { .. } | TwilioError::Body(_) => true,
            TwilioError::Decode(_) | TwilioError::ForeignPage | TwilioError::Query(_) => false,
        }
    }

    /// Whether Twilio may have created the message although the call failed: a timeout or a
    /// broken connection after the request went out, or a 5xx. A 4xx (429 included) and a failed
    /// connect mean it was not created.
    pub(crate) fn maybe_sent(&self) -> bool {
        match self {
            TwilioError::Api { status, .. } => *status >= 500,
            TwilioError::Transport { maybe_sent, .. } => *maybe_sent,
            TwilioError::Body(_) | TwilioError::Decode(_) => true,
            TwilioError::ForeignPage | TwilioError::Query(_) => false,
        }
    }

    /// How long Twilio asked us to wait, if it did.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            TwilioError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A client for one Twilio account. Not `Send` (awc): build it on the thread that uses it.
pub(crate) struct TwilioClient {
    http: awc::Client,
    api_base: String,
    account_sid: String,
    auth_token: Secret,
    calls: Calls,
}

/// Where a client counts its calls: the topic's `twilio_request_duration_seconds` and
/// `twilio_responses_total` series. The series every send touches are looked up once, here,
/// not by label on each call.
pub(crate) struct Calls {
    topic: String,
    metrics: Metrics,
    create_seconds: Histogram,
    list_seconds: Histogram,
    created: IntCounter,
    listed: IntCounter,
}

impl Calls {
    /// The series of `topic`'s calls.
    pub(crate) fn new(topic: &str, metrics: &Metrics) -> Self {
        let seconds = |call: &str| metrics.twilio_seconds.with_label_values(&[topic, call]);
        let answered = |status: &str| {
            metrics
                .twilio_responses
                .with_label_values(&[topic, status, NO_ERROR_CODE])
        };
        Calls {
            topic: topic.to_string(),
            metrics: metrics.clone(),
            create_seconds: seconds("create"),
            list_seconds: seconds("list"),
            created: answered("201"),
            listed: answered("200"),
        }
    }

    /// Observes one call (`create` or `list`) that began at `started` and ended in `result`.
    fn observe<T>(&self, create: bool, started: Instant, result: &Result<T, TwilioError>) {
        let seconds = started.elapsed().as_secs_f64();
        let (histogram, ok) = match create {
            true => (&self.create_seconds, &self.created),
            false => (&self.list_seconds, &self.listed),
        };
        histogram.observe(seconds);
        let (status, code) = match result {
            Ok(_) => {
                ok.inc();
                return;
            }
            Err(TwilioError::Api { status, code, .. }) => (status.to_string(), *code),
            // Answered 2xx, but the body broke off or was not what was asked for.
            Err(TwilioError::Body(_) | TwilioError::Decode(_)) => ("2xx".to_string(), None),
            Err(TwilioError::Transport { .. }) => ("transport".to_string(), None),
            // Nothing was sent.
            Err(TwilioError::ForeignPage | TwilioError::Query(_)) => return,
        };
        // Code 0 is no code (as in status callbacks).
        let code = code
            .filter(|c| *c != 0)
            .map_or_else(|| NO_ERROR_CODE.to_string(), |c| c.to_string());
        self.metrics
            .twilio_responses
            .with_label_values(&[&self.topic, &status, &code])
            .inc();
    }
}

impl TwilioClient {
    /// A client for the account in `settings`, with a per-request timeout and at most
    /// `max_connections` connections (so requests in flight) at once.
    pub(crate) fn new(
        settings: &TwilioSettings,
        timeout: Duration,
        max_connections: usize,
        calls: Calls,
    ) -> Self {
        install_crypto_provider();
        let connector = awc::Connector::new().limit(max_connections.max(1));
        let http = awc::Client::builder()
            .connector(connector)
            .timeout(timeout)
            .disable_redirects()
            .add_default_header(("User-Agent", USER_AGENT))
            .finish();
        TwilioClient {
            http,
            api_base: settings.api_base.trim_end_matches('/').to_string(),
            account_sid: settings.account_sid.clone(),
            auth_token: settings.auth_token.clone(),
            calls,
        }
    }

    /// The Messages resource URL of this account.
    pub(crate) fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.api_base, self.account_sid
        )
    }

    /// Creates a message: `POST .../Messages.json`, form-encoded, basic auth.
    pub(crate) async fn send(&self, sms: &OutboundSms) -> Result<MessageResource, TwilioError> {
        let started = Instant::now();
        let request = self.authorized(self.http.post(self.messages_url()));
        let validity = sms
            .expires_at
            .map(|at| validity_period(at, crate::domain::now_ms()).to_string());
        let mut form = sms.form();
        form.extend(validity.as_deref().map(|v| ("ValidityPeriod", v)));
        let created = read(request.send_form(&form).await).await;
        self.calls.observe(true, started, &created);
        created
    }

    /// The first page (of up to `page_size`) of the messages to `to`, and from `from` when
    /// given, newest first (ListMessage). No `DateSent` filter: a message Twilio still holds
    /// (`queued`, `accepted`, `scheduled`) has no `date_sent` and such a filter would miss it.
    /// ListMessage has no messaging service filter: a caller looking for a service's message
    /// lists without `from` and matches `messaging_service_sid` itself.
    pub(crate) async fn list_messages(
        &self,
        to: &str,
        from: Option<&str>,
        page_size: u32,
    ) -> Result<MessagePage, TwilioError> {
        let page_size = page_size.to_string();
        let mut query = vec![("To", to)];
        query.extend(from.map(|from| ("From", from)));
        query.push(("PageSize", &page_size));
        let query = serde_urlencoded::to_string(query).map_err(TwilioError::Query)?;
        let url = format!("{}?{query}", self.messages_url());
        self.list(url).await
    }

    /// The page a previous page's `next_page_uri` names. Only this account's Messages list is
    /// followed: any other path is refused rather than requested with the account's credentials.
    pub(crate) async fn next_page(&self, next_page_uri: &str) -> Result<MessagePage, TwilioError> {
        let own = format!("/2010-04-01/Accounts/{}/Messages.json?", self.account_sid);
        if !next_page_uri.starts_with(&own) {
            return Err(TwilioError::ForeignPage);
        }
        let url = format!("{}{next_page_uri}", self.api_base);
        self.list(url).await
    }

    /// One page of the Messages list at `url`.
    async fn list(&self, url: String) -> Result<MessagePage, TwilioError> {
        let started = Instant::now();
        let page = read(self.authorized(self.http.get(url)).send().await).await;
        self.calls.observe(false, started, &page);
        page
    }

    /// `request` with this account's basic auth, asking for JSON.
    fn authorized(&self, request: awc::ClientRequest) -> awc::ClientRequest {
        request
            .basic_auth(&self.account_sid, self.auth_token.expose())
            .insert_header(("Accept", "application/json"))
    }
}

/// A response as awc answers it (no content coding: `Accept-Encoding: identity`).
type Response = awc::ClientResponse;

/// The decoded body of a 2xx answer, or the Twilio error it describes.
async fn read<T: DeserializeOwned>(
    response: Result<Response, awc::error::SendRequestError>,
) -> Result<T, TwilioError> {
    let mut response = response.map_err(transport_error)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response
        .body()
        .limit(MAX_RESPONSE_BYTES)
        .await
        .map_err(TwilioError::Body)?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(TwilioError::Decode);
    }
    let parsed: Option<ApiErrorBody> = serde_json::from_slice(&body).ok();
    Err(TwilioError::Api {
        status: status.as_u16(),
        code: parsed.as_ref().and_then(|b| b.code),
        message: parsed
            .and_then(|b| b.message)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string()),
        retry_after,
    })
}

fn transport_error(error: awc::error::SendRequestError) -> TwilioError {
    use awc::error::SendRequestError as E;
    let maybe_sent = !matches!(error, E::Url(_) | E::Connect(_));
    TwilioError::Transport {
        message: error.to_string(),
        maybe_sent,
    }
}

/// rustls needs one process-wide crypto provider; pyrowire uses ring.
pub(crate) fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // An error means another provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_repeats_media_url_and_skips_empty_body() {
        let sms = OutboundSms {
            to: "+1".into(),
            sender: Sender::Number("+2".into()),
            body: Some(String::new()),
            media_urls: vec!["https://a".into(), "https://b".into()],
            status_callback: None,
            smart_encoded: false,
            expires_at: None,
        };
        let encoded = serde_urlencoded::to_string(sms.form()).unwrap();
        assert_eq!(
            encoded,
            "To=%2B1&From=%2B2&MediaUrl=https%3A%2F%2Fa&MediaUrl=https%3A%2F%2Fb"
        );
    }

    #[test]
    fn a_messaging_service_replaces_from_in_the_form() {
        let sms = OutboundSms {
            to: "+1".into(),
            sender: Sender::MessagingService("MG0123456789abcdef0123456789abcdef".into()),
            body: Some("hi".into()),
            media_urls: Vec::new(),
            status_callback: Some("https://cb".into()),
            smart_encoded: true,
            expires_at: None,
        };

        let encoded = serde_urlencoded::to_string(sms.form()).unwrap();

        assert_eq!(
            encoded,
            "To=%2B1&MessagingServiceSid=MG0123456789abcdef0123456789abcdef&Body=hi\
             &StatusCallback=https%3A%2F%2Fcb&SmartEncoded=true"
        );
    }

    #[test]
    fn classifies_errors() {
        let api = |status, code| TwilioError::Api {
            status,
            code,
            message: String::new(),
            retry_after: None,
        };
        assert!(api(429, Some(20429)).is_transient());
        assert!(api(503, None).is_transient());
        assert!(!api(400, Some(21211)).is_transient());
        let refused = TwilioError::Transport {
            message: "connection refused".into(),
            maybe_sent: false,
        };
        assert!(refused.is_transient() && !refused.maybe_sent());
        assert!(!api(429, Some(20429)).maybe_sent());
        assert!(api(502, None).maybe_sent());
    }
}
