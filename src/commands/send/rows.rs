//! The rows of a `pyrowire send --csv` file: the file read whole (bounded) and hashed, its
//! header resolved against the `--body` template, and each row checked into a text. The rows are
//! read twice from the same bytes, once to check them all and once to queue them, so the text
//! queued is the text checked and nothing but the file's bytes is held in memory.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::domain::{NewText, TextFields};
use crate::handlers::{parse_template, TemplatePiece};

/// Largest CSV file read.
pub(crate) const MAX_CSV_BYTES: u64 = 50 * 1024 * 1024;
/// Most rows in one CSV file.
pub(crate) const MAX_CSV_ROWS: usize = 1_000_000;

/// Longest value of a stranger's file echoed in a message; longer ones are cut, marked `…`.
const MAX_SHOWN_CHARS: usize = 80;
/// Most column names listed in a message about the header.
const MAX_SHOWN_COLUMNS: usize = 20;

/// `value` as a message shows it: escaped, cut to [`MAX_SHOWN_CHARS`] characters.
pub(crate) fn shown(value: &str) -> String {
    let cut: String = value.chars().take(MAX_SHOWN_CHARS).collect();
    let mut shown = cut.escape_debug().to_string();
    if cut.len() < value.len() {
        shown.push('…');
    }
    shown
}

/// The columns a message lists: the first [`MAX_SHOWN_COLUMNS`], each cut, and how many more.
fn shown_columns(columns: &[String]) -> String {
    let mut list: Vec<String> = columns
        .iter()
        .take(MAX_SHOWN_COLUMNS)
        .map(|c| shown(c))
        .collect();
    if columns.len() > MAX_SHOWN_COLUMNS {
        list.push(format!("and {} more", columns.len() - MAX_SHOWN_COLUMNS));
    }
    list.join(", ")
}

/// A CSV file's bytes and their SHA-256 (hex), the first part of every row's idempotency key.
pub(crate) struct CsvFile {
    /// The path as given, for messages.
    pub(crate) name: String,
    bytes: Vec<u8>,
    digest: String,
}

impl CsvFile {
    /// Reads the file at `path`, refusing one over [`MAX_CSV_BYTES`].
    pub(crate) fn read(path: &Path) -> Result<CsvFile, String> {
        let name = path.display().to_string();
        let failed = |e: std::io::Error| format!("failed to read `{name}`: {e}");
        let file = std::fs::File::open(path).map_err(failed)?;
        let too_big = format!(
            "`{name}` is larger than {} MB, the most `--csv` reads: split it into several files",
            MAX_CSV_BYTES / (1024 * 1024)
        );
        if file.metadata().map_err(failed)?.len() > MAX_CSV_BYTES {
            return Err(too_big);
        }
        // Bounded again while reading: a pipe or a growing file has no size up front.
        let mut bytes = Vec::new();
        file.take(MAX_CSV_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(failed)?;
        if bytes.len() as u64 > MAX_CSV_BYTES {
            return Err(too_big);
        }
        let digest = format!("{:x}", Sha256::digest(&bytes));
        Ok(CsvFile {
            name,
            bytes,
            digest,
        })
    }

    fn reader(&self) -> csv::Reader<&[u8]> {
        // Flexible: a row with the wrong number of fields is named with its line, not a stop.
        csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(self.bytes.as_slice())
    }
}

/// A piece of the body template, its placeholders resolved to columns.
enum Part {
    Text(String),
    Column(usize),
}

/// What every row's text shares: the `--body` template and the other flags.
pub(crate) struct Shared<'a> {
    /// `--body`, a template of `{column}` placeholders.
    pub(crate) body: Option<&'a str>,
    /// `--media`.
    pub(crate) media: &'a [String],
    /// `--at`.
    pub(crate) at: Option<&'a str>,
    /// `--validity`.
    pub(crate) validity_s: Option<u64>,
    /// `--bulk` (the default) or `--interactive`.
    pub(crate) lane: crate::domain::Lane,
}

/// A CSV file with its header resolved: which column is `to`, what the template fills from.
pub(crate) struct Sheet<'a> {
    file: &'a CsvFile,
    to: usize,
    /// The `session` column, when there is one: each row's JSON object opens its recipient's
    /// session when the text is sent (an empty cell opens none).
    session: Option<usize>,
    columns: usize,
    body: Option<Vec<Part>>,
    shared: Shared<'a>,
    /// The SHA-256 (hex) of the flags every row shares, the second part of each row's
    /// idempotency key: the same file with another `--body` is another broadcast.
    flags: String,
}

impl<'a> Sheet<'a> {
    /// Reads the header and resolves the template; every problem is named.
    pub(crate) fn new(file: &'a CsvFile, shared: Shared<'a>) -> Result<Sheet<'a>, Vec<String>> {
        let columns = header(file)?;
        let Some(to) = columns.iter().position(|c| c == "to") else {
            return Err(vec![format!(
                "`{}` has no `to` column in its header line (its columns: {})",
                file.name,
                shown_columns(&columns)
            )]);
        };
        let session = columns.iter().position(|c| c == "session");
        let body = match shared.body {
            Some(source) => Some(resolve(source, &columns, &file.name)?),
            None => None,
        };
        let flags = serde_json::json!([shared.body, shared.media, shared.at]).to_string();
        let flags = format!("{:x}", Sha256::digest(flags.as_bytes()));
        Ok(Sheet {
            file,
            to,
            session,
            columns: columns.len(),
            body,
            shared,
            flags,
        })
    }

    /// Every row as a text, or its line number and what is wrong with it; `now` (ms) bounds
    /// `--at`.
    pub(crate) fn rows(&self, now: u64) -> impl Iterator<Item = Result<NewText, String>> + '_ {
        let mut lines = Lines {
            bytes: &self.file.bytes,
            at: 0,
            line: 1,
        };
        self.file
            .reader()
            .into_byte_records()
            .map(move |record| match record {
                Ok(record) => {
                    let line = lines.of(record.position());
                    self.text(&record, line, now)
                }
                Err(e) => Err(format!("line {}: {e}", lines.of(e.position()))),
            })
    }

    fn text(&self, record: &csv::ByteRecord, line: u64, now: u64) -> Result<NewText, String> {
        if record.len() != self.columns {
            let fields = match record.len() {
                1 => "1 field".to_string(),
                n => format!("{n} fields"),
            };
            return Err(format!(
                "line {line}: has {fields}, but the header line has {}",
                self.columns
            ));
        }
        let fields: Vec<&str> = record
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<_, _>>()
            .map_err(|_| format!("line {line}: is not UTF-8 text"))?;
        let to = fields[self.to].trim();
        let session = match self.session.map(|c| fields[c].trim()) {
            None | Some("") => None,
            Some(json) => Some(
                serde_json::from_str(json)
                    .map_err(|e| format!("line {line}: the session is not JSON ({e})"))?,
            ),
        };
        TextFields {
            to: Some(to.to_string()),
            body: self.body.as_ref().map(|parts| render(parts, &fields)),
            media_urls: self.shared.media.to_vec(),
            send_at: self.shared.at.map(str::to_string),
            idempotency_key: Some(format!("csv:{}:{}:{line}", self.file.digest, self.flags)),
            session,
            validity_s: self.shared.validity_s,
            priority: Some(self.shared.lane.as_str().to_string()),
            ..TextFields::default()
        }
        .check(now)
        .map_err(|errors| {
            let problems: Vec<String> = errors
                .iter()
                .map(|error| match error.field.as_str() {
                    "to" => format!("`to` {}, got `{}`", error.message, shown(to)),
                    "body" if error.message.starts_with("is required") => {
                        "the body is empty and there is no `--media`".to_string()
                    }
                    field => format!("the {field} {}", error.message),
                })
                .collect();
            format!("line {line}: {}", problems.join("; "))
        })
        .map(|mut text| {
            text.broadcast = Some(self.broadcast_id());
            text
        })
    }

    /// The broadcast the rows make: the same file and flags again continue it, as their
    /// idempotency keys continue its texts.
    pub(crate) fn broadcast_id(&self) -> String {
        crate::outbound::broadcast::id_of(&format!("csv:{}:{}", self.file.digest, self.flags))
    }
}

/// Line numbers of records, counted from their byte offsets. The csv crate's own line numbers
/// are off after a blank line (the record's position is where the blank line starts) and after
/// `\r\n`; a byte offset is off only by the line breaks skipped before the record.
struct Lines<'a> {
    bytes: &'a [u8],
    /// Where the last record started.
    at: usize,
    /// Its line.
    line: u64,
}

impl Lines<'_> {
    /// The line the record at `position` starts on (records come in order).
    fn of(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else {
            return self.line;
        };
        let mut start = usize::try_from(position.byte()).unwrap_or(usize::MAX);
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let start = start.clamp(self.at, self.bytes.len());
        let breaks = self.bytes[self.at..start].iter().filter(|b| **b == b'\n');
        self.line += breaks.count() as u64;
        self.at = start;
        self.line
    }
}

/// The header line's column names, trimmed; an empty file, a header that is not UTF-8 or one
/// naming a column twice is refused.
fn header(file: &CsvFile) -> Result<Vec<String>, Vec<String>> {
    let mut reader = file.reader();
    let names = reader
        .byte_headers()
        .map_err(|e| vec![format!("`{}`: {e}", file.name)])?;
    if names.iter().all(<[u8]>::is_empty) {
        return Err(vec![format!(
            "`{}` is empty: it needs a header line naming a `to` column",
            file.name
        )]);
    }
    let mut columns: Vec<String> = Vec::with_capacity(names.len());
    // A set beside the list: a header of 200,000 columns is checked in linear time.
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    for name in names {
        let name = std::str::from_utf8(name).map_err(|_| {
            vec![format!(
                "`{}`: its header line is not UTF-8 text",
                file.name
            )]
        })?;
        let name = name.trim().to_string();
        if !seen.insert(name.clone()) {
            return Err(vec![format!(
                "`{}` names the column `{}` twice in its header line",
                file.name,
                shown(&name)
            )]);
        }
        columns.push(name);
    }
    Ok(columns)
}

/// The template with each placeholder resolved to its column; every unknown one is named.
fn resolve(source: &str, columns: &[String], file: &str) -> Result<Vec<Part>, Vec<String>> {
    let pieces = parse_template(source).map_err(|e| vec![format!("`--body` {e}")])?;
    let index: std::collections::HashMap<&str, usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut parts = Vec::with_capacity(pieces.len());
    let mut unknown = Vec::new();
    for piece in pieces {
        match piece {
            TemplatePiece::Text(text) => parts.push(Part::Text(text)),
            TemplatePiece::Field(name) => match index.get(name.as_str()) {
                Some(&column) => parts.push(Part::Column(column)),
                None => unknown.push(format!(
                    "`--body` names `{{{}}}`, which is not a column of `{file}` (its columns: {})",
                    shown(&name),
                    shown_columns(columns)
                )),
            },
        }
    }
    if unknown.is_empty() {
        Ok(parts)
    } else {
        Err(unknown)
    }
}

fn render(parts: &[Part], fields: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Column(index) => out.push_str(fields[*index]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000_000;

    fn file(text: &str) -> CsvFile {
        CsvFile {
            name: "rows.csv".into(),
            bytes: text.as_bytes().to_vec(),
            digest: "d1".into(),
        }
    }

    fn body(template: &str) -> Shared<'_> {
        Shared {
            body: Some(template),
            media: &[],
            at: None,
            validity_s: None,
            lane: crate::domain::Lane::Bulk,
        }
    }

    #[test]
    fn fills_the_template_from_each_row_with_a_key_per_line() {
        let file = file("\u{feff}to, name\n+15551234567,Ann\n\n\"+15557654321\",\"B, {x}\"\n");
        let sheet = Sheet::new(&file, body("Hi {name}! {{ok}}")).unwrap();

        let texts: Vec<NewText> = sheet.rows(NOW).map(Result::unwrap).collect();

        let bodies: Vec<_> = texts.iter().map(|t| t.content.text.clone()).collect();
        assert_eq!(
            bodies,
            [Some("Hi Ann! {ok}".into()), Some("Hi B, {x}! {ok}".into())]
        );
        assert_eq!(texts[1].to.as_str(), "+15557654321");
        let flags = &sheet.flags;
        assert_eq!(flags.len(), 64, "the flags' SHA-256");
        assert_eq!(texts[0].idempotency_key, Some(format!("csv:d1:{flags}:2")));
        assert_eq!(texts[1].idempotency_key, Some(format!("csv:d1:{flags}:4")));
        let other = Sheet::new(&file, body("Bye {name}")).unwrap();
        assert_ne!(&other.flags, flags, "another --body, other keys");
    }

    #[test]
    fn a_wide_header_is_refused_in_a_short_message_and_values_are_echoed_cut() {
        let columns: Vec<String> = (0..200_000).map(|i| format!("c{i}")).collect();
        let wide = file(&format!(
            "{}
",
            columns.join(",")
        ));

        let refused = Sheet::new(&wide, body("{c1}")).err().unwrap();

        assert_eq!(refused.len(), 1);
        assert!(refused[0].len() < 1000, "{}", refused[0].len());
        assert!(refused[0].contains("and 199980 more"), "{}", refused[0]);
        let cut = shown(&"y".repeat(10_000));
        assert_eq!(cut.chars().count(), MAX_SHOWN_CHARS + 1);
    }

    #[test]
    fn numbers_lines_as_the_file_does_across_blank_lines_crlf_and_quoted_breaks() {
        let text = "to,name\r\n5,a\r\n\r\n\n6,\"two\nlines\"\n7,c\r\n\r\n8,d";
        let file = file(text);
        let sheet = Sheet::new(&file, body("{name}")).unwrap();

        let lines: Vec<String> = sheet
            .rows(NOW)
            .map(|row| row.unwrap_err().split(':').next().unwrap().to_string())
            .collect();

        assert_eq!(lines, ["line 2", "line 5", "line 7", "line 9"]);
    }

    #[test]
    fn names_each_bad_line_and_what_is_wrong() {
        let long = "x".repeat(1601);
        let text = format!(
            "to,name\n+15551234567,Ann\n5551234,Bo\n+15551234568\n+15551234569,{long}\n,\n"
        );
        let file = file(&text);
        let sheet = Sheet::new(&file, body("{name}")).unwrap();

        let errors: Vec<String> = sheet.rows(NOW).filter_map(Result::err).collect();

        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors[0].starts_with("line 3: `to` must be an E.164"),
            "{}",
            errors[0]
        );
        assert!(errors[0].ends_with("got `5551234`"), "{}", errors[0]);
        assert_eq!(errors[1], "line 4: has 1 field, but the header line has 2");
        assert!(errors[2].starts_with("line 5: the body must be at most 1600"));
        assert!(errors[3].contains("line 6: `to`"), "{}", errors[3]);
        assert!(errors[3].contains("the body is empty"), "{}", errors[3]);
    }

    #[test]
    fn refuses_a_bad_header_or_template() {
        let empty = file("");
        assert!(Sheet::new(&empty, body("x")).err().unwrap()[0].contains("is empty"));
        let no_to = file("phone,name\n");
        let error = &Sheet::new(&no_to, body("x")).err().unwrap()[0];
        assert!(error.contains("no `to` column") && error.contains("phone, name"));
        let twice = file("to,to\n");
        assert!(Sheet::new(&twice, body("x")).err().unwrap()[0].contains("`to` twice"));
        let file = file("to,name\n");
        let unknown = Sheet::new(&file, body("{nme} {age}")).err().unwrap();
        assert_eq!(unknown.len(), 2);
        assert!(unknown[0].starts_with("`--body` names `{nme}`, which is not a column"));
        let bad = Sheet::new(&file, body("{name")).err().unwrap();
        assert!(bad[0].starts_with("`--body` has a bad placeholder"));
    }

    #[test]
    fn refuses_a_file_over_the_size_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(MAX_CSV_BYTES + 1)
            .unwrap();

        let error = CsvFile::read(&path).err().unwrap();

        assert!(error.contains("larger than 50 MB"), "{error}");
        let missing = CsvFile::read(&dir.path().join("none.csv")).err().unwrap();
        assert!(missing.starts_with("failed to read"), "{missing}");
    }
}
