//! `TwilioSender`: sends messages through each topic's Twilio account (or, with the profile's
//! `dry_run`, only logs and records them). It owns one HTTP client per topic, built on its own
//! thread because awc clients are not `Send`.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Context, Handler, ResponseFuture};

use crate::domain::mask_number;
use crate::messages::SendSms;
use crate::record::SentSms;
use crate::topics::Topics;
use crate::twilio::{TwilioClient, TwilioError};

/// Sends SMS/MMS for every topic.
pub struct TwilioSender {
    topics: Arc<Topics>,
    timeout: Duration,
    dry_run: bool,
    clients: HashMap<String, Rc<TwilioClient>>,
}

impl TwilioSender {
    /// A sender for these topics; `dry_run` keeps every message from Twilio.
    pub fn new(topics: Arc<Topics>, timeout: Duration, dry_run: bool) -> Self {
        TwilioSender {
            topics,
            timeout,
            dry_run,
            clients: HashMap::new(),
        }
    }
}

impl Actor for TwilioSender {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        for (name, topic) in self.topics.iter() {
            let client = TwilioClient::new(&topic.settings.twilio, self.timeout);
            self.clients.insert(name.clone(), Rc::new(client));
        }
    }
}

impl Handler<SendSms> for TwilioSender {
    type Result = ResponseFuture<Result<SentSms, TwilioError>>;

    fn handle(&mut self, msg: SendSms, _: &mut Self::Context) -> Self::Result {
        let to = mask_number(&msg.sms.to);
        if self.dry_run {
            log::info!(
                "Dry run: reply recorded, not sent. topic={} kind={} to={to} chars={} media={}",
                msg.topic,
                msg.kind,
                msg.sms.body.as_deref().map_or(0, |b| b.chars().count()),
                msg.sms.media_urls.len()
            );
            let sent = SentSms {
                kind: msg.kind.to_string(),
                sid: format!("SMdryrun{:026x}", rand::random::<u128>() >> 24),
                status: Some("dry_run".into()),
                num_segments: None,
                dry_run: true,
            };
            return Box::pin(async move { Ok(sent) });
        }
        let Some(client) = self.clients.get(&msg.topic).cloned() else {
            let topic = msg.topic.clone();
            return Box::pin(async move {
                Err(TwilioError::Transport(format!(
                    "no twilio client for topic `{topic}`"
                )))
            });
        };
        Box::pin(async move {
            let resource = client.send(&msg.sms).await?;
            log::debug!(
                "Sent message. topic={} kind={} to={to} sid={}",
                msg.topic,
                msg.kind,
                resource.sid
            );
            Ok(SentSms {
                kind: msg.kind.to_string(),
                sid: resource.sid,
                status: resource.status,
                num_segments: resource.num_segments,
                dry_run: false,
            })
        })
    }
}
