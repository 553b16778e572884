//! Reading `settings.toml`: parse, interpolate `${VAR}`, pick the profile, deserialize with key
//! paths, validate. Every problem found is reported at once, each naming the file and the key.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::DeserializeOwned;

use super::interpolate::interpolate_tree;
use super::problem::Problem;
use super::validate::validate;
use super::{Profile, Settings, TopicSettings};

/// Where to read settings from and which profile to use.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The settings file.
    pub path: PathBuf,
    /// The profile asked for on the command line, if any.
    pub profile: Option<String>,
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("failed to read settings file `{path}`")]
    Read {
        /// The settings file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("failed to parse settings file `{path}`: {message}")]
    Parse {
        /// The settings file.
        path: PathBuf,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// The file is TOML but its content is wrong.
    #[error("invalid settings in `{path}`:\n{}", list(.problems))]
    Invalid {
        /// The settings file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl SettingsError {
    /// The individual problems (empty for read and parse errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            SettingsError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// The profile to use: the command line's, else `$PYROWIRE_PROFILE`, else `$ENV`, else `dev`;
/// lower-cased.
pub fn choose_profile(cli: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> String {
    cli.map(str::to_string)
        .or_else(|| env("PYROWIRE_PROFILE"))
        .or_else(|| env("ENV"))
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "dev".to_string())
        .trim()
        .to_lowercase()
}

/// Loads settings from a file, taking `${VAR}` values from the process environment.
pub fn load(options: &LoadOptions) -> Result<Settings, SettingsError> {
    let text = std::fs::read_to_string(&options.path).map_err(|source| SettingsError::Read {
        path: options.path.clone(),
        source,
    })?;
    let env = |name: &str| std::env::var(name).ok();
    let profile = choose_profile(options.profile.as_deref(), &env);
    load_str(&text, &options.path, &profile, &env)
}

/// Loads settings from text (the file's content), for the profile named, with `env` supplying
/// `${VAR}` values.
pub fn load_str(
    text: &str,
    path: &Path,
    profile_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, SettingsError> {
    let root: toml::Table = toml::from_str(text).map_err(|e| SettingsError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    let mut table = root;
    let mut problems = Vec::new();
    let profiles = take_table(&mut table, "profiles", &mut problems);
    let topics = take_table(&mut table, "topics", &mut problems);
    for key in table.keys() {
        // TOML allows an empty key (`"" = 1`); name it as written so the problem says which.
        let shown = if key.is_empty() { "\"\"" } else { key };
        problems.push(problem(
            shown,
            "is not a known key (expected `profiles` and `topics`)",
        ));
    }
    // Only the chosen profile is interpolated: another profile's variables need not be set.
    let profile = pick_profile(profiles, profile_name, env, &mut problems);
    let mut topics = toml::Value::Table(topics);
    let mut raw = Vec::new();
    interpolate_tree(&mut topics, "topics", env, &mut raw);
    problems.extend(
        raw.into_iter()
            .map(|(key, problem)| Problem { key, problem }),
    );
    let topics = match topics {
        toml::Value::Table(topics) => parse_topics(topics, &mut problems),
        _ => IndexMap::new(),
    };
    let invalid = |problems| SettingsError::Invalid {
        path: path.to_path_buf(),
        problems,
    };
    let Some(profile) = profile.filter(|_| problems.is_empty()) else {
        return Err(invalid(problems));
    };
    let settings = Settings {
        path: path.to_path_buf(),
        profile_name: profile_name.to_string(),
        profile,
        topics,
    };
    validate(&settings, &mut problems);
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(invalid(problems))
    }
}

fn problem(key: &str, text: &str) -> Problem {
    Problem {
        key: key.to_string(),
        problem: text.to_string(),
    }
}

fn take_table(table: &mut toml::Table, key: &str, problems: &mut Vec<Problem>) -> toml::Table {
    match table.remove(key) {
        Some(toml::Value::Table(inner)) => inner,
        Some(_) => {
            problems.push(problem(key, "must be a table"));
            toml::Table::new()
        }
        None => {
            problems.push(problem(key, "is required"));
            toml::Table::new()
        }
    }
}

fn pick_profile(
    mut profiles: toml::Table,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) -> Option<Profile> {
    let key = format!("profiles.{name}");
    let Some(mut value) = profiles.remove(name) else {
        let known: Vec<_> = profiles.keys().map(|k| format!("`{k}`")).collect();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        problems.push(problem(
            &key,
            &format!("is not defined (the file defines: {known})"),
        ));
        return None;
    };
    let mut raw = Vec::new();
    interpolate_tree(&mut value, &key, env, &mut raw);
    if !raw.is_empty() {
        problems.extend(
            raw.into_iter()
                .map(|(key, problem)| Problem { key, problem }),
        );
        return None;
    }
    parse_section(value, &key, problems)
}

fn parse_topics(
    topics: toml::Table,
    problems: &mut Vec<Problem>,
) -> IndexMap<String, TopicSettings> {
    if topics.is_empty() {
        problems.push(problem("topics", "must define at least one topic"));
    }
    let mut parsed = IndexMap::new();
    for (name, value) in topics {
        let key = format!("topics.{name}");
        if let Some(topic) = parse_section(value, &key, problems) {
            parsed.insert(name, topic);
        }
    }
    parsed
}

/// Deserializes one section, turning serde's message into a key path and a plain problem.
fn parse_section<T: DeserializeOwned>(
    value: toml::Value,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            let path = error.path().to_string();
            let mut full = key.to_string();
            if !path.is_empty() && path != "." {
                full = format!("{full}.{path}");
            }
            problems.push(describe(&full, &error.into_inner().to_string()));
            None
        }
    }
}

fn describe(key: &str, message: &str) -> Problem {
    let message = message.trim();
    let with_field = |field: &str| {
        if key.ends_with(&format!(".{field}")) {
            key.to_string()
        } else {
            format!("{key}.{field}")
        }
    };
    if let Some(field) = between(message, "missing field `", "`") {
        return problem(&with_field(field), "is required");
    }
    if let Some(field) = between(message, "unknown field `", "`") {
        let expected = message
            .split_once(", expected ")
            .map(|(_, rest)| format!(" (expected {rest})"))
            .unwrap_or_default();
        return problem(&with_field(field), &format!("is not a known key{expected}"));
    }
    if message.contains("untagged enum HandlerSpec") {
        return problem(key, "must be a handler name or a table with `kind`");
    }
    if message.contains("untagged enum ValidatorSpec") {
        return problem(key, "must be a message string or a table with `message`");
    }
    let message = message.strip_prefix("invalid type: ").unwrap_or(message);
    problem(key, &format!("has a bad value: {message}"))
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}
