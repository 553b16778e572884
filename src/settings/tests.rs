//! The repository's settings.toml parses for every profile, and profile choice follows SPEC.

use std::path::Path;

use super::*;

const ROOT: &str = include_str!("../../settings.toml");

fn env_with(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

#[test]
fn the_root_settings_file_parses_for_dev_and_prod() {
    let dev = load_str(ROOT, Path::new("settings.toml"), "dev", &env_with(&[])).unwrap();
    assert!(dev.profile.dry_run);
    assert_eq!(dev.profile.port, 62023);
    assert!(!dev.profile.signatures_checked("dev"));
    assert_eq!(dev.topics["sample"].workers, 2);
    let prod_env = env_with(&[
        ("REDIS_URL", "redis://cache:6379/0"),
        ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
        ("TWILIO_AUTH_TOKEN", "0123456789abcdef0123456789abcdef"),
    ]);
    let prod = load_str(ROOT, Path::new("settings.toml"), "prod", &prod_env).unwrap();
    assert!(!prod.profile.dry_run);
    assert_eq!(prod.profile.port, 0);
    assert!(prod.profile.signatures_checked("prod"));
}

#[test]
fn the_shipped_placeholder_credentials_refuse_a_profile_that_checks_signatures() {
    let prod_env = env_with(&[("REDIS_URL", "redis://cache:6379/0")]);
    let err = load_str(ROOT, Path::new("settings.toml"), "prod", &prod_env).unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "topics.sample.twilio.auth_token",
            "topics.sample.twilio.account_sid"
        ]
    );
    let text = err.to_string();
    assert!(text.contains("is a placeholder"), "{text}");
    let (token, sid) = (err.problems()[0].to_string(), err.problems()[1].to_string());
    assert!(token.contains("$TWILIO_AUTH_TOKEN"), "{token}");
    assert!(sid.contains("$TWILIO_ACCOUNT_SID"), "{sid}");
    assert!(
        !text.contains("`placeholder`"),
        "the value is not printed: {text}"
    );
}

#[test]
fn placeholders_are_refused_in_dev_once_it_sends_for_real_or_checks_signatures() {
    let sending = env_with(&[("PYROWIRE_DRY_RUN", "false")]);
    let err = load_str(ROOT, Path::new("settings.toml"), "dev", &sending).unwrap_err();
    assert_eq!(err.problems()[0].key, "topics.sample.twilio.auth_token");
    let signed = ROOT.replace(
        "validate_signatures = false ",
        "validate_signatures = true  ",
    );
    let err = load_str(&signed, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    assert_eq!(err.problems()[0].key, "topics.sample.twilio.auth_token");
}

#[test]
fn placeholder_detection_spares_real_looking_credentials() {
    use super::validate::credentials::{is_placeholder_sid, is_placeholder_token};
    assert!(is_placeholder_token("placeholder"));
    assert!(is_placeholder_token("CHANGEME"));
    assert!(is_placeholder_token("00000000000000000000000000000000"));
    assert!(!is_placeholder_token("0123456789abcdef0123456789abcdef"));
    assert!(is_placeholder_sid("AC00000000000000000000000000000000"));
    assert!(!is_placeholder_sid("AC0123456789abcdef0123456789abcdef"));
}

#[test]
fn an_unset_variable_of_the_chosen_profile_is_named() {
    let err = load_str(ROOT, Path::new("settings.toml"), "prod", &env_with(&[])).unwrap_err();
    assert_eq!(
        err.problems()[0].to_string(),
        "`profiles.prod.redis` environment variable `REDIS_URL` is not set"
    );
}

#[test]
fn numbers_and_booleans_may_come_from_the_environment() {
    let text = ROOT.replace("port = 62023", "port = \"${P:-7000}\"");
    let dev = load_str(
        &text,
        Path::new("s.toml"),
        "dev",
        &env_with(&[
            ("PYROWIRE_DRY_RUN", "false"),
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("TWILIO_AUTH_TOKEN", "0123456789abcdef0123456789abcdef"),
        ]),
    )
    .unwrap();
    assert_eq!(dev.profile.port, 7000);
    assert!(!dev.profile.dry_run);
}

#[test]
fn max_connections_defaults_to_what_the_root_file_documents_and_must_be_above_0() {
    let prod_env = env_with(&[
        ("REDIS_URL", "redis://cache:6379/0"),
        ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
        ("TWILIO_AUTH_TOKEN", "0123456789abcdef0123456789abcdef"),
    ]);
    let dev = load_str(ROOT, Path::new("settings.toml"), "dev", &env_with(&[])).unwrap();
    let prod = load_str(ROOT, Path::new("settings.toml"), "prod", &prod_env).unwrap();
    assert_eq!(dev.profile.max_connections, 256);
    assert_eq!(prod.profile.max_connections, dev.profile.max_connections);

    let text = ROOT.replace("\nmax_connections = 256", "\nmax_connections = 0");
    let err = load_str(&text, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    assert_eq!(err.problems().len(), 1);
    assert_eq!(
        err.problems()[0].to_string(),
        "`profiles.dev.max_connections` must be above 0"
    );
}

#[test]
fn twilio_max_connections_defaults_to_256_and_must_be_above_0() {
    let dev = load_str(ROOT, Path::new("settings.toml"), "dev", &env_with(&[])).unwrap();
    assert_eq!(dev.profile.twilio_max_connections, 256);
    let unset = ROOT.replace("\ntwilio_max_connections = 256", "\n");
    let dev = load_str(&unset, Path::new("s.toml"), "dev", &env_with(&[])).unwrap();
    assert_eq!(dev.profile.twilio_max_connections, 256);

    let text = ROOT.replace("twilio_max_connections = 256", "twilio_max_connections = 0");
    let err = load_str(&text, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    assert_eq!(err.problems().len(), 1);
    assert_eq!(
        err.problems()[0].to_string(),
        "`profiles.dev.twilio_max_connections` must be above 0"
    );
}

#[test]
fn the_outbound_api_is_off_by_default_and_a_short_or_placeholder_token_is_refused() {
    let dev = load_str(ROOT, Path::new("settings.toml"), "dev", &env_with(&[])).unwrap();
    assert!(dev
        .profile
        .api_token
        .as_ref()
        .is_none_or(|t| t.expose().is_empty()));
    let good = env_with(&[("PYROWIRE_API_TOKEN", "3f2a9c1e7b4d8a6f0e5c2b9d7a1f4e8c")]);
    let on = load_str(ROOT, Path::new("settings.toml"), "dev", &good).unwrap();
    assert!(on.profile.api_token.is_some());
    for bad in [
        "short-token",
        "changeme",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ] {
        let vars: &'static [(&'static str, &'static str)] =
            Box::leak(Box::new([("PYROWIRE_API_TOKEN", bad)]));
        let err = load_str(ROOT, Path::new("settings.toml"), "dev", &env_with(vars)).unwrap_err();
        let problem = err.problems()[0].to_string();
        assert!(
            problem.starts_with("`profiles.dev.api_token` must be at least 24"),
            "{problem}"
        );
        assert!(
            !problem.contains(bad),
            "the value is never printed: {problem}"
        );
    }
}

#[test]
fn an_unknown_profile_lists_the_known_ones() {
    let err = load_str(ROOT, Path::new("settings.toml"), "staging", &env_with(&[])).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`profiles.staging` is not defined"), "{text}");
    assert!(text.contains("`dev`") && text.contains("`prod`"), "{text}");
}

#[test]
fn profile_comes_from_flag_then_pyrowire_profile_then_env_then_dev() {
    let none = env_with(&[]);
    let both = env_with(&[("PYROWIRE_PROFILE", "Stage"), ("ENV", "PROD")]);
    let env_only = env_with(&[("ENV", "PROD")]);
    assert_eq!(choose_profile(Some("Local"), &both), "local");
    assert_eq!(choose_profile(None, &both), "stage");
    assert_eq!(choose_profile(None, &env_only), "prod");
    assert_eq!(choose_profile(None, &none), "dev");
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let dev = load_str(
        ROOT,
        Path::new("settings.toml"),
        "dev",
        &env_with(&[("TWILIO_AUTH_TOKEN", "s3cr3t")]),
    )
    .unwrap();
    let printed = format!("{dev:?}");
    assert!(!printed.contains("s3cr3t"));
}

#[test]
fn an_empty_top_level_key_is_named() {
    let text = format!("\"\" = 1\n{ROOT}");
    let err = load_str(&text, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    assert!(err.problems().iter().all(|p| !p.key.is_empty()), "{err}");
}

/// The root file with its sample topic's `from_number` and `messaging_service_sid` lines set to
/// these (None = the line removed).
fn with_sender(from_number: Option<&str>, service: Option<&str>) -> String {
    ROOT.lines()
        .filter_map(
            |line| match line.split('=').next().unwrap_or_default().trim() {
                "from_number" => from_number.map(|v| format!("from_number = \"{v}\"")),
                "messaging_service_sid" => {
                    service.map(|v| format!("messaging_service_sid = \"{v}\""))
                }
                _ => Some(line.to_string()),
            },
        )
        .map(|line| line + "\n")
        .collect()
}

const SERVICE: &str = "MG0123456789abcdef0123456789abcdef";

#[test]
fn a_topic_without_from_number_or_messaging_service_is_refused_naming_the_key() {
    let text = with_sender(None, None);

    let err = load_str(&text, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();

    assert_eq!(
        err.problems()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["`topics.sample.twilio.from_number` is required unless `messaging_service_sid` is set"]
    );
}

#[test]
fn a_messaging_service_sid_must_be_mg_and_32_hex_digits() {
    for bad in [
        "MG0123",
        "AC0123456789abcdef0123456789abcdef",
        "MG0123456789abcdef0123456789abcdeg",
    ] {
        let text = with_sender(None, Some(bad));

        let err = load_str(&text, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();

        let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [format!(
                "`topics.sample.twilio.messaging_service_sid` must be `MG` followed by 32 hex \
                 digits, got `{bad}`"
            )]
        );
    }
}

#[test]
fn a_messaging_service_alone_sends_through_it_and_wins_over_a_number() {
    use crate::twilio::client::Sender;
    let load = |text: &str| load_str(text, Path::new("s.toml"), "dev", &env_with(&[])).unwrap();

    let alone = load(&with_sender(None, Some(SERVICE)));
    let empty_number = load(&with_sender(Some(""), Some(SERVICE)));
    let both = load(&with_sender(Some("+15005550006"), Some(SERVICE)));
    let number_only = load(&with_sender(Some("+15005550006"), Some("")));

    let sender = |s: &Settings| Sender::from(&s.topics["sample"].twilio);
    let service = Sender::MessagingService(SERVICE.into());
    assert_eq!(sender(&alone), service);
    assert_eq!(alone.topics["sample"].twilio.from_number, None);
    assert_eq!(sender(&empty_number), service);
    assert_eq!(sender(&both), service);
    assert_eq!(sender(&number_only), Sender::Number("+15005550006".into()));
}

#[test]
fn the_root_file_sends_through_a_messaging_service_from_the_environment() {
    use crate::twilio::client::Sender;
    let env = env_with(&[("TWILIO_MESSAGING_SERVICE_SID", SERVICE)]);

    let dev = load_str(ROOT, Path::new("settings.toml"), "dev", &env).unwrap();
    let unset = load_str(ROOT, Path::new("settings.toml"), "dev", &env_with(&[])).unwrap();

    let twilio = &dev.topics["sample"].twilio;
    assert_eq!(
        Sender::from(twilio),
        Sender::MessagingService(SERVICE.into())
    );
    assert_eq!(unset.topics["sample"].twilio.messaging_service_sid, None);
}

mod properties {
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// Every problem names a key and says something. Keys lie under `profiles` or `topics`,
    /// except unknown top-level keys, which are named as they are (a deleted table header
    /// moves its keys to the top level).
    fn check_problems(text: &str, err: &SettingsError) -> Result<(), TestCaseError> {
        let SettingsError::Invalid { problems, .. } = err else {
            return Ok(());
        };
        prop_assert!(!problems.is_empty());
        let top: toml::Table = toml::from_str(text).unwrap();
        for p in problems {
            prop_assert!(!p.problem.trim().is_empty(), "{p:?}");
            let k = p.key.as_str();
            let known = ["profiles", "topics"].contains(&k)
                || k.starts_with("profiles.")
                || k.starts_with("topics.")
                || top.contains_key(k)
                || (k == "\"\"" && top.contains_key(""));
            prop_assert!(known && !k.is_empty(), "{p:?} in\n{text}");
        }
        Ok(())
    }

    /// A TOML value as it would be written after `=`.
    fn value() -> impl Strategy<Value = String> {
        let show = |v: toml::Value| v.to_string();
        prop_oneof![
            any::<String>().prop_map(move |s| show(toml::Value::String(s))),
            any::<i64>().prop_map(|n| n.to_string()),
            (0..70_000i64).prop_map(|n| n.to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<f64>().prop_map(move |f| show(toml::Value::Float(f))),
            "\"[0-9]{1,25}\"|\"-?[0-9]{1,4}(\\.[0-9])?\"|\"(true|false|yes| )\"",
            "\"\\$\\{[A-Z_]{0,6}(:-[ -~&&[^\"\\\\]]{0,8})?\\}?\"",
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just("{ kind = \"reply\", text = \"hi {number}\" }".to_string()),
            Just("{ message = 3 }".to_string()),
            Just("[1, \"a\", { b = true }]".to_string()),
        ]
    }

    const KEYS: &[&str] = &[
        "host",
        "port",
        "redis",
        "redis_prefix",
        "validate_signatures",
        "public_url",
        "claim_idle_ms",
        "dry_run",
        "recent_records",
        "handler",
        "send_on_accept",
        "max_message_length",
        "workers",
        "max_sends_per_second",
        "retry",
        "validators",
        "twilio",
        "properties",
        "max_attempts",
        "backoff_initial_ms",
        "account_sid",
        "auth_token",
        "secondary_auth_token",
        "from_number",
        "messaging_service_sid",
        "kind",
        "message",
        "must_match",
        "charset",
        "profiles",
        "topics",
    ];

    /// A key as written before `=`: known, bare, dotted, or quoted (possibly empty).
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(KEYS).prop_map(str::to_string),
            "[A-Za-z0-9_-]{1,10}",
            "[a-z]{1,5}\\.[a-z]{1,5}",
            ".*".prop_map(|s| toml::Value::String(s).to_string()),
        ]
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        /// Gives the `key = value` line at this index (among such lines) a new value.
        Replace(Index, String),
        /// Deletes a line, which may be a table header.
        Delete(Index),
        /// Inserts `key = value` before a line, or at the end.
        Insert(Index, String, String),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            4 => (any::<Index>(), value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
            2 => any::<Index>().prop_map(Mutation::Delete),
            2 => (any::<Index>(), key(), value()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        ]
    }

    fn apply(text: &str, mutation: &Mutation) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        match mutation {
            Mutation::Replace(at, value) => {
                let assignments: Vec<usize> = (0..lines.len())
                    .filter(|&i| {
                        let line = lines[i].trim_start();
                        line.contains('=') && !line.starts_with(['#', '['])
                    })
                    .collect();
                if !assignments.is_empty() {
                    let line = &mut lines[assignments[at.index(assignments.len())]];
                    let name = line.split('=').next().unwrap().trim_end().to_string();
                    *line = format!("{name} = {value}");
                }
            }
            Mutation::Delete(at) => {
                if !lines.is_empty() {
                    lines.remove(at.index(lines.len()));
                }
            }
            Mutation::Insert(at, key, value) => {
                lines.insert(at.index(lines.len() + 1), format!("{key} = {value}"));
            }
        }
        lines.join("\n")
    }

    /// TOML-ish text: headers and assignments the loader knows, in random order.
    fn tomlish() -> impl Strategy<Value = String> {
        let header = prop_oneof![
            Just("[profiles.dev]".to_string()),
            Just("[profiles]".to_string()),
            Just("[topics]".to_string()),
            "\\[topics\\.[a-z ]{0,4}\\]",
            "\\[topics\\.[a-z]{1,3}\\.(twilio|retry|validators|properties|handler)\\]",
            "\\[topics\\.[a-z]{1,3}\\.validators\\.[a-z]{1,3}\\]",
        ];
        let line = prop_oneof![
            1 => header,
            3 => (key(), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        ];
        prop::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,256}|[\\[\\]a-z.=\"{}\n ]{0,128}") {
            if let Err(err) = load_str(&text, Path::new("s.toml"), "dev", &no_env) {
                let _ = err.to_string();
            }
        }

        #[test]
        fn toml_like_text_never_panics_and_every_problem_names_its_key(text in tomlish()) {
            if let Err(err) = load_str(&text, Path::new("s.toml"), "dev", &no_env) {
                let _ = err.to_string();
                check_problems(&text, &err)?;
            }
        }

        #[test]
        fn a_mutated_root_file_loads_or_every_problem_names_its_key(
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            let text = mutations.iter().fold(ROOT.to_string(), |text, m| apply(&text, m));
            if let Err(err) = load_str(&text, Path::new("settings.toml"), "dev", &no_env) {
                let _ = err.to_string();
                check_problems(&text, &err)?;
            }
        }

        #[test]
        fn any_environment_value_loads_or_every_problem_names_its_key(
            value in "\\PC{0,24}|[0-9]{1,25}|redis://[a-z]{1,5}:[0-9]{1,6}/[0-9]{1,3}",
            profile in "dev|prod",
        ) {
            let env = |_: &str| Some(value.clone());
            if let Err(err) = load_str(ROOT, Path::new("settings.toml"), &profile, &env) {
                let _ = err.to_string();
                check_problems(ROOT, &err)?;
            }
        }
    }
}

#[test]
fn a_profile_sets_exactly_one_redis_form_and_a_readable_ca_file() {
    let none = ROOT.replace("redis = \"${REDIS_URL:-redis://127.0.0.1:6379/0}\"", "");
    let err = load_str(&none, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    assert!(
        err.to_string()
            .contains("`profiles.dev` must set exactly one of `redis`"),
        "{err}"
    );
    let both = format!(
        "{ROOT}\n[profiles.dev.redis_sentinel]\nmaster = \"m\"\nnodes = [\"redis://127.0.0.1:26379\"]\n"
    );
    let err = load_str(&both, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    assert!(err.to_string().contains("exactly one of"), "{err}");

    let text = ROOT.replace(
        "redis = \"${REDIS_URL:-redis://127.0.0.1:6379/0}\"",
        "redis = \"http://127.0.0.1:6379\"\nredis_ca_file = \"/no/such/ca.pem\"",
    );
    let err = load_str(&text, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"profiles.dev.redis"), "{keys:?}");
    assert!(keys.contains(&"profiles.dev.redis_ca_file"), "{keys:?}");
}

#[test]
fn a_sentinel_profile_is_read_and_checked() {
    let text = ROOT.replace(
        "redis = \"${REDIS_URL:-redis://127.0.0.1:6379/0}\"",
        "",
    ) + "\n[profiles.dev.redis_sentinel]\nmaster = \"mymaster\"\nnodes = [\"redis://:pw@127.0.0.1:26379\", \"tcp://x\"]\npassword = \"secret\"\n";
    let err = load_str(&text, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    assert_eq!(
        err.problems()[0].to_string(),
        "`profiles.dev.redis_sentinel.nodes[1]` must be a redis:// or rediss:// URL"
    );
    assert!(!err.to_string().contains("pw@"), "no password in messages");
    let good = text.replace(", \"tcp://x\"", "");
    let settings = load_str(&good, Path::new("s.toml"), "dev", &env_with(&[])).unwrap();
    let sentinel = settings.profile.redis_sentinel.unwrap();
    assert_eq!(sentinel.master, "mymaster");
    assert_eq!(sentinel.nodes.len(), 1);
}

#[test]
fn tls_and_replica_options_that_contradict_each_other_are_named() {
    let text = ROOT
        .replace(
            "redis = \"${REDIS_URL:-redis://127.0.0.1:6379/0}\"",
            "redis = \"rediss://127.0.0.1:6380/0\"\nredis_ca_file = \"settings.toml\"",
        )
        .replace("redis_tls_insecure = false", "redis_tls_insecure = true")
        .replace(
            "replica_ack_timeout_ms = 200",
            "replica_ack_timeout_ms = 5000",
        );
    let err = load_str(&text, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert!(
        keys.contains(&"profiles.dev.redis_tls_insecure"),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"profiles.dev.replica_ack_timeout_ms"),
        "{keys:?}"
    );

    let mixed = ROOT.replace("redis = \"${REDIS_URL:-redis://127.0.0.1:6379/0}\"", "")
        + "\n[profiles.dev.redis_sentinel]\nmaster = \"m\"\n\
           nodes = [\"redis://127.0.0.1:26379\", \"rediss://127.0.0.1:26380\"]\n";
    let err = load_str(&mixed, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    assert_eq!(
        err.problems()[0].to_string(),
        "`profiles.dev.redis_sentinel.nodes` must all be redis:// or all rediss:// URLs"
    );
}

#[test]
fn the_shipped_sample_topic_takes_everyday_texts_in_english_and_spanish_with_emoji() {
    let dev = load_str(ROOT, Path::new("settings.toml"), "dev", &env_with(&[])).unwrap();
    let sample = &dev.topics["sample"];
    let chain = crate::validators::ValidatorChain::build(
        &sample.validators,
        sample.max_message_length,
        &crate::validators::ValidatorRegistry::default(),
    )
    .unwrap();
    let verdict = |text: &str| chain.run(&crate::validators::test_support::message(text));

    for text in [
        "It’s fine",
        "“Quoted” – ok…",
        "¿Dónde está la estación?",
        "Llego en 5 min 👍",
        "Ça va? Oui, très bien 😀🇪🇸",
    ] {
        assert_eq!(verdict(text), crate::validators::Verdict::Accept, "{text}");
    }
    assert_ne!(verdict("bell\u{7}"), crate::validators::Verdict::Accept);
}

#[test]
fn a_topics_keywords_are_bounded_and_mean_one_thing() {
    // Arrange
    let with = |keywords: &str| {
        ROOT.replace(
            "[topics.sample.retry]",
            &format!("[topics.sample.keywords]\n{keywords}\n\n[topics.sample.retry]"),
        )
    };
    let good = with(
        r#"opt_out = ["parar", "Opt Out"]
opt_in = ["sí"]
help = ["ayuda"]"#,
    );
    let long = "x".repeat(65);
    let bad = with(&format!(
        r#"opt_out = ["yes", "{long}"]
help = ["  !  "]
opt_in = ["parar"]
colour = ["red"]"#
    ));
    let clash = with(
        r#"opt_out = ["parar"]
opt_in = ["PARAR!"]"#,
    );

    // Act
    let good = load_str(&good, Path::new("s.toml"), "dev", &env_with(&[])).unwrap();
    let unknown = load_str(&bad, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    let bad = bad.replace("colour = [\"red\"]", "");
    let bad = load_str(&bad, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    let clash = load_str(&clash, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();

    // Assert
    assert_eq!(good.topics["sample"].keywords.opt_out, ["parar", "Opt Out"]);
    assert!(unknown.to_string().contains("colour"), "{unknown}");
    let problems: Vec<String> = bad.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].contains("keywords.opt_out") && problems[0].contains("already an opt-in"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("keywords.opt_out") && problems[1].contains("1 to 64"),
        "{problems:#?}"
    );
    assert!(problems[2].contains("keywords.help"), "{problems:#?}");
    let problems: Vec<String> = clash.problems().iter().map(|p| p.to_string()).collect();
    assert!(
        problems[0].contains("keywords.opt_in") && problems[0].contains("already an opt-out"),
        "{problems:#?}"
    );
}

#[test]
fn a_send_window_and_default_timezone_are_checked_naming_the_key() {
    // Arrange
    let good = ROOT.replacen(
        "[topics.sample]\n",
        "[topics.sample]\nsend_window = { start = \"08:00\", end = \"21:00\", days = [\"mon\", \"fri\"] }\ndefault_timezone = \"Europe/Paris\"\n",
        1,
    );
    let backwards = good.replace("end = \"21:00\"", "end = \"07:00\"");
    let unknown_zone = good.replace("Europe/Paris", "Europe/Atlantis");

    // Act
    let good = load_str(&good, Path::new("s.toml"), "dev", &env_with(&[])).unwrap();
    let backwards = load_str(&backwards, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();
    let unknown_zone =
        load_str(&unknown_zone, Path::new("s.toml"), "dev", &env_with(&[])).unwrap_err();

    // Assert
    assert!(good.topics["sample"].window().is_some());
    assert!(
        backwards.to_string().contains("topics.sample.send_window"),
        "{backwards}"
    );
    assert!(
        unknown_zone
            .to_string()
            .contains("topics.sample.default_timezone"),
        "{unknown_zone}"
    );
}
