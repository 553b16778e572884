//! The application's events endpoint for the events tests (`events_url`): it keeps every POST
//! (its Standard Webhooks headers and body) and answers 500 while told to fail, else 204; and
//! the `standardwebhooks` Python package (PyPI, installed by `scripts/test`) to verify them.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

/// A secret made for these tests (`whsec_` + base64 of 32 bytes).
pub const SECRET: &str = "whsec_dGVzdHMtb2YtcHlyb3dpcmUtZXZlbnRzLTMyYnl0ZXM=";

const WAIT: Duration = Duration::from_secs(15);

/// One POST the events endpoint got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub at: Instant,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// The status the endpoint answered.
    pub answered: u16,
}

impl Delivery {
    /// The body's JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// The application's events endpoint: it answers `failures` 500s first (each after `delay`),
/// and 500 while [`Endpoint::fail`] says so, else 204; it keeps every POST.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
    failing: Arc<AtomicBool>,
}

impl Endpoint {
    /// An endpoint that is not started (for settings tests).
    pub fn at(url: &str) -> Endpoint {
        Endpoint {
            url: url.to_string(),
            got: Arc::default(),
            failing: Arc::default(),
        }
    }

    /// Answers 500 to every POST from now on (`true`), or no more (`false`).
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Starts it on a free loopback port on the current actix runtime.
    pub fn start(failures: usize, delay: Duration) -> Endpoint {
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let failing: Arc<AtomicBool> = Arc::default();
        let left = Arc::new(AtomicUsize::new(failures));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let (shared, told) = (got.clone(), failing.clone());
        let server = HttpServer::new(move || {
            let (got, told, left) = (shared.clone(), told.clone(), left.clone());
            actix_web::App::new().route(
                "/events",
                web::post().to(move |request: HttpRequest, body: web::Bytes| {
                    let (got, told, left) = (got.clone(), told.clone(), left.clone());
                    async move {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string()
                        };
                        let delivery = Delivery {
                            at: Instant::now(),
                            id: header("webhook-id"),
                            timestamp: header("webhook-timestamp"),
                            signature: header("webhook-signature"),
                            body: String::from_utf8(body.to_vec()).unwrap(),
                            answered: 0,
                        };
                        let scripted = left
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        let fails = scripted || told.load(Ordering::SeqCst);
                        let answered = if fails { 500 } else { 204 };
                        got.lock().unwrap().push(Delivery {
                            answered,
                            ..delivery
                        });
                        if fails {
                            actix_web::rt::time::sleep(delay).await;
                            return HttpResponse::InternalServerError().finish();
                        }
                        HttpResponse::NoContent().finish()
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Endpoint { url, got, failing }
    }

    /// Every POST so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` POSTs came; all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.deliveries();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} event POSTs came: {got:?}",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits for an event of `kind`; the POSTs so far.
    pub async fn wait_for_type(&self, kind: &str) -> Vec<Delivery> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.deliveries();
            if got.iter().any(|d| d.json()["type"] == kind) {
                return got;
            }
            assert!(Instant::now() < deadline, "no {kind} event: {got:?}");
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Whether the `standardwebhooks` package verifies `delivery` with `secret`: `None` when it
/// does, else its error.
pub fn standard_webhooks_verifies(delivery: &Delivery, secret: &str) -> Option<String> {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret, body, headers = json.load(sys.stdin)
try:
    Webhook(secret).verify(body, headers)
    print("verified")
except Exception as error:
    print("refused: %r" % error)
"#;
    let headers = json!({
        "webhook-id": delivery.id,
        "webhook-timestamp": delivery.timestamp,
        "webhook-signature": delivery.signature,
    });
    let input = serde_json::to_string(&(secret, &delivery.body, headers)).unwrap();
    let said = super::python(script, &input, "the standardwebhooks package");
    (said != "verified").then_some(said)
}
