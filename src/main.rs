//! The `pyrowire` command: parse flags, set up logging, load settings, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use mimalloc::MiMalloc;
use pyrowire::allocator::return_freed_memory_promptly;
use pyrowire::app::{Role, RunOptions};
use pyrowire::builder::init_logging;
use pyrowire::commands::check::check_report;
use pyrowire::commands::dead::{dead_report, DeadOptions};
use pyrowire::commands::finish::finish;
use pyrowire::commands::health::health;
use pyrowire::commands::init::init;
use pyrowire::commands::json_document;
use pyrowire::commands::recent::recent_report;
use pyrowire::commands::send::{send, SendOptions};
use pyrowire::commands::session::session;
use pyrowire::commands::status::status_report;
use pyrowire::errors::Chain;
use pyrowire::settings::{self, LoadOptions, Settings};

/// mimalloc instead of the system allocator (see [`pyrowire::allocator`]).
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[derive(Parser)]
#[command(
    name = "pyrowire",
    version,
    about = "Turn a Twilio number into an SMS/MMS application"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (ingress and/or workers).
    Serve {
        #[command(flatten)]
        settings: SettingsArgs,
        /// Which parts to run.
        #[arg(
            long,
            env = "RUN",
            value_enum,
            default_value = "all",
            ignore_case = true
        )]
        role: Role,
        /// Work only this topic (repeatable; comma-separated in $TOPIC).
        #[arg(long = "topic", env = "TOPIC", value_delimiter = ',')]
        topics: Vec<String>,
    },
    /// Load and validate the settings, print a summary.
    Check {
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Print each topic's queue depth, in-flight jobs, totals, dead letters, sessions and rates.
    Status {
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Print a topic's latest completed and failed messages, with their replies.
    Recent {
        #[command(flatten)]
        settings: SettingsArgs,
        /// The topic.
        topic: String,
        /// How many of each to show.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[command(flatten)]
        json: JsonArg,
    },
    /// List a topic's dead letters with their reasons; re-queue them.
    Dead {
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(flatten)]
        dead: DeadArgs,
    },
    /// Print a sender's session and when it expires; --clear deletes it.
    Session {
        #[command(flatten)]
        settings: SettingsArgs,
        /// The topic.
        topic: String,
        /// The sender's number, as Twilio sends it (+15551234567).
        number: String,
        /// Delete the session.
        #[arg(long)]
        clear: bool,
    },
    /// Queue texts to send first: one (--to) or one per row of a CSV file (--csv).
    Send {
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Ask a running pyrowire whether it is alive: exit 0 on a 200 within 5 s, 1 otherwise.
    Health {
        /// The URL to ask (default http://127.0.0.1:$PORT/health/live, port 8080 when PORT is
        /// unset).
        url: Option<String>,
    },
    /// Write a commented starter settings.toml and Dockerfile into DIR.
    Init {
        /// Where to write them.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Args)]
struct DeadArgs {
    /// The topic.
    topic: String,
    /// Re-queue the dead letter with this MessageSid (repeatable).
    #[arg(long)]
    requeue: Vec<String>,
    /// Re-queue every dead letter of the topic.
    #[arg(long)]
    requeue_all: bool,
    /// How many to list.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[command(flatten)]
    json: JsonArg,
}

impl DeadArgs {
    fn run(self, settings: &Settings) -> ExitCode {
        let options = DeadOptions {
            requeue: self.requeue,
            requeue_all: self.requeue_all,
            limit: self.limit,
        };
        let report = dead_report(settings, &self.topic, &options);
        finish(self.json.render(report, |r| r.text()))
    }
}

#[derive(Args)]
struct JsonArg {
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

impl JsonArg {
    /// The report as JSON (`--json`) or as `text` renders it.
    fn render<R: serde::Serialize, E>(
        &self,
        report: Result<R, E>,
        text: impl FnOnce(&R) -> String,
    ) -> Result<String, E> {
        report.map(|r| {
            if self.json {
                json_document(&r)
            } else {
                text(&r)
            }
        })
    }
}

#[derive(Args)]
struct SendArgs {
    /// The topic whose number and workers send them.
    topic: String,
    /// The recipient, E.164 (+15551234567).
    #[arg(
        long,
        value_name = "NUMBER",
        required_unless_present = "csv",
        conflicts_with = "csv"
    )]
    to: Option<String>,
    /// A CSV file: a header line naming a `to` column, one text per row.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// The text; with --csv a template: `{column}` is the row's value, `{{` and `}}` braces.
    #[arg(long, value_name = "TEXT")]
    body: Option<String>,
    /// A media URL to attach (repeatable).
    #[arg(long = "media", value_name = "URL")]
    media: Vec<String>,
    /// When to send, RFC 3339 (2026-12-01T09:00:00Z); now when absent.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// With --to: queue the text only once per key (within dedup_ttl_s).
    #[arg(long, value_name = "KEY", conflicts_with = "csv")]
    idempotency_key: Option<String>,
    /// Seconds after it is due that a text is still worth sending: not sent by then, it is
    /// `expired` (Twilio gets the time left as ValidityPeriod).
    #[arg(long = "validity", value_name = "SECONDS")]
    validity_s: Option<u64>,
    /// Send as bulk work: only while no reply waits (the default with --csv).
    #[arg(long, conflicts_with = "interactive")]
    bulk: bool,
    /// Send as interactive work, ahead of bulk texts (the default with --to).
    #[arg(long)]
    interactive: bool,
}

impl SendArgs {
    fn run(self, settings: &Settings) -> ExitCode {
        let options = SendOptions {
            topic: self.topic,
            to: self.to,
            csv: self.csv,
            body: self.body,
            media: self.media,
            at: self.at,
            idempotency_key: self.idempotency_key,
            validity_s: self.validity_s,
            lane: match (self.bulk, self.interactive) {
                (true, _) => Some(pyrowire::domain::Lane::Bulk),
                (_, true) => Some(pyrowire::domain::Lane::Interactive),
                _ => None,
            },
        };
        finish(send(settings, &options))
    }
}

#[derive(Args)]
struct SettingsArgs {
    /// The settings file.
    #[arg(long, env = "PYROWIRE_SETTINGS", default_value = "settings.toml")]
    settings: PathBuf,
    /// The profile (else $PYROWIRE_PROFILE, else $ENV, else dev).
    #[arg(long)]
    profile: Option<String>,
}

impl SettingsArgs {
    /// Loads the settings (a bad file exits 2, naming file, key and problem), sets up logging
    /// (`serve` at the profile's `log_level`, the other commands at `info`; `RUST_LOG` wins),
    /// and runs `command`.
    fn run(self, serving: bool, command: impl FnOnce(Settings) -> ExitCode) -> ExitCode {
        let options = LoadOptions {
            path: self.settings,
            profile: self.profile,
        };
        match settings::load(&options) {
            Ok(settings) => {
                init_logging(if serving {
                    &settings.profile.log_level
                } else {
                    "info"
                });
                command(settings)
            }
            Err(e) => {
                init_logging("info");
                finish::<settings::SettingsError>(Err(e))
            }
        }
    }
}

fn main() -> ExitCode {
    return_freed_memory_promptly();
    match Cli::parse().command {
        Command::Serve {
            settings,
            role,
            topics,
        } => settings.run(true, |s| serve(s, role, topics)),
        Command::Check { settings, json } => settings.run(false, |s| {
            finish(json.render(check_report(&s), |r| r.text()))
        }),
        Command::Status { settings, json } => settings.run(false, |s| {
            finish(json.render(status_report(&s), |r| r.table()))
        }),
        Command::Recent {
            settings,
            topic,
            limit,
            json,
        } => settings.run(false, |s| {
            finish(json.render(recent_report(&s, &topic, limit), |r| r.text()))
        }),
        Command::Dead { settings, dead } => settings.run(false, |s| dead.run(&s)),
        Command::Session {
            settings,
            topic,
            number,
            clear,
        } => settings.run(false, |s| finish(session(&s, &topic, &number, clear))),
        Command::Send { settings, send } => settings.run(false, |s| send.run(&s)),
        Command::Health { url } => {
            init_logging("warn");
            finish(health(url.as_deref()))
        }
        Command::Init { dir } => {
            init_logging("info");
            let written = init(&dir).map(|paths| {
                let lines = paths.iter().map(|p| format!("wrote {}\n", p.display()));
                lines.collect::<String>()
            });
            finish(written)
        }
    }
}

fn serve(settings: Settings, role: Role, topics: Vec<String>) -> ExitCode {
    let options = RunOptions {
        role,
        topics: topics
            .into_iter()
            .filter(|t| !t.trim().is_empty())
            .collect(),
        ..RunOptions::default()
    };
    let ran = pyrowire::builder::run(settings, options);
    if let Err(e) = &ran {
        log::error!("{}", Chain(e));
    }
    finish(ran.map(|()| String::new()))
}
