//! Twilio's protocol, and only that: the REST client (`client`), webhook signatures
//! (`signature`), TwiML answers (`twiml`), the opt-out keywords (`keywords`), and how a text is
//! split into segments (`segments`, over the GSM 03.38 alphabet in `gsm`), and the
//! look-alike replacement of Twilio's Smart Encoding (`smart`). Nothing here knows
//! about Redis or actors.

pub(crate) mod client;
pub(crate) mod gsm;
pub(crate) mod keywords;
pub mod segments;
pub mod signature;
pub mod smart;
pub(crate) mod twiml;
