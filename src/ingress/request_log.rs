//! One log line per webhook: method, path (never the query, which may hold phone numbers),
//! topic, MessageSid when known, status and latency. Handlers note the MessageSid in the
//! request's extensions as [`RequestSid`].

use std::future::{ready, Ready};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

/// Most characters of a request path that a log line carries.
pub(crate) const MAX_LOGGED_PATH: usize = 80;

/// A path as it may appear in a log: never the query (it may hold phone numbers and message
/// text), and at most [`MAX_LOGGED_PATH`] characters, so one request cannot write a huge line.
pub(crate) fn loggable_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    match path.char_indices().nth(MAX_LOGGED_PATH) {
        Some((cut, _)) => format!("{}...({} bytes)", &path[..cut], path.len()),
        None => path.to_string(),
    }
}

/// The MessageSid of the webhook being answered, for the request log.
#[derive(Clone)]
pub(crate) struct RequestSid(pub String);

/// Notes the webhook's MessageSid for the request log (only when it logs).
pub(crate) fn note_sid(request: &HttpRequest, sid: &str) {
    if log::log_enabled!(log::Level::Info) {
        request.extensions_mut().insert(RequestSid(sid.to_string()));
    }
}

/// Middleware that logs each request under `/queue` and `/status` at info level.
pub(crate) struct RequestLog;

impl<S, B> Transform<S, ServiceRequest> for RequestLog
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestLogService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestLogService { service }))
    }
}

/// The service [`RequestLog`] wraps.
pub(crate) struct RequestLogService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestLogService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let path = request.path();
        let logged = log::log_enabled!(log::Level::Info)
            && (path.starts_with("/queue/") || path.starts_with("/status/"));
        // Only a request that is logged pays for copying its method and path.
        let (method, path) = if logged {
            (request.method().to_string(), loggable_path(path))
        } else {
            (String::new(), String::new())
        };
        let started = Instant::now();
        let future = self.service.call(request);
        Box::pin(async move {
            let response = future.await?;
            if logged {
                let sid = response
                    .request()
                    .extensions()
                    .get::<RequestSid>()
                    .map(|s| loggable_path(&s.0))
                    .unwrap_or_else(|| "-".into());
                log::info!(
                    "Webhook answered. method={method} path={path} sid={sid} status={} ms={:.1}",
                    response.status().as_u16(),
                    started.elapsed().as_secs_f64() * 1000.0
                );
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_path_drops_the_query_and_is_capped() {
        assert_eq!(loggable_path("/queue/sample?From=%2B1555"), "/queue/sample");
        let long = format!("/queue/{}", "a".repeat(30_000));
        let logged = loggable_path(&long);
        assert!(logged.len() < 120, "{logged}");
        assert!(logged.ends_with("...(30007 bytes)"), "{logged}");
    }
}
