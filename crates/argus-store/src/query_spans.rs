//! A span per SQL statement, child of whatever span is current when the
//! statement runs (the request, the consumer, ...), named and attributed
//! after the OpenTelemetry database conventions. Only the statement text is
//! recorded, never its bind values, so no secret reaches a trace.

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::sync::Arc;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use tracing::Span;

/// Distinct statements whose summary one connection remembers.
const SUMMARIES_MAX: usize = 512;

/// Installed on every pooled connection.
#[derive(Default)]
pub(crate) struct QuerySpans {
    /// Statements started and not yet finished, oldest first: PostgreSQL
    /// answers a pipelined connection's statements in order.
    open: VecDeque<Span>,
    /// A connection runs the same few statements over and over.
    summaries: HashMap<String, Arc<Summary>>,
}

impl Instrumentation for QuerySpans {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                let span = tracing::info_span!(
                    "db.query",
                    otel.name = tracing::field::Empty,
                    otel.kind = "client",
                    otel.status_code = tracing::field::Empty,
                    "db.system.name" = "postgresql",
                    "db.operation.name" = tracing::field::Empty,
                    "db.collection.name" = tracing::field::Empty,
                    "db.query.text" = tracing::field::Empty,
                );
                if !span.is_disabled() {
                    let sql = statement_text(query);
                    let summary = self.summary(&sql);
                    span.record("otel.name", summary.name.as_str());
                    span.record("db.operation.name", summary.operation.as_str());
                    if let Some(table) = &summary.table {
                        span.record("db.collection.name", table.as_str());
                    }
                    span.record("db.query.text", sql.as_str());
                }
                self.open.push_back(span);
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                if let Some(span) = self.open.pop_front()
                    && error.is_some()
                {
                    span.record("otel.status_code", "error");
                }
            }
            _ => {}
        }
    }
}

impl QuerySpans {
    fn summary(&mut self, sql: &str) -> Arc<Summary> {
        if let Some(summary) = self.summaries.get(sql) {
            return summary.clone();
        }
        if self.summaries.len() >= SUMMARIES_MAX {
            self.summaries.clear();
        }
        let summary = Arc::new(summarize(sql));
        self.summaries.insert(sql.to_owned(), summary.clone());
        summary
    }
}

const BINDS_MARKER: &str = " -- binds: ";

/// The statement's SQL without its bind values. diesel's display form is
/// `SQL -- binds: [...]`; the writer stops it at the marker, so the binds
/// (never recorded) are not even formatted.
fn statement_text(query: &dyn fmt::Display) -> String {
    struct UntilBinds(String);
    impl fmt::Write for UntilBinds {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            match s.find(BINDS_MARKER) {
                Some(end) => {
                    self.0.push_str(&s[..end]);
                    Err(fmt::Error)
                }
                None => {
                    self.0.push_str(s);
                    Ok(())
                }
            }
        }
    }
    let mut text = UntilBinds(String::new());
    // The error is the writer's own stop at the binds.
    let _ = write!(text, "{query}");
    let mut sql = text.0;
    if let Some(end) = sql.find(BINDS_MARKER) {
        sql.truncate(end);
    }
    sql.trim().to_owned()
}

struct Summary {
    name: String,
    operation: String,
    table: Option<String>,
}

/// `SELECT apps`, `INSERT outbox`, ...: the span name the conventions ask
/// for, from the statement's first keyword and the table it acts on.
fn summarize(sql: &str) -> Summary {
    let words: Vec<&str> = sql.split_whitespace().take(64).collect();
    let operation = words.first().map(|w| w.to_ascii_uppercase()).unwrap_or_else(|| "QUERY".to_owned());
    let after = match operation.as_str() {
        "SELECT" | "DELETE" => "FROM",
        "INSERT" => "INTO",
        "UPDATE" => "UPDATE",
        _ => "",
    };
    let table = words
        .iter()
        .position(|w| !after.is_empty() && w.eq_ignore_ascii_case(after))
        .and_then(|i| words.get(i + 1))
        .map(|t| t.trim_matches(|c: char| c == '"' || c == '(' || c == ')' || c == ',').to_owned())
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'));
    let name = match &table {
        Some(t) => format!("{operation} {t}"),
        None => operation.clone(),
    };
    Summary { name, operation, table }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_statements_by_operation_and_table() {
        let s = summarize(r#"SELECT "apps"."client_id" FROM "apps" WHERE "apps"."tenant_id" = $1"#);
        assert_eq!((s.name.as_str(), s.table.as_deref()), ("SELECT apps", Some("apps")));
        let s = summarize("INSERT INTO \"outbox\" (\"id\") VALUES ($1)");
        assert_eq!(s.name, "INSERT outbox");
        let s = summarize("BEGIN");
        assert_eq!((s.name.as_str(), s.table), ("BEGIN", None));
        assert_eq!(statement_text(&"SELECT 1 -- binds: [\"secret\"]"), "SELECT 1");
        let query = diesel::sql_query("SELECT $1").bind::<diesel::sql_types::Text, _>("secret");
        let query = diesel::debug_query::<diesel::pg::Pg, _>(&query);
        assert_eq!(statement_text(&query), "SELECT $1");
    }
}
