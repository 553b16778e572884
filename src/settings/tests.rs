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
    let prod_env = env_with(&[("REDIS_URL", "redis://cache:6379/0")]);
    let prod = load_str(ROOT, Path::new("settings.toml"), "prod", &prod_env).unwrap();
    assert!(!prod.profile.dry_run);
    assert_eq!(prod.profile.port, 0);
    assert!(prod.profile.signatures_checked("prod"));
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
        &env_with(&[("PYROWIRE_DRY_RUN", "false")]),
    )
    .unwrap();
    assert_eq!(dev.profile.port, 7000);
    assert!(!dev.profile.dry_run);
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
