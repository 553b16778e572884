//! `GET /metrics`: Prometheus text. The queue, dead-letter and session gauges are read from Redis at each
//! scrape (bounded by a short timeout), so every process reports the shared queues the same way.

use std::time::Duration;

use actix_web::{web, HttpResponse};

use super::state::IngressState;
use crate::store::overview::{depth, live_sessions};

/// How long a scrape waits for Redis before answering with the gauges it has.
const GAUGE_TIMEOUT: Duration = Duration::from_millis(500);

/// Renders every metric.
pub(super) async fn metrics(state: web::Data<IngressState>) -> HttpResponse {
    let mut conn = state.redis.clone();
    let refresh = async {
        for name in state.topics.keys() {
            if let Ok((queued, in_flight)) = depth(&mut conn, &state.keys, name).await {
                state
                    .metrics
                    .queue_depth
                    .with_label_values(&[name])
                    .set(queued as i64);
                state
                    .metrics
                    .in_flight
                    .with_label_values(&[name])
                    .set(in_flight as i64);
            }
            if let Ok(dead) =
                redis::AsyncCommands::zcard::<_, u64>(&mut conn, state.keys.dead(name)).await
            {
                state
                    .metrics
                    .dead_letters
                    .with_label_values(&[name])
                    .set(dead as i64);
            }
            if let Ok(live) = live_sessions(&mut conn, &state.keys, name).await {
                state
                    .metrics
                    .sessions
                    .with_label_values(&[name])
                    .set(live as i64);
            }
        }
    };
    let _ = actix_rt::time::timeout(GAUGE_TIMEOUT, refresh).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
