//! `TwilioSender`: sends messages through each topic's Twilio account, at most once per inbound
//! message and kind (see [`crate::outbound::send_once`]), or, with the profile's `dry_run`, only logs and
//! records them. It owns one HTTP client per topic, built on its own thread because awc clients
//! are not `Send`.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::store::connection::RedisConn;
use actix::{Actor, Context, Handler, ResponseFuture};

use crate::actors::messages::SendSms;
use crate::domain::mask_number;
use crate::domain::record::SentSms;
use crate::metrics::Metrics;
use crate::outbound::claims::Claims;
use crate::outbound::send_once::{send_once, SendContext, SendError, Sent};
use crate::store::keys::Keys;
use crate::topics::Topics;
use crate::twilio::client::{Calls, TwilioClient};

/// Sends SMS/MMS for every topic.
pub(crate) struct TwilioSender {
    topics: Arc<Topics>,
    conn: RedisConn,
    keys: Keys,
    options: SenderOptions,
    clients: HashMap<String, Rc<TwilioClient>>,
    claims: Claims,
}

/// How the sender behaves.
#[derive(Clone)]
pub(crate) struct SenderOptions {
    /// Timeout of one Twilio request.
    pub timeout: Duration,
    /// Log and record instead of sending.
    pub dry_run: bool,
    /// How long send markers are kept (seconds).
    pub mark_ttl_s: u64,
    /// Most connections (requests in flight) to Twilio per topic.
    pub max_connections: usize,
    /// Where each topic's client times its calls and counts Twilio's answers.
    pub metrics: Metrics,
    /// How an opt-out Twilio reports (21610) is written.
    pub ledger: Arc<crate::store::opt_outs::Ledger>,
}

impl TwilioSender {
    /// A sender for these topics, keeping its markers through `conn`.
    pub(crate) fn new(
        topics: Arc<Topics>,
        conn: RedisConn,
        keys: Keys,
        options: SenderOptions,
    ) -> Self {
        let claims = Claims::new(conn.clone(), keys.clone(), options.mark_ttl_s);
        TwilioSender {
            topics,
            conn,
            keys,
            options,
            clients: HashMap::new(),
            claims,
        }
    }
}

impl Actor for TwilioSender {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        for (name, topic) in self.topics.iter() {
            let options = &self.options;
            let calls = Calls::new(name, &options.metrics);
            let client = TwilioClient::new(
                &topic.settings.twilio,
                options.timeout,
                options.max_connections,
                calls,
            );
            self.clients.insert(name.clone(), Rc::new(client));
        }
    }
}

impl Handler<SendSms> for TwilioSender {
    type Result = ResponseFuture<Result<Sent, SendError>>;

    fn handle(&mut self, msg: SendSms, _: &mut Self::Context) -> Self::Result {
        let to = mask_number(&msg.sms.to);
        if self.options.dry_run {
            log::info!(
                "Dry run: reply recorded, not sent. topic={} kind={} to={to} chars={} media={}",
                msg.topic,
                msg.kind,
                msg.sms.body.as_deref().map_or(0, |b| b.chars().count()),
                msg.sms.media_urls.len()
            );
            let info = msg.sms.segments();
            let sms = SentSms::new(
                msg.kind,
                format!("SMdryrun{:026x}", rand::random::<u128>() >> 24),
                Some("dry_run".into()),
                Some(info.segments.to_string()),
                true,
                info,
            );
            return Box::pin(async move { Ok(Sent { sms, store: None }) });
        }
        let Some(client) = self.clients.get(&msg.topic).cloned() else {
            let topic = msg.topic.clone();
            return Box::pin(async move { Err(SendError::NoClient(topic)) });
        };
        let cx = SendContext {
            keys: self.keys.clone(),
            topic: msg.topic.clone(),
            inbound_sid: msg.inbound_sid.clone(),
            kind: msg.kind,
            ttl_s: self.options.mark_ttl_s,
            max_per_second: self
                .topics
                .get(&msg.topic)
                .and_then(|t| t.settings.max_sends_per_second),
            ledger: self.options.ledger.clone(),
            lane: msg.lane,
            unsure_since: msg.unsure_since,
        };
        let mut conn = self.conn.clone();
        let claims = self.claims.clone();
        Box::pin(async move {
            let sent = send_once(&mut conn, &claims, &client, &cx, &msg.sms).await?;
            log::debug!(
                "Sent message. topic={} kind={} to={to} sid={}",
                msg.topic,
                msg.kind,
                sent.sms.sid
            );
            Ok(sent)
        })
    }
}
