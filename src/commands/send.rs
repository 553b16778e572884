//! `pyrowire send TOPIC`: queue texts pyrowire sends first straight into Redis, through the
//! outbox's enqueue script (the HTTP API need not run): one text (`--to`), or one per row of a
//! CSV file (`--csv`) whose `--body` is a template filled from the row's columns.
//!
//! Everything is checked before anything is queued. CSV rows go in batches of 50
//! (`queue::CSV_BATCH`), each row with the idempotency key
//! `csv:{file's SHA-256}:{the flags' SHA-256}:{line}` (the flags: `--body`, `--media`, `--at`),
//! so a run that stopped half way (Ctrl-C, a full queue, Redis gone) can be run again as it was:
//! rows already queued answer `duplicate` and only the others are queued. The same file with
//! another `--body` is another broadcast, queued whole. The keys live the profile's
//! `dedup_ttl_s`; a run after that queues every row again.

mod queue;
mod rows;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::domain::{now_ms, FieldError, Lane, TextFields};
use crate::outbound::outbox::OutboxError;
use crate::settings::Settings;
use queue::{CsvRun, Queuer};
use rows::{CsvFile, Sheet, MAX_CSV_ROWS};

/// What to send, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// The topic whose number and workers send the texts.
    pub topic: String,
    /// `--to`: the one recipient (without `--csv`).
    pub to: Option<String>,
    /// `--csv`: a file with a `to` column, one text per row.
    pub csv: Option<PathBuf>,
    /// `--body`: the text; with `--csv` a template of `{column}` placeholders.
    pub body: Option<String>,
    /// `--media`: media URLs every text carries.
    pub media: Vec<String>,
    /// `--at`: when to send (RFC 3339); now when absent or past.
    pub at: Option<String>,
    /// `--idempotency-key`: with `--to`, queue the text only once per key.
    pub idempotency_key: Option<String>,
    /// `--validity`: seconds after it is due that each text is still worth sending.
    pub validity_s: Option<u64>,
    /// `--bulk` or `--interactive`; `None`: bulk for a CSV file, interactive for one text.
    pub lane: Option<Lane>,
}

/// Why texts were not queued.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No such topic in the settings.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// The input is bad; nothing was queued.
    #[error("{summary}")]
    Invalid {
        /// Every problem found, one line each.
        problems: Vec<String>,
        /// The closing line.
        summary: String,
    },
    /// Redis could not be reached; nothing was queued.
    #[error("failed to connect to redis at {url}")]
    Connect {
        /// The Redis URL, password removed.
        url: String,
        /// What Redis or the connection said.
        #[source]
        source: redis::RedisError,
    },
    /// A batch was refused or failed.
    #[error("failed to queue {what}")]
    Queue {
        /// What was being queued, and how much was queued before.
        what: String,
        /// Why.
        #[source]
        source: OutboxError,
    },
}

impl SendError {
    /// Every problem with the input, to print before the error itself.
    pub fn problems(&self) -> &[String] {
        match self {
            SendError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }

    /// Whether the input was at fault (exit 2) rather than Redis (exit 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            SendError::UnknownTopic(_)
                | SendError::Invalid { .. }
                | SendError::Queue {
                    source: OutboxError::KeyReused { .. },
                    ..
                }
        )
    }
}

fn invalid(problems: Vec<String>, summary: impl Into<String>) -> SendError {
    SendError::Invalid {
        problems,
        summary: summary.into(),
    }
}

/// Queues the texts `options` describe; returns what to print: the text's id and status, or a
/// summary of the CSV's rows.
pub fn send(settings: &Settings, options: &SendOptions) -> Result<String, SendError> {
    if !settings.topics.contains_key(&options.topic) {
        return Err(SendError::UnknownTopic(options.topic.clone()));
    }
    let now = now_ms();
    match &options.csv {
        Some(path) => send_csv(settings, options, path, now),
        None => send_one(settings, options, now),
    }
}

fn send_one(settings: &Settings, options: &SendOptions, now: u64) -> Result<String, SendError> {
    let text = TextFields {
        to: options.to.clone(),
        body: options.body.clone(),
        media_urls: options.media.clone(),
        send_at: options.at.clone(),
        idempotency_key: options.idempotency_key.clone(),
        validity_s: options.validity_s,
        priority: Some(options.lane.unwrap_or_default().as_str().to_string()),
        ..TextFields::default()
    }
    .check(now)
    .map_err(|errors| flag_problems(&errors, options))?;
    actix_rt::System::new().block_on(async {
        let mut queuer = Queuer::connect(settings, &options.topic).await?;
        let answer = queuer
            .queue(std::slice::from_ref(&text))
            .await
            .map_err(|source| SendError::Queue {
                what: format!("the text on `{}` at {}", options.topic, queuer.url),
                source,
            })?;
        let (id, _, status) = &answer[0];
        if status != "duplicate" {
            return Ok(format!("{id} {status}\n"));
        }
        let first = queuer.status(id).await.map_or("unknown", |s| s.as_str());
        Ok(format!(
            "{id} {first} (queued before with this idempotency key: nothing new was queued)\n"
        ))
    })
}

/// The problems of a `--to` text, each naming its flag.
fn flag_problems(errors: &[FieldError], options: &SendOptions) -> SendError {
    let problems = errors
        .iter()
        .map(|error| {
            let (flag, value) = match error.field.as_str() {
                "to" => ("--to", options.to.as_deref()),
                "body" => ("--body", None),
                "media_url" => ("--media", None),
                "send_at" => ("--at", options.at.as_deref()),
                "idempotency_key" => ("--idempotency-key", None),
                "validity_s" => ("--validity", None),
                other => (other, None),
            };
            let message = error.message.replace("media_url", "`--media`");
            match value {
                Some(value) => format!("`{flag}` {message}, got `{}`", rows::shown(value)),
                None => format!("`{flag}` {message}"),
            }
        })
        .collect();
    invalid(problems, "nothing was queued")
}

fn send_csv(
    settings: &Settings,
    options: &SendOptions,
    path: &Path,
    now: u64,
) -> Result<String, SendError> {
    check_shared_flags(options, now)?;
    let file = CsvFile::read(path).map_err(|p| invalid(vec![p], "nothing was queued"))?;
    let shared = rows::Shared {
        body: options.body.as_deref(),
        media: &options.media,
        at: options.at.as_deref(),
        validity_s: options.validity_s,
        lane: options.lane.unwrap_or(Lane::Bulk),
    };
    let sheet = Sheet::new(&file, shared).map_err(|p| invalid(p, "nothing was queued"))?;
    let total = check_rows(&sheet, &file.name, now)?;
    let progress = progress_bar(total);
    let run = CsvRun {
        topic: &options.topic,
        sheet: &sheet,
        name: &file.name,
        total,
        progress: &progress,
    };
    let tally = actix_rt::System::new().block_on(run.queue(settings, now));
    progress.finish_and_clear();
    let tally = tally?;
    Ok(format!(
        "queued {}, scheduled {}, opted out {}, already queued before {} ({total} rows of `{}` \
         on `{}`)\nbroadcast {}\n",
        tally.queued,
        tally.scheduled,
        tally.opted_out,
        tally.duplicates,
        file.name,
        options.topic,
        sheet.broadcast_id()
    ))
}

/// `--media` and `--at` (and whether there is a `--body`) hold for every row: checked once, on
/// a stand-in text, so that a problem is named once rather than on every line.
fn check_shared_flags(options: &SendOptions, now: u64) -> Result<(), SendError> {
    let probe = TextFields {
        to: Some("+15550000000".into()),
        body: options
            .body
            .as_ref()
            .filter(|b| !b.is_empty())
            .map(|_| "probe".into()),
        media_urls: options.media.clone(),
        send_at: options.at.clone(),
        validity_s: options.validity_s,
        ..TextFields::default()
    };
    match probe.check(now) {
        Ok(_) => Ok(()),
        Err(errors) => Err(flag_problems(&errors, options)),
    }
}

/// Most bad lines named: a file of a million bad rows is answered with the first lines and the
/// count, not a hundred megabytes on stderr.
pub(crate) const MAX_NAMED_LINES: usize = 100;

/// Checks every row; the number of rows, or the first [`MAX_NAMED_LINES`] bad lines named and
/// how many there were.
fn check_rows(sheet: &Sheet<'_>, name: &str, now: u64) -> Result<u64, SendError> {
    let mut rows = 0;
    let mut bad = 0usize;
    let mut problems = Vec::new();
    for row in sheet.rows(now) {
        rows += 1;
        if rows > MAX_CSV_ROWS {
            let problem = format!(
                "`{name}` has more than {MAX_CSV_ROWS} rows, the most `--csv` reads: split it \
                 into several files"
            );
            return Err(invalid(vec![problem], "nothing was queued"));
        }
        if let Err(problem) = row {
            bad += 1;
            if problems.len() < MAX_NAMED_LINES {
                problems.push(problem);
            }
        }
    }
    if rows == 0 {
        let problem = format!("`{name}` has no rows below its header line");
        return Err(invalid(vec![problem], "nothing was queued"));
    }
    if bad > 0 {
        let shown = if bad > problems.len() {
            format!(" (the first {} are named)", problems.len())
        } else {
            String::new()
        };
        let summary =
            format!("nothing was queued: {bad} of {rows} rows of `{name}` are bad{shown}");
        return Err(invalid(problems, summary));
    }
    Ok(rows as u64)
}

/// A bar on stderr while rows are queued; hidden when stderr is not a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = ProgressStyle::with_template("{wide_bar} {pos}/{len} rows queued ({eta})") {
        bar.set_style(style);
    }
    bar
}
