//! Prometheus metrics of this process, served at `GET /metrics`: per-topic counters of what
//! ingress and the workers did, latency histograms, and, read from Redis at each scrape, the
//! queue depth, in-flight jobs and live sessions (which all processes share). Process metrics
//! (CPU, RSS, open files) come with them.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The `error_code` label of an answer or status that carries no Twilio error code.
pub const NO_ERROR_CODE: &str = "none";

/// Every metric; cloned cheaply (the vectors are shared handles).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Webhooks received, per topic.
    pub received: IntCounterVec,
    /// Webhooks answered with a validator's message, per topic and validator.
    pub rejected: IntCounterVec,
    /// Messages queued, per topic.
    pub queued: IntCounterVec,
    /// Webhooks with a MessageSid seen before (answered, not queued), per topic.
    pub duplicates: IntCounterVec,
    /// Webhooks answered 503 (Redis down, queue full, shutting down), per topic.
    pub unavailable: IntCounterVec,
    /// Jobs finished, per topic and outcome (`completed`, `dead_lettered`).
    pub processed: IntCounterVec,
    /// Failed attempts (handler errors, panics, send failures), per topic.
    pub failed: IntCounterVec,
    /// Messages sent through Twilio, per topic and encoding.
    pub sent: IntCounterVec,
    /// Segments sent through Twilio, per topic.
    pub segments: IntCounterVec,
    /// Jobs in the topic's queue (waiting or running), all processes.
    pub queue_depth: IntGaugeVec,
    /// Bulk texts waiting or running, per topic.
    pub bulk_queue_depth: IntGaugeVec,
    /// Jobs taken by a worker and not yet finished, all processes.
    pub in_flight: IntGaugeVec,
    /// Senders whose session has not expired, all processes.
    pub sessions: IntGaugeVec,
    /// Outbound texts (sent first, not replies) this process's API answered, per topic and
    /// result: `queued`, `scheduled`, `opted_out`, `duplicate` (an idempotency key used before).
    pub outbound_accepted: IntCounterVec,
    /// Outbound texts this process's workers finished, per topic and outcome: `sent`,
    /// `opted_out` (found opted out at send time), `expired` (not sent by its expiry), `failed`
    /// (dead-lettered).
    pub outbound_finished: IntCounterVec,
    /// Seconds a call to Twilio's REST API took, per topic and call (`create`, `list`).
    pub twilio_seconds: HistogramVec,
    /// Twilio's answers, per topic, HTTP status (`transport` when none came) and Twilio error
    /// code ([`NO_ERROR_CODE`] when none).
    pub twilio_responses: IntCounterVec,
    /// Delivery status callbacks recorded, per topic, `MessageStatus` and `ErrorCode`.
    pub deliveries: IntCounterVec,
    /// Dead letters the topic holds, all processes.
    pub dead_letters: IntGaugeVec,
    /// Events waiting for the topic's `events_url`, all processes.
    pub events_backlog: IntGaugeVec,
    /// Events dropped because the backlog was full, all processes (a running total kept in
    /// Redis).
    pub events_dropped: IntGaugeVec,
    /// Events this process delivered (answered 2xx), per topic and type.
    pub events_delivered: IntCounterVec,
    /// Attempts at an event that failed (not 2xx, or no answer), per topic.
    pub events_failed: IntCounterVec,
    /// Seconds from webhook received to answer, per topic.
    pub ingress_seconds: HistogramVec,
    /// Seconds a handler took, per topic.
    pub handler_seconds: HistogramVec,
    /// Seconds from webhook received to outcome recorded, per topic.
    pub end_to_end_seconds: HistogramVec,
    /// Redis connection events: broken connections and primaries that moved.
    pub redis: RedisEvents,
}

/// What this process's Redis connections saw.
#[derive(Clone)]
pub struct RedisEvents {
    /// Requests that found their connection broken.
    pub reconnects: IntCounter,
    /// Times a connection moved to a new primary after a failover.
    pub failovers: IntCounter,
}

impl Default for RedisEvents {
    /// Counters that no registry serves, for connections outside the server (the tools).
    fn default() -> Self {
        let counter = |name: &str| IntCounter::new(name, name).expect("a valid metric name");
        RedisEvents {
            reconnects: counter("redis_reconnects_total"),
            failovers: counter("redis_failovers_total"),
        }
    }
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let opts = Opts::new(name, help).namespace("pyrowire");
    register(registry, IntCounterVec::new(opts, labels))
}

fn single_counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let opts = Opts::new(name, help).namespace("pyrowire");
    register(registry, IntCounter::with_opts(opts))
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGaugeVec {
    let opts = Opts::new(name, help).namespace("pyrowire");
    register(registry, IntGaugeVec::new(opts, &["topic"]))
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> HistogramVec {
    labelled_histogram(registry, name, help, buckets, &["topic"])
}

fn labelled_histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: Vec<f64>,
    labels: &[&str],
) -> HistogramVec {
    let opts = HistogramOpts::new(name, help)
        .namespace("pyrowire")
        .buckets(buckets);
    register(registry, HistogramVec::new(opts, labels))
}

/// `pyrowire_build_info{version}`, always 1: which release a process runs.
fn build_info(registry: &Registry) {
    let opts =
        Opts::new("build_info", "The running release, as a label; always 1").namespace("pyrowire");
    let gauge = register(registry, IntGaugeVec::new(opts, &["version"]));
    gauge.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
}

/// Registers a new metric and hands back the caller's handle to it.
fn register<M>(registry: &Registry, metric: prometheus::Result<M>) -> M
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric.expect("metric names and labels are valid constants");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once");
    metric
}

/// Twilio's `MessageStatus` values (the Message resource's `status` enum).
const DELIVERY_STATUSES: &[&str] = &[
    "queued",
    "sending",
    "sent",
    "failed",
    "delivered",
    "undelivered",
    "receiving",
    "received",
    "accepted",
    "scheduled",
    "read",
    "partially_delivered",
    "canceled",
];

/// Buckets for calls that take from a few milliseconds to Twilio's timeout.
fn fast_to_slow() -> Vec<f64> {
    vec![
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ]
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric. A table, one entry per metric (name, help, labels,
    /// buckets), which is why it is long.
    ///
    /// # Panics
    /// Never in practice: metric names are constants checked by the tests.
    pub fn new() -> Self {
        let r = Registry::new();
        let fast = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        ];
        let slow = vec![
            0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ];
        build_info(&r);
        #[cfg(target_os = "linux")]
        let _ = r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        Metrics {
            received: counter(&r, "received_total", "Webhooks received", &["topic"]),
            rejected: counter(
                &r,
                "rejected_total",
                "Webhooks refused by a validator",
                &["topic", "validator"],
            ),
            queued: counter(&r, "queued_total", "Messages queued", &["topic"]),
            duplicates: counter(
                &r,
                "duplicates_total",
                "Repeated MessageSids, answered but not queued",
                &["topic"],
            ),
            unavailable: counter(&r, "unavailable_total", "Webhooks answered 503", &["topic"]),
            processed: counter(
                &r,
                "processed_total",
                "Jobs finished",
                &["topic", "outcome"],
            ),
            failed: counter(&r, "failed_attempts_total", "Failed attempts", &["topic"]),
            sent: counter(
                &r,
                "sent_total",
                "Messages sent through Twilio",
                &["topic", "encoding"],
            ),
            segments: counter(
                &r,
                "sent_segments_total",
                "Segments sent through Twilio",
                &["topic"],
            ),
            queue_depth: gauge(&r, "queue_depth", "Jobs in the queue, waiting or running"),
            bulk_queue_depth: gauge(
                &r,
                "bulk_queue_depth",
                "Bulk texts in the bulk queue, waiting or running",
            ),
            in_flight: gauge(&r, "in_flight", "Jobs taken by a worker, not yet finished"),
            sessions: gauge(&r, "sessions", "Senders whose session has not expired"),
            outbound_accepted: counter(
                &r,
                "outbound_accepted_total",
                "Outbound texts this process's API answered, by what it did with them",
                &["topic", "result"],
            ),
            outbound_finished: counter(
                &r,
                "outbound_finished_total",
                "Outbound texts this process's workers finished, by outcome",
                &["topic", "outcome"],
            ),
            twilio_seconds: labelled_histogram(
                &r,
                "twilio_request_duration_seconds",
                "Seconds a call to Twilio's REST API took",
                fast_to_slow(),
                &["topic", "call"],
            ),
            twilio_responses: counter(
                &r,
                "twilio_responses_total",
                "Twilio's answers by HTTP status and Twilio error code",
                &["topic", "status", "error_code"],
            ),
            deliveries: counter(
                &r,
                "deliveries_total",
                "Delivery status callbacks recorded, by MessageStatus and ErrorCode",
                &["topic", "status", "error_code"],
            ),
            dead_letters: gauge(&r, "dead_letters", "Dead letters held"),
            events_backlog: gauge(&r, "events_backlog", "Events waiting for the events_url"),
            events_dropped: gauge(
                &r,
                "events_dropped",
                "Events dropped because the backlog was full, in total",
            ),
            events_delivered: counter(
                &r,
                "events_delivered_total",
                "Events this process delivered to the events_url, by type",
                &["topic", "type"],
            ),
            events_failed: counter(
                &r,
                "events_failed_attempts_total",
                "Attempts at delivering an event that failed",
                &["topic"],
            ),
            ingress_seconds: histogram(&r, "ingress_seconds", "Webhook received to answered", fast),
            handler_seconds: histogram(&r, "handler_seconds", "Handler run time", slow.clone()),
            end_to_end_seconds: histogram(
                &r,
                "end_to_end_seconds",
                "Webhook received to outcome recorded",
                slow,
            ),
            redis: RedisEvents {
                reconnects: single_counter(
                    &r,
                    "redis_reconnects_total",
                    "Redis requests that found their connection broken",
                ),
                failovers: single_counter(
                    &r,
                    "redis_failovers_total",
                    "Times a Redis connection moved to a new primary",
                ),
            },
            registry: r,
        }
    }

    /// Creates every series of `topic` at 0, so that they exist from the start (an absent
    /// series breaks alerts and rates); `validators` are the topic's validator names.
    pub fn init_topic(&self, topic: &str, validators: &[String]) {
        for counter in [
            &self.received,
            &self.queued,
            &self.duplicates,
            &self.unavailable,
            &self.failed,
            &self.segments,
            &self.events_failed,
        ] {
            counter.with_label_values(&[topic]);
        }
        for kind in crate::events::EventKind::ALL {
            self.events_delivered
                .with_label_values(&[topic, kind.as_str()]);
        }
        for validator in validators {
            self.rejected.with_label_values(&[topic, validator]);
        }
        for outcome in ["completed", "dead_lettered"] {
            self.processed.with_label_values(&[topic, outcome]);
        }
        for encoding in ["gsm7", "ucs2"] {
            self.sent.with_label_values(&[topic, encoding]);
        }
        for result in ["queued", "scheduled", "opted_out", "duplicate"] {
            self.outbound_accepted.with_label_values(&[topic, result]);
        }
        for outcome in ["sent", "opted_out", "expired", "cancelled", "failed"] {
            self.outbound_finished.with_label_values(&[topic, outcome]);
        }
        for call in ["create", "list"] {
            self.twilio_seconds.with_label_values(&[topic, call]);
        }
        self.twilio_responses
            .with_label_values(&[topic, "201", NO_ERROR_CODE]);
        for status in ["delivered", "undelivered", "failed"] {
            self.deliveries
                .with_label_values(&[topic, status, NO_ERROR_CODE]);
        }
        for gauge in [
            &self.queue_depth,
            &self.bulk_queue_depth,
            &self.in_flight,
            &self.sessions,
            &self.dead_letters,
            &self.events_backlog,
            &self.events_dropped,
        ] {
            gauge.with_label_values(&[topic]);
        }
        for histogram in [
            &self.ingress_seconds,
            &self.handler_seconds,
            &self.end_to_end_seconds,
        ] {
            histogram.with_label_values(&[topic]);
        }
    }

    /// Counts a delivery status callback; a status outside Twilio's own list counts as `other`
    /// and a code that is not a number as [`NO_ERROR_CODE`], so a stranger's callback cannot
    /// make series without bound.
    pub fn count_delivery(&self, topic: &str, status: &str, error_code: Option<&str>) {
        let status = if DELIVERY_STATUSES.contains(&status) {
            status
        } else {
            "other"
        };
        let code = error_code
            .filter(|c| (1..=6).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or(NO_ERROR_CODE);
        self.deliveries
            .with_label_values(&[topic, status, code])
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut buffer) {
            log::warn!("Failed to encode metrics. error={e}");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strangers_delivery_status_and_code_cannot_make_new_series() {
        // Arrange
        let metrics = Metrics::new();
        metrics.init_topic("t", &[]);

        // Act
        metrics.count_delivery("t", "delivered", Some("30003"));
        metrics.count_delivery("t", "evil-status", Some("30003"));
        metrics.count_delivery("t", "undelivered", Some("DROP TABLE"));
        metrics.count_delivery("t", "undelivered", Some("1234567"));

        // Assert
        let text = metrics.render();
        for line in [
            r#"pyrowire_deliveries_total{error_code="30003",status="delivered",topic="t"} 1"#,
            r#"pyrowire_deliveries_total{error_code="30003",status="other",topic="t"} 1"#,
            r#"pyrowire_deliveries_total{error_code="none",status="undelivered",topic="t"} 2"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
        assert!(!text.contains("evil") && !text.contains("DROP") && !text.contains("1234567"));
    }
}
