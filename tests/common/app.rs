//! A local application for the `webhook` handler: it answers each POSTed message with what a
//! test's function makes of it, and keeps every call (when it came, its JSON) for the asserts.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::{web, HttpResponse, HttpServer};
use serde_json::Value;

/// Every call the application got: when, and the JSON body.
pub type Calls = Arc<Mutex<Vec<(Instant, Value)>>>;

/// Starts the application on a free loopback port on the current actix runtime; its URL
/// (`http://127.0.0.1:PORT/sms`) and its calls. `answer` makes the JSON reply of a message.
pub fn start_app(answer: fn(&Value) -> Value) -> (String, Calls) {
    let calls: Calls = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let shared = calls.clone();
    let server = HttpServer::new(move || {
        let calls = shared.clone();
        actix_web::App::new().route(
            "/sms",
            web::post().to(move |body: web::Json<Value>| {
                let calls = calls.clone();
                async move {
                    let body = body.into_inner();
                    let reply = answer(&body);
                    calls.lock().unwrap().push((Instant::now(), body));
                    HttpResponse::Ok().json(reply)
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (url, calls)
}

/// The JSON bodies of `calls`, in order.
pub fn bodies(calls: &Calls) -> Vec<Value> {
    calls
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.clone())
        .collect()
}
