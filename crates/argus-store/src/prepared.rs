//! Hand-written statements that PostgreSQL parses and plans once per
//! connection. diesel prepares and caches every DSL query, but never a
//! `sql_query` (it marks them unsafe to cache), so a data-modifying CTE
//! written as one would be parsed and planned again on every call: on the
//! delivery path that was a fifth of PostgreSQL's time. diesel's cache is
//! keyed by the query's type, so each statement here is a type of its own
//! ([`prepared_statement!`]), whose `walk_ast` writes its SQL with
//! [`push_sql_with_binds`].

use diesel::pg::Pg;
use diesel::query_builder::AstPass;
use diesel::result::QueryResult;

/// Writes `sql`, handing each `$n` placeholder to `bind(out, n)`, which
/// pushes that parameter. diesel numbers parameters in the order they are
/// pushed, so a placeholder that appears twice is bound twice, which
/// PostgreSQL cannot tell from one.
pub(crate) fn push_sql_with_binds<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    sql: &'static str,
    mut bind: impl FnMut(&mut AstPass<'_, 'b, Pg>, usize) -> QueryResult<()>,
) -> QueryResult<()> {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        out.push_sql(&rest[..at]);
        if digits == 0 {
            // A `$` of the SQL itself (a dollar-quoted string, say).
            out.push_sql("$");
        } else {
            let n = rest[at + 1..at + 1 + digits].parse().unwrap_or(0);
            bind(out, n)?;
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_sql(rest);
    Ok(())
}

/// The error for a placeholder a statement has no parameter for: a bug in
/// the statement's SQL, caught by its tests.
pub(crate) fn no_such_parameter(n: usize) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("no parameter ${n}").into())
}

/// Makes `$statement<'a>`, a struct of the statement's parameters that
/// implements `QueryFragment<Pg>`, a query diesel prepares once per
/// connection and caches under its type.
macro_rules! prepared_statement {
    ($statement:ident) => {
        impl diesel::query_builder::QueryId for $statement<'_> {
            type QueryId = $statement<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
    };
}
pub(crate) use prepared_statement;
