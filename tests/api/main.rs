//! Integration tests: the real app on a random port, a real Redis (`REDIS_URL`, set by
//! `scripts/test`), and a local stand-in for the Twilio API (`tests/common`).

#[path = "../common/mod.rs"]
#[allow(dead_code)] // these tests use only part of the harness
mod common;
mod helpers;

mod bad_input;
mod broadcasts;
mod complete_script;
mod conversations;
mod dashboard;
mod dashboard_browser;
mod events;
mod expiry;
mod guarantees;
mod identity;
mod ingress_cases;
mod interrupted;
mod lanes;
mod messaging_service;
mod observability;
mod outbound;
mod outbound_bounds;
mod pipeline;
mod protocol;
mod redis_cluster;
mod redis_tls;
mod scripts;
mod sessions;
mod settings_errors;
mod shared_ledger;
mod signatures;
mod webhook_handler;
mod windows;
