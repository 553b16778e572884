//! `GET /metrics`: Prometheus text. The queue, dead-letter, session and event gauges are read from Redis at each
//! scrape (bounded by a short timeout), so every process reports the shared queues the same way.

use std::time::Duration;

use actix_web::{web, HttpResponse};

use super::state::IngressState;
use crate::metrics::Metrics;
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;
use crate::store::overview::{bulk_depth, depth, event_backlog, live_sessions};
use crate::topics::Topics;

/// How long a scrape waits for Redis before answering with the gauges it has.
const GAUGE_TIMEOUT: Duration = Duration::from_millis(500);

/// Renders every metric.
pub(super) async fn metrics(state: web::Data<IngressState>) -> HttpResponse {
    render(&state.redis, &state.keys, &state.topics, &state.metrics).await
}

/// Refreshes the gauges read from Redis (within [`GAUGE_TIMEOUT`]) and renders every metric:
/// `/metrics` of a web process and of a worker process alike.
pub(crate) async fn render(
    redis: &RedisConn,
    keys: &Keys,
    topics: &Topics,
    metrics: &Metrics,
) -> HttpResponse {
    let mut conn = redis.clone();
    let refresh = async {
        for name in topics.keys() {
            if let Ok((queued, in_flight)) = depth(&mut conn, keys, name).await {
                metrics
                    .queue_depth
                    .with_label_values(&[name])
                    .set(queued as i64);
                metrics
                    .in_flight
                    .with_label_values(&[name])
                    .set(in_flight as i64);
            }
            if let Ok((bulk, _)) = bulk_depth(&mut conn, keys, name).await {
                let gauge = metrics.bulk_queue_depth.with_label_values(&[name]);
                gauge.set(bulk as i64);
            }
            if let Ok(dead) =
                redis::AsyncCommands::zcard::<_, u64>(&mut conn, keys.dead(name)).await
            {
                metrics
                    .dead_letters
                    .with_label_values(&[name])
                    .set(dead as i64);
            }
            if let Ok(live) = live_sessions(&mut conn, keys, name).await {
                metrics.sessions.with_label_values(&[name]).set(live as i64);
            }
            if let Ok((backlog, _)) = event_backlog(&mut conn, keys, name).await {
                let gauge = metrics.events_backlog.with_label_values(&[name]);
                gauge.set(backlog as i64);
            }
            let dropped: redis::RedisResult<Option<u64>> =
                redis::AsyncCommands::hget(&mut conn, keys.stats(name), "events_dropped").await;
            if let Ok(dropped) = dropped {
                let gauge = metrics.events_dropped.with_label_values(&[name]);
                gauge.set(dropped.unwrap_or(0) as i64);
            }
        }
    };
    let _ = actix_rt::time::timeout(GAUGE_TIMEOUT, refresh).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}
