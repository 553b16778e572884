//! The `pyrowire` command: parse flags, set up logging, load settings, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use mimalloc::MiMalloc;
use pyrowire::app::{Role, RunOptions};
use pyrowire::commands::check::check;
use pyrowire::commands::dead::{dead, DeadOptions};
use pyrowire::commands::init::init;
use pyrowire::commands::recent::recent;
use pyrowire::commands::send::{send, SendOptions};
use pyrowire::commands::session::session;
use pyrowire::commands::status::status;
use pyrowire::settings::{self, LoadOptions, Settings};

/// mimalloc instead of the system allocator: a webhook makes many small allocations, and
/// profiles showed glibc's malloc and free as a fifth of ingress time.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

extern "C" {
    /// mimalloc's own setter for its options, linked in with the allocator.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (the same in its v2 and v3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Memory freed after a burst (such as a flood of stalled connections) goes back to the OS at
/// once. mimalloc's default delays giving back freed pages by a second and does it only on a
/// later free, so a server left idle after a flood kept the flood's memory for good.
/// `MIMALLOC_PURGE_DELAY`, when set, still wins. `tests/flood.rs` measures the effect.
fn return_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set stores a number in mimalloc's option table, which is safe at any
    // time, from any thread; option 15 is the purge delay, and 0 means purge at once.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

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
    },
    /// Print each topic's queue depth, in-flight jobs, totals, dead letters, sessions and rates.
    Status {
        #[command(flatten)]
        settings: SettingsArgs,
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
    },
    /// List a topic's dead letters with their reasons; re-queue them.
    Dead {
        #[command(flatten)]
        settings: SettingsArgs,
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
    },
    /// Write a commented starter settings.toml and Dockerfile into DIR.
    Init {
        /// Where to write them.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
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
    fn load(self) -> Result<Settings, ExitCode> {
        let options = LoadOptions {
            path: self.settings,
            profile: self.profile,
        };
        settings::load(&options).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(2)
        })
    }
}

fn main() -> ExitCode {
    return_freed_memory_promptly();
    match Cli::parse().command {
        Command::Serve {
            settings,
            role,
            topics,
        } => match settings.load() {
            Ok(settings) => serve(settings, role, topics),
            Err(code) => code,
        },
        Command::Check { settings } => report(settings, ExitCode::from(2), check),
        Command::Status { settings } => report(settings, ExitCode::FAILURE, status),
        Command::Recent {
            settings,
            topic,
            limit,
        } => report(settings, ExitCode::FAILURE, |s| recent(s, &topic, limit)),
        Command::Dead {
            settings,
            topic,
            requeue,
            requeue_all,
            limit,
        } => {
            let options = DeadOptions {
                requeue,
                requeue_all,
                limit,
            };
            report(settings, ExitCode::FAILURE, |s| dead(s, &topic, &options))
        }
        Command::Session {
            settings,
            topic,
            number,
            clear,
        } => report(settings, ExitCode::FAILURE, |s| {
            session(s, &topic, &number, clear)
        }),
        Command::Send {
            settings,
            topic,
            to,
            csv,
            body,
            media,
            at,
            idempotency_key,
        } => {
            let options = SendOptions {
                topic,
                to,
                csv,
                body,
                media,
                at,
                idempotency_key,
            };
            send_texts(settings, &options)
        }
        Command::Init { dir } => match init(&dir) {
            Ok(written) => {
                for path in written {
                    println!("wrote {}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Loads the settings, runs a command that prints text, and turns its error into `failure`.
fn report<E: std::error::Error>(
    settings: SettingsArgs,
    failure: ExitCode,
    command: impl FnOnce(&Settings) -> Result<String, E>,
) -> ExitCode {
    let settings = match settings.load() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    match command(&settings) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            failure
        }
    }
}

/// `send`: bad input (every problem named) exits 2, a Redis failure 1.
fn send_texts(settings: SettingsArgs, options: &SendOptions) -> ExitCode {
    let settings = match settings.load() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    match send(&settings, options) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            for problem in e.problems() {
                eprintln!("error: {problem}");
            }
            eprintln!("error: {}", error_chain(&e));
            if e.is_bad_input() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
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
    match pyrowire::builder::run(settings, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = error_chain(&e);
            log::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line: "failed to connect to redis at ...: Connection refused".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}
