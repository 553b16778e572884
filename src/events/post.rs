//! One attempt at delivering one event: a POST of its JSON body to the topic's `events_url`,
//! signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp` = now, so a receiver's
//! replay window holds on a retry, `webhook-signature`). Any 2xx takes it; anything else, a
//! redirect included, or no answer within [`POST_TIMEOUT`], is a failure to try again.

use std::time::Duration;

use super::secret::EventsKey;
use crate::twilio::client::{install_crypto_provider, USER_AGENT};

/// How long one attempt may take.
pub(crate) const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of one dispatcher (not `Send`: built on the thread that uses it), with at
/// most `connections` connections at once.
pub(super) fn client(connections: usize) -> awc::Client {
    install_crypto_provider();
    awc::Client::builder()
        .connector(awc::Connector::new().limit(connections))
        .timeout(POST_TIMEOUT)
        .disable_redirects()
        .add_default_header(("User-Agent", USER_AGENT))
        .finish()
}

/// POSTs `body` as event `id` to `url`; the error says what the endpoint did.
pub(super) async fn post(
    http: &awc::Client,
    url: &str,
    key: &EventsKey,
    id: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    let timestamp = crate::domain::now_ms() / 1000;
    let signature = key.sign(id, timestamp, &body);
    let sent = http
        .post(url)
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("webhook-id", id))
        .insert_header(("webhook-timestamp", timestamp.to_string()))
        .insert_header(("webhook-signature", signature))
        .send_body(body);
    let outer = actix_rt::time::timeout(POST_TIMEOUT + Duration::from_secs(1), sent).await;
    match outer {
        Err(_) => Err(format!("no answer within {}s", POST_TIMEOUT.as_secs())),
        Ok(Err(error)) => Err(error.to_string()),
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!("answered {}", response.status().as_u16())),
    }
}
