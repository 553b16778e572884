//! pyrowire's segment counts against Twilio's own segment calculator (npm
//! `sms-segments-calculator`, run with node from `tests/segments/`, where `scripts/test` installs
//! it): the same encoding and number of segments for every text of a generated corpus (GSM-7,
//! the extension table, UCS-2 scripts, combining marks, emoji sequences, typographic
//! punctuation, CR LF), plain and with Smart Encoding; the same GSM-7 alphabet; the same Smart
//! Encoding table. And a long reply's split never cuts a grapheme cluster.
//!
//! The one kind of text where pyrowire and the calculator may differ is kept out of the corpus
//! and checked on its own: ZWJ sequences whose emoji came after Unicode 10 (👩‍🦰, 🧑‍🤝‍🧑,
//! ❤️‍🔥). The calculator's grapheme splitter knows Unicode 10 and breaks them at the joiner;
//! pyrowire follows current Unicode, as phones do, and keeps them whole, so it may count one
//! segment more, never fewer.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;

use pyrowire::twilio::segments::{analyze, split, Encoding, MAX_BODY_CHARS};
use pyrowire::twilio::smart::smart_encode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use unicode_segmentation::UnicodeSegmentation;

/// How many texts the corpus holds.
const CORPUS_SIZE: usize = 3600;

const GSM_BASIC: &str = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION: &str = "^{}\\[~]|€";
const UCS2_LETTERS: &str = "жщюяЖЩΩλπ中文字日本語한국어ğşıçÇāēīōūąęłńśźżčřšžđ";
const COMBINING: &[&str] = &[
    "e\u{301}",
    "a\u{308}",
    "n\u{303}",
    "o\u{302}\u{323}",
    "u\u{31b}",
];
const TYPOGRAPHIC: &str = "’‘“”–—…«»•\u{a0}\u{202f}′″„‛";
/// Emoji sequences that Unicode 10 and current Unicode cluster alike.
const EMOJI: &[&str] = &[
    "😀",
    "👍",
    "👍🏽",
    "👋🏿",
    "🇺🇸",
    "🇯🇵",
    "🇪🇸",
    "🏳️‍🌈",
    "👨‍👩‍👧‍👦",
    "👩‍❤️‍👨",
    "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}",
    "1️⃣",
    "#️⃣",
    "❤️",
    "☺️",
    "🤷‍♀️",
    "👩‍⚕️",
    "👨‍💻",
];
/// ZWJ sequences of emoji newer than Unicode 10: the calculator breaks them, pyrowire does not.
const NEWER_ZWJ: &[&str] = &["👩‍🦰", "🧑‍🤝‍🧑", "❤️‍🔥", "🐻‍❄️", "🧑‍🦯"];

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn pick_char(rng: &mut StdRng, chars: &str) -> String {
    let chars: Vec<char> = chars.chars().collect();
    chars[rng.random_range(0..chars.len())].to_string()
}

/// A length near one of the boundaries that matter (one segment, the split sizes, their
/// multiples), or anywhere up to Twilio's 1600.
fn length(rng: &mut StdRng) -> usize {
    const EDGES: &[usize] = &[67, 70, 134, 153, 160, 201, 306, 459, 612, 1530];
    if rng.random_bool(0.6) {
        let edge = EDGES[rng.random_range(0..EDGES.len())] as i64;
        (edge + rng.random_range(-4..=4)).max(1) as usize
    } else {
        rng.random_range(1..=1600)
    }
}

/// One text of the given kind, of about `n` pieces.
fn text(rng: &mut StdRng, kind: usize, n: usize) -> String {
    let mut text = String::new();
    for _ in 0..n {
        let roll = rng.random_range(0..100);
        let piece = match kind {
            // GSM-7, its extension table now and then.
            0 if roll < 8 => pick_char(rng, GSM_EXTENSION),
            0 if roll < 10 => "\r\n".to_string(),
            0 => pick_char(rng, GSM_BASIC),
            // UCS-2 letters and combining marks among plain text.
            1 if roll < 30 => pick_char(rng, UCS2_LETTERS),
            1 if roll < 45 => pick(rng, COMBINING).to_string(),
            1 => pick_char(rng, GSM_BASIC),
            // Emoji sequences among text.
            2 if roll < 25 => pick(rng, EMOJI).to_string(),
            2 if roll < 30 => pick_char(rng, GSM_EXTENSION),
            2 => pick_char(rng, GSM_BASIC),
            // Typographic punctuation, which Smart Encoding replaces.
            3 if roll < 15 => pick_char(rng, TYPOGRAPHIC),
            3 if roll < 17 => pick(rng, EMOJI).to_string(),
            _ => pick_char(rng, GSM_BASIC),
        };
        text.push_str(&piece);
    }
    text
}

fn corpus() -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(0x5e9_3e47);
    let mut texts: Vec<String> = vec![
        String::new(),
        "It’s fine".into(),
        "¿Dónde está la estación?".into(),
        "Llego en 5 min 👍".into(),
    ];
    while texts.len() < CORPUS_SIZE {
        let kind = texts.len() % 4;
        let n = length(&mut rng);
        texts.push(text(&mut rng, kind, n));
    }
    texts
}

fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Gsm7 => "GSM-7",
        Encoding::Ucs2 => "UCS-2",
    }
}

fn ours(text: &str) -> (String, u64) {
    let info = analyze(text);
    (encoding_name(info.encoding).into(), info.segments.into())
}

fn theirs(pair: &Value) -> (String, u64) {
    (
        pair[0].as_str().unwrap().to_string(),
        pair[1].as_u64().unwrap(),
    )
}

/// Runs the calculator on `texts`, or panics saying why: this test runs only where
/// `scripts/test` installed the calculator, so a missing one is a failure, not a skip.
fn calculate(texts: &[String], tables: bool) -> Value {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/segments");
    assert!(
        dir.join("node_modules/sms-segments-calculator").is_dir(),
        "Twilio's segment calculator is not installed in {}: run scripts/test (it runs npm ci there)",
        dir.display()
    );
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), serde_json::to_vec(texts).unwrap()).unwrap();
    let output = Command::new("node")
        .arg(dir.join("calculator.js"))
        .arg(input.path())
        .args(tables.then_some("tables"))
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("could not run node (scripts/test installs it): {e}"));
    assert!(
        output.status.success(),
        "the calculator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
#[ignore = "needs node and Twilio's sms-segments-calculator, which scripts/test installs"]
fn segment_counts_equal_twilios_calculator_on_the_whole_corpus() {
    // Arrange
    let texts = corpus();
    let unicode_10_alike = texts
        .iter()
        .all(|t| NEWER_ZWJ.iter().all(|newer| !t.contains(newer)));

    // Act
    let calculated = calculate(&texts, false);

    // Assert
    assert!(unicode_10_alike);
    let results = calculated["results"].as_array().unwrap();
    assert_eq!(results.len(), texts.len());
    let mut mismatches = Vec::new();
    for (text, result) in texts.iter().zip(results) {
        let plain = (ours(text), theirs(&result["plain"]));
        let smart = (ours(&smart_encode(text)), theirs(&result["smart"]));
        if plain.0 != plain.1 || smart.0 != smart.1 {
            mismatches.push(format!(
                "{text:?}: plain ours {:?} calculator {:?}; smart ours {:?} calculator {:?}",
                plain.0, plain.1, smart.0, smart.1
            ));
        }
    }
    let kinds: HashSet<(String, u64)> = texts.iter().map(|t| ours(t)).collect();
    println!(
        "corpus: {} texts, {} (encoding, segments) pairs, {} mismatches",
        texts.len(),
        kinds.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} texts disagree with the calculator; the first:\n{}",
        mismatches.len(),
        texts.len(),
        mismatches[..mismatches.len().min(5)].join("\n")
    );
    assert!(kinds.len() > 40, "the corpus spans few cases: {kinds:?}");
}

#[test]
#[ignore = "needs node and Twilio's sms-segments-calculator, which scripts/test installs"]
fn the_gsm_alphabet_and_the_smart_encoding_table_equal_the_calculators() {
    // Arrange
    let calculated = calculate(&[], true);
    let gsm: HashSet<u32> = calculated["gsm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap() as u32)
        .collect();
    let table: HashMap<char, String> = calculated["smart_map"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.chars().next().unwrap(), v.as_str().unwrap().to_string()))
        .collect();

    // Act
    let bmp = (0..=0xFFFFu32).filter_map(char::from_u32);
    let alphabet_differs: Vec<char> = bmp
        .clone()
        .filter(|c| {
            (analyze(&c.to_string()).encoding == Encoding::Gsm7) != gsm.contains(&(*c as u32))
        })
        .collect();
    let table_differs: Vec<char> = bmp
        .filter(|c| {
            let expected = table.get(c).cloned().unwrap_or_else(|| c.to_string());
            smart_encode(&c.to_string()) != expected
        })
        .collect();

    // Assert
    assert!(
        gsm.len() > 120,
        "the calculator's alphabet: {} chars",
        gsm.len()
    );
    assert_eq!(alphabet_differs, Vec::<char>::new(), "GSM-7 alphabet");
    assert_eq!(table_differs, Vec::<char>::new(), "Smart Encoding table");
}

#[test]
#[ignore = "needs node and Twilio's sms-segments-calculator, which scripts/test installs"]
fn newer_zwj_emoji_stay_whole_and_never_count_fewer_segments_than_the_calculator() {
    // Arrange: each newer sequence straddling a segment boundary somewhere.
    let texts: Vec<String> = NEWER_ZWJ
        .iter()
        .flat_map(|emoji| {
            (60..68).flat_map(move |n| {
                (58..68).map(move |m| format!("{}{emoji}{}", "ж".repeat(n), "ж".repeat(m)))
            })
        })
        .collect();

    // Act
    let calculated = calculate(&texts, false);

    // Assert
    let results = calculated["results"].as_array().unwrap();
    let mut higher = 0;
    for (text, result) in texts.iter().zip(results) {
        let (ours, theirs) = (ours(text), theirs(&result["plain"]));
        assert_eq!(ours.0, theirs.0, "{text:?}");
        assert!(
            ours.1 >= theirs.1,
            "{text:?}: ours {ours:?}, calculator {theirs:?}"
        );
        higher += usize::from(ours.1 > theirs.1);
    }
    println!(
        "newer ZWJ emoji: {higher} of {} texts count one segment more than the calculator",
        texts.len()
    );
    assert!(
        higher > 0,
        "no text showed the difference this test is about"
    );
}

#[test]
fn a_long_reply_is_never_split_inside_a_grapheme_cluster() {
    // Arrange: no spaces, so every break is a hard one, across flags, ZWJ emoji and marks.
    let mut rng = StdRng::seed_from_u64(7);
    let texts: Vec<String> = (0..200)
        .map(|_| text(&mut rng, 2, 2500).replace(' ', "") + &"🇺🇸".repeat(900))
        .collect();

    for text in &texts {
        // Act
        let parts = split(text, MAX_BODY_CHARS);

        // Assert
        let clusters: Vec<&str> = text.graphemes(true).collect();
        let rejoined: Vec<&str> = parts.iter().flat_map(|p| p.graphemes(true)).collect();
        assert_eq!(rejoined, clusters, "a split cut a grapheme cluster");
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_BODY_CHARS));
    }
}
