//! Reads a `POST /v1/jobs` body as it streams in, never holding it whole:
//! a streaming JSON reader (struson) walks the document on a blocking
//! thread, fed the request's bytes through a channel; `input.ndjson` (a
//! JSON string of up to `ARGUS_JOBS_MAX_BODY_BYTES`) is decoded piece by
//! piece, checked line by line and handed on in chunks of whole lines for
//! the handler to store. Everything else in the body (kind, callback_url,
//! the other kinds' inputs) is small and read whole, within
//! [`MAX_FIELDS_BYTES`].

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

use actix_web::web::Bytes;
use serde::de::IgnoredAny;
use serde_json::Value;
use struson::reader::{JsonReader, JsonStreamReader, ReaderError, ValueType};
use struson::writer::{JsonStreamWriter, JsonWriter};
use tokio::sync::mpsc;

use crate::error::ApiError;

/// Stored chunks hold whole lines and are cut once they reach this size.
pub const CHUNK_BYTES: usize = 1 << 20;
/// The longest NDJSON line (an entity with its attributes is far smaller).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// What the body may hold besides `input.ndjson`: the rest of the API's
/// body limit.
pub const MAX_FIELDS_BYTES: usize = 64 << 10;

/// A piece of `input.ndjson` to store: whole lines, each ending in `\n`,
/// the first numbered `first_line` (1-based, blank lines counted).
pub struct NdjsonChunk {
    pub first_line: i64,
    pub data: Vec<u8>,
}

/// What `input.ndjson` held.
#[derive(Debug, Clone, Copy)]
pub struct NdjsonSummary {
    /// Lines that are not blank.
    pub lines: u64,
    /// Decoded bytes.
    pub bytes: u64,
}

/// The body, with `input.ndjson` taken out of `input` (and stored).
pub struct ParsedJob {
    pub kind: String,
    pub input: Value,
    pub callback_url: Option<String>,
    pub ndjson: Option<NdjsonSummary>,
}

/// How parsing ended when it did not produce a job.
pub enum ParseError {
    /// The body is bad: the error to answer.
    Rejected(ApiError),
    /// The handler stopped taking chunks (storing failed): its error is
    /// the answer.
    Abandoned,
}

impl From<ApiError> for ParseError {
    fn from(e: ApiError) -> Self {
        Self::Rejected(e)
    }
}

/// The request body as [`Read`], from the chunks the handler forwards.
/// Outside `input.ndjson` it counts what it hands out against
/// [`MAX_FIELDS_BYTES`], so no other field can make the reader buffer much.
pub struct BodyReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
    in_ndjson: Rc<Cell<bool>>,
    over_budget: Rc<Cell<bool>>,
    outside: usize,
}

impl BodyReader {
    pub fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Self { rx, current: Bytes::new(), in_ndjson: Rc::default(), over_budget: Rc::default(), outside: 0 }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(bytes) => self.current = bytes,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        if !self.in_ndjson.get() {
            self.outside += n;
            if self.outside > MAX_FIELDS_BYTES {
                self.over_budget.set(true);
                return Err(std::io::Error::other("fields too large"));
            }
        }
        Ok(n)
    }
}

/// Reads a whole body from `reader`, sending `input.ndjson`'s chunks to
/// `chunks`. Runs on a blocking thread.
pub fn parse(reader: BodyReader, chunks: &mpsc::Sender<NdjsonChunk>) -> Result<ParsedJob, ParseError> {
    let in_ndjson = reader.in_ndjson.clone();
    let over_budget = reader.over_budget.clone();
    let mut json = JsonStreamReader::new(reader);
    let fail = |e: ReaderError| -> ParseError {
        if over_budget.get() {
            ApiError::PayloadTooLarge(format!(
                "the fields beside input.ndjson must be at most {MAX_FIELDS_BYTES} bytes"
            ))
            .into()
        } else {
            not_a_job(e).into()
        }
    };
    let result = parse_document(&mut json, &in_ndjson, chunks);
    match result {
        Ok(job) => {
            json.consume_trailing_whitespace().map_err(fail)?;
            Ok(job)
        }
        Err(Failure::Reader(e)) => Err(fail(e)),
        Err(Failure::Stop(e)) => Err(e),
    }
}

enum Failure {
    Reader(ReaderError),
    Stop(ParseError),
}

impl From<ReaderError> for Failure {
    fn from(e: ReaderError) -> Self {
        Self::Reader(e)
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Stop(ParseError::Rejected(e))
    }
}

fn not_a_job(e: impl std::fmt::Display) -> ApiError {
    ApiError::Malformed(format!("the body is not a job: {e}"))
}

fn parse_document(
    json: &mut JsonStreamReader<BodyReader>,
    in_ndjson: &Cell<bool>,
    chunks: &mpsc::Sender<NdjsonChunk>,
) -> Result<ParsedJob, Failure> {
    if json.peek()? != ValueType::Object {
        return Err(not_a_job("expected an object").into());
    }
    json.begin_object()?;
    let (mut kind, mut input, mut callback_url) = (None, None, None);
    let mut ndjson = None;
    while json.has_next()? {
        let name = json.next_name_owned()?;
        let duplicate = || not_a_job(format!("duplicate field `{name}`"));
        match name.as_str() {
            "kind" => {
                if json.peek()? != ValueType::String {
                    return Err(not_a_job("kind must be a string").into());
                }
                if kind.replace(json.next_string()?).is_some() {
                    return Err(duplicate().into());
                }
            }
            "callback_url" => {
                let url = match json.peek()? {
                    ValueType::Null => {
                        json.next_null()?;
                        None
                    }
                    ValueType::String => Some(json.next_string()?),
                    _ => return Err(not_a_job("callback_url must be a string").into()),
                };
                if callback_url.replace(url).is_some() {
                    return Err(duplicate().into());
                }
            }
            "input" => {
                if input.is_some() {
                    return Err(duplicate().into());
                }
                let (rest, summary) = read_input(json, in_ndjson, chunks)?;
                input = Some(rest);
                ndjson = summary;
            }
            other => {
                return Err(not_a_job(format!(
                    "unknown field `{other}`, expected one of `kind`, `input`, `callback_url`"
                ))
                .into());
            }
        }
    }
    json.end_object()?;
    let kind = kind.ok_or_else(|| not_a_job("missing field `kind`"))?;
    Ok(ParsedJob { kind, input: input.unwrap_or(Value::Null), callback_url: callback_url.flatten(), ndjson })
}

/// The input without `ndjson`, which is streamed to `chunks`.
fn read_input(
    json: &mut JsonStreamReader<BodyReader>,
    in_ndjson: &Cell<bool>,
    chunks: &mpsc::Sender<NdjsonChunk>,
) -> Result<(Value, Option<NdjsonSummary>), Failure> {
    if json.peek()? != ValueType::Object {
        return Ok((read_value(json)?, None));
    }
    json.begin_object()?;
    let mut rest = serde_json::Map::new();
    let mut summary = None;
    while json.has_next()? {
        let name = json.next_name_owned()?;
        if name == "ndjson" {
            if summary.is_some() {
                return Err(not_a_job("duplicate field `ndjson`").into());
            }
            if json.peek()? != ValueType::String {
                return Err(ApiError::Validation("input.ndjson must be a string".into()).into());
            }
            in_ndjson.set(true);
            let streamed = stream_ndjson(json.next_string_reader()?, chunks);
            in_ndjson.set(false);
            summary = Some(streamed?);
        } else {
            let value = read_value(json)?;
            rest.insert(name, value);
        }
    }
    json.end_object()?;
    Ok((Value::Object(rest), summary))
}

/// The next value, read whole (it is within [`MAX_FIELDS_BYTES`]).
fn read_value(json: &mut JsonStreamReader<BodyReader>) -> Result<Value, Failure> {
    let mut bytes = Vec::new();
    let mut writer = JsonStreamWriter::new(&mut bytes);
    json.transfer_to(&mut writer).map_err(|e| match e {
        struson::reader::TransferError::ReaderError(e) => Failure::Reader(e),
        struson::reader::TransferError::WriterError(e) => Failure::from(not_a_job(e)),
    })?;
    writer.finish_document().map_err(not_a_job)?;
    Ok(serde_json::from_slice(&bytes).map_err(not_a_job)?)
}

/// Splits the decoded NDJSON into lines, checks that each line that is not
/// blank is a JSON object, and sends chunks of whole lines.
fn stream_ndjson(mut text: impl Read, chunks: &mpsc::Sender<NdjsonChunk>) -> Result<NdjsonSummary, Failure> {
    let mut buf = vec![0u8; 64 << 10];
    let mut chunk = Vec::with_capacity(CHUNK_BYTES + (64 << 10));
    let (mut first_line, mut line_no, mut line_start) = (1i64, 1i64, 0usize);
    let mut summary = NdjsonSummary { lines: 0, bytes: 0 };
    loop {
        let n = text.read(&mut buf).map_err(|e| Failure::from(not_a_job(e)))?;
        if n == 0 {
            break;
        }
        summary.bytes += n as u64;
        let mut piece = &buf[..n];
        while !piece.is_empty() {
            let (segment, ends_line) = match piece.iter().position(|&b| b == b'\n') {
                Some(i) => (&piece[..i], true),
                None => (piece, false),
            };
            chunk.extend_from_slice(segment);
            piece = &piece[segment.len() + usize::from(ends_line)..];
            if chunk.len() - line_start > MAX_LINE_BYTES {
                return Err(ApiError::Validation(format!(
                    "input.ndjson line {line_no} is longer than {MAX_LINE_BYTES} bytes"
                ))
                .into());
            }
            if ends_line {
                end_line(&mut chunk, line_start, line_no, &mut summary)?;
                line_no += 1;
                line_start = chunk.len();
                if chunk.len() >= CHUNK_BYTES {
                    send(chunks, first_line, &mut chunk)?;
                    (first_line, line_start) = (line_no, 0);
                }
            }
        }
    }
    if chunk.len() > line_start {
        end_line(&mut chunk, line_start, line_no, &mut summary)?;
    }
    if !chunk.is_empty() {
        send(chunks, first_line, &mut chunk)?;
    }
    Ok(summary)
}

/// Checks the line that starts at `start` in `chunk` and ends it with `\n`.
fn end_line(chunk: &mut Vec<u8>, start: usize, line_no: i64, summary: &mut NdjsonSummary) -> Result<(), Failure> {
    let line = &chunk[start..];
    if !line.trim_ascii().is_empty() {
        let object = line.trim_ascii_start().first() == Some(&b'{');
        if let Err(e) = serde_json::from_slice::<IgnoredAny>(line)
            .map(|_| ())
            .and_then(|()| if object { Ok(()) } else { Err(serde::de::Error::custom("not an object")) })
        {
            return Err(ApiError::Validation(format!(
                "input.ndjson line {line_no} is not a JSON object (column {})",
                e.column().max(1)
            ))
            .into());
        }
        summary.lines += 1;
    }
    chunk.push(b'\n');
    Ok(())
}

fn send(chunks: &mpsc::Sender<NdjsonChunk>, first_line: i64, chunk: &mut Vec<u8>) -> Result<(), Failure> {
    let data = std::mem::replace(chunk, Vec::with_capacity(CHUNK_BYTES + (64 << 10)));
    chunks.blocking_send(NdjsonChunk { first_line, data }).map_err(|_| Failure::Stop(ParseError::Abandoned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &str) -> (Result<ParsedJob, ParseError>, Vec<NdjsonChunk>) {
        // Many small pieces, so lines and escapes straddle them.
        let pieces: Vec<Bytes> = body.as_bytes().chunks(7).map(Bytes::copy_from_slice).collect();
        let (tx, rx) = mpsc::channel(pieces.len().max(1));
        for p in pieces {
            tx.try_send(p).unwrap();
        }
        drop(tx);
        let (chunk_tx, mut chunk_rx) = mpsc::channel(1024);
        let parsed = parse(BodyReader::new(rx), &chunk_tx);
        let mut got = Vec::new();
        while let Ok(c) = chunk_rx.try_recv() {
            got.push(c);
        }
        (parsed, got)
    }

    #[test]
    fn ndjson_is_streamed_in_line_chunks_and_the_rest_kept() {
        let body =
            r#"{"input": {"ndjson": "{\"a\":\"x\\ny\"}\n\n{\"b\":2}"}, "kind": "import.bulk", "callback_url": null}"#;
        let (parsed, chunks) = run(body);
        let Ok(job) = parsed else { panic!("not parsed") };
        assert_eq!(job.kind, "import.bulk");
        assert_eq!(job.input, serde_json::json!({}));
        let summary = job.ndjson.unwrap();
        assert_eq!(summary.lines, 2);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].first_line, 1);
        assert_eq!(String::from_utf8(chunks[0].data.clone()).unwrap(), "{\"a\":\"x\\ny\"}\n\n{\"b\":2}\n");
    }

    #[test]
    fn the_first_bad_line_is_named() {
        let (parsed, _) = run(r#"{"kind":"import.bulk","input":{"ndjson":"{}\n\n[1]\nnope"}}"#);
        match parsed {
            Err(ParseError::Rejected(ApiError::Validation(m))) => assert!(m.contains("line 3"), "{m}"),
            _ => panic!("not rejected"),
        }
    }

    #[test]
    fn other_fields_are_bounded_and_checked() {
        let big = format!(r#"{{"kind":"export.bulk","input":{{"x":"{}"}}}}"#, "a".repeat(MAX_FIELDS_BYTES));
        assert!(matches!(run(&big).0, Err(ParseError::Rejected(ApiError::PayloadTooLarge(_)))));
        assert!(matches!(run(r#"["x"]"#).0, Err(ParseError::Rejected(ApiError::Malformed(_)))));
        assert!(matches!(run(r#"{"kind":"a","kind":"b"}"#).0, Err(ParseError::Rejected(ApiError::Malformed(_)))));
        assert!(matches!(run(r#"{"kind":"a"} x"#).0, Err(ParseError::Rejected(ApiError::Malformed(_)))));
        let Ok(job) = run(r#"{"kind":"export.bulk","input":{"types":["entities"]}}"#).0 else { panic!() };
        assert_eq!(job.input, serde_json::json!({"types": ["entities"]}));
        assert!(job.ndjson.is_none());
    }
}
