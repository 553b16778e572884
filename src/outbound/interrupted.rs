//! An interrupted send: its marker says the POST to Twilio may have been made, and no SID says
//! how it ended (the process died between the two, or the call failed in a way that leaves it
//! open). Before sending again, Twilio's Messages list is asked whether this very message is
//! there.
//!
//! The list is read by `To` (and `From`, for a topic that sends from a number), newest first,
//! without a `DateSent` filter: a message Twilio accepted but still holds (`queued` behind a long
//! code's one segment a second, `accepted` in a Messaging Service's queue, `scheduled`) has no
//! `date_sent`, and such a filter would not find it. Pages are read until one holds a message
//! created before the mark; a message created after it (allowing for clock skew) with the same
//! body, from the same sender, in any status, is this send, unless its SID is already another
//! send's (the previous reply to the same number, with the same words, a second earlier).
//!
//! The reading is bounded ([`MAX_PAGES`] pages of [`PAGE_SIZE`], [`DEADLINE`]). At the bound the
//! answer is [`Lookup::Unsure`]: nothing is sent, and the attempt fails (and is retried) rather
//! than risk a second copy.

use std::time::{Duration, Instant};

use crate::domain::clock::parse_twilio_date;
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;
use crate::twilio::client::{MessageResource, OutboundSms, Sender, TwilioClient, TwilioError};

/// Messages asked for on each page of the list.
pub(crate) const PAGE_SIZE: u32 = 100;
/// Most pages read for one interrupted send.
pub(crate) const MAX_PAGES: usize = 10;
/// Longest time spent reading them (each request also has the Twilio timeout).
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// Twilio's clock and ours may differ a little, and its `date_created` has whole seconds: a
/// listed message created this long before the mark still counts as after it.
pub(crate) const CLOCK_SKEW_MS: u64 = 5_000;

/// What Twilio's list says about an interrupted send.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Twilio has it: the send went out.
    Found(MessageResource),
    /// Every message created since the mark was read, and none is this one.
    NotSent,
    /// The bound was reached before the list went back to the mark.
    Unsure {
        /// Pages read.
        pages: usize,
    },
}

/// Which send is looked up.
pub(crate) struct Interrupted<'a> {
    /// The message that may have gone out.
    pub sms: &'a OutboundSms,
    /// When its send was marked (ms since the epoch).
    pub marked_at: u64,
    /// The topic's keys, to tell another send's SID from this one.
    pub keys: &'a Keys,
    /// The topic.
    pub topic: &'a str,
}

/// Reads Twilio's list for `send` as the module says.
pub(crate) async fn look_up(
    conn: &mut RedisConn,
    client: &TwilioClient,
    send: &Interrupted<'_>,
) -> Result<Lookup, TwilioError> {
    let from = match &send.sms.sender {
        Sender::Number(number) => Some(number.as_str()),
        Sender::MessagingService(_) => None,
    };
    let started = Instant::now();
    let mut page = client.list_messages(&send.sms.to, from, PAGE_SIZE).await?;
    let mut pages = 1;
    let mut candidates = Vec::new();
    loop {
        let before_mark = read_page(&page.messages, send, &mut candidates);
        let Some(next) = page.next_page_uri.filter(|_| !before_mark) else {
            break;
        };
        if pages >= MAX_PAGES || started.elapsed() >= DEADLINE {
            return Ok(Lookup::Unsure { pages });
        }
        page = client.next_page(&next).await?;
        pages += 1;
    }
    // Oldest first: the first of this body sent after the mark that no other send claims.
    for candidate in candidates.into_iter().rev() {
        if !is_another_send(conn, send, &candidate.sid).await {
            return Ok(Lookup::Found(candidate));
        }
    }
    Ok(Lookup::NotSent)
}

/// Adds the page's messages that may be this send to `candidates`; answers whether the page
/// reached a message created before the mark (every later page is older still).
fn read_page(
    messages: &[MessageResource],
    send: &Interrupted<'_>,
    candidates: &mut Vec<MessageResource>,
) -> bool {
    for message in messages {
        let created = message.date_created.as_deref().and_then(parse_twilio_date);
        if created.is_some_and(|at| at + CLOCK_SKEW_MS < send.marked_at) {
            return true;
        }
        if created.is_some() && is_same_message(message, send.sms) {
            candidates.push(message.clone());
        }
    }
    false
}

/// Same body, same sender: listed by From, every message is from the number; listed by To
/// alone, only the service's count.
fn is_same_message(message: &MessageResource, sms: &OutboundSms) -> bool {
    let same_sender = match &sms.sender {
        Sender::Number(_) => true,
        Sender::MessagingService(sid) => {
            message.messaging_service_sid.as_deref() == Some(sid.as_str())
        }
    };
    same_sender
        && message.body.as_deref().unwrap_or_default() == sms.body.as_deref().unwrap_or_default()
}

/// Whether `sid` is already stored as the Twilio SID of one of the topic's sends (each stored
/// send has a delivery record). A Redis failure counts as not: the lookup then errs towards not
/// sending twice.
async fn is_another_send(conn: &mut RedisConn, send: &Interrupted<'_>, sid: &str) -> bool {
    let key = send.keys.delivery(send.topic, sid);
    let exists: redis::RedisResult<bool> = redis::cmd("EXISTS").arg(&key).query_async(conn).await;
    exists.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "MG0123456789abcdef0123456789abcdef";

    fn listed(sid: &str, service: Option<&str>, body: &str, created: &str) -> MessageResource {
        MessageResource {
            sid: sid.into(),
            status: Some("queued".into()),
            num_segments: Some("1".into()),
            body: Some(body.into()),
            date_created: Some(created.into()),
            messaging_service_sid: service.map(str::to_string),
        }
    }

    fn sms(sender: Sender) -> OutboundSms {
        OutboundSms {
            to: "+15551234567".into(),
            sender,
            body: Some("hello".into()),
            media_urls: Vec::new(),
            status_callback: None,
            smart_encoded: false,
            expires_at: None,
        }
    }

    fn interrupted<'a>(sms: &'a OutboundSms, keys: &'a Keys, marked_at: u64) -> Interrupted<'a> {
        Interrupted {
            sms,
            marked_at,
            keys,
            topic: "t",
        }
    }

    const AFTER: &str = "Mon, 01 Jan 2024 00:00:10 +0000";
    const LONG_BEFORE: &str = "Sun, 31 Dec 2023 23:00:00 +0000";

    #[test]
    fn through_a_messaging_service_only_that_services_message_matches() {
        let marked_at = parse_twilio_date("Mon, 01 Jan 2024 00:00:00 +0000").unwrap();
        let messages = [
            listed("SM1", None, "hello", AFTER),
            listed(
                "SM2",
                Some("MGffffffffffffffffffffffffffffffff"),
                "hello",
                AFTER,
            ),
            listed("SM3", Some(SERVICE), "other", AFTER),
            listed("SM4", Some(SERVICE), "hello", AFTER),
        ];
        let keys = Keys::new("p");
        let (service, number) = (
            sms(Sender::MessagingService(SERVICE.into())),
            sms(Sender::Number("+1".into())),
        );

        let (mut through_service, mut from_number) = (Vec::new(), Vec::new());
        read_page(
            &messages,
            &interrupted(&service, &keys, marked_at),
            &mut through_service,
        );
        read_page(
            &messages,
            &interrupted(&number, &keys, marked_at),
            &mut from_number,
        );

        let sids =
            |found: &[MessageResource]| found.iter().map(|m| m.sid.clone()).collect::<Vec<_>>();
        assert_eq!(sids(&through_service), ["SM4"]);
        // Listed by From, Twilio already kept only the number's messages.
        assert_eq!(sids(&from_number), ["SM1", "SM2", "SM4"]);
    }

    #[test]
    fn a_page_that_reaches_a_message_older_than_the_mark_ends_the_reading() {
        let marked_at = parse_twilio_date("Mon, 01 Jan 2024 00:00:00 +0000").unwrap();
        let messages = [
            listed("SM1", None, "hello", AFTER),
            listed("SM2", None, "hello", LONG_BEFORE),
            listed("SM3", None, "hello", AFTER),
        ];
        let (keys, number) = (Keys::new("p"), sms(Sender::Number("+1".into())));

        let mut found = Vec::new();
        let ended = read_page(
            &messages,
            &interrupted(&number, &keys, marked_at),
            &mut found,
        );

        assert!(ended);
        assert_eq!(found.len(), 1, "only the message before the older one");
    }
}
