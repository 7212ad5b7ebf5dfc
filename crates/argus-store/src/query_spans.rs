//! A span per SQL statement, child of whatever span is current when the
//! statement runs (the request, the consumer, ...), named and attributed
//! after the OpenTelemetry database conventions. Only the statement text is
//! recorded, never its bind values, so no secret reaches a trace.

use std::collections::VecDeque;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use tracing::Span;

/// Installed on every pooled connection.
#[derive(Default)]
pub(crate) struct QuerySpans {
    /// Statements started and not yet finished, oldest first: PostgreSQL
    /// answers a pipelined connection's statements in order.
    open: VecDeque<Span>,
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
                    let text = query.to_string();
                    let sql = statement_text(&text);
                    let summary = summarize(sql);
                    span.record("otel.name", summary.name.as_str());
                    span.record("db.operation.name", summary.operation.as_str());
                    if let Some(table) = &summary.table {
                        span.record("db.collection.name", table.as_str());
                    }
                    span.record("db.query.text", sql);
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

/// diesel's debug form is `SQL -- binds: [...]`; only the SQL is kept.
fn statement_text(debug: &str) -> &str {
    debug.split(" -- binds: ").next().unwrap_or(debug).trim()
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
        assert_eq!(statement_text("SELECT 1 -- binds: [\"secret\"]"), "SELECT 1");
    }
}
