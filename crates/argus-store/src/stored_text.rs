//! The one place the domain's enums and the typed ids meet their text
//! columns. Rows read a column through [`Stored`]
//! (`#[diesel(deserialize_as = Stored<T>)]`, or `Stored<T>` as the loaded
//! type of a single column), so a value the type does not accept (a state
//! the enum does not know, an id of another kind or malformed) fails the
//! read instead of passing as text; writes bind `as_str()` of the enum or
//! id, or, in a write's derived columns
//! (`#[diesel(serialize_as = AsText)]`), its text through [`AsText`], so a
//! misspelt state cannot be written. A JSON column read as a serde type
//! goes through [`StoredJson`] the same way.

use std::fmt::Display;
use std::str::FromStr;

use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Array, Jsonb, Nullable, Text};
use diesel::{Queryable, deserialize};
use serde::de::DeserializeOwned;

use crate::StoreError;

/// A text column read as `T`: a domain enum or a typed id.
pub struct Stored<T>(T);

impl<T: FromStr<Err: Display>> Queryable<Text, Pg> for Stored<T> {
    type Row = String;

    fn build(text: String) -> deserialize::Result<Self> {
        Ok(Self(parse_stored(&text)?))
    }
}

impl<T: FromStr<Err: Display>> Queryable<Nullable<Text>, Pg> for Stored<Option<T>> {
    type Row = Option<String>;

    fn build(text: Option<String>) -> deserialize::Result<Self> {
        Ok(Self(text.as_deref().map(parse_stored).transpose()?))
    }
}

impl<T: FromStr<Err: Display>> Queryable<Array<Text>, Pg> for Stored<Vec<T>> {
    type Row = Vec<String>;

    fn build(texts: Vec<String>) -> deserialize::Result<Self> {
        Ok(Self(texts.iter().map(|t| parse_stored(t)).collect::<Result<_, _>>()?))
    }
}

/// A domain enum or a typed id written to its text column: its text form,
/// which [`Stored`] reads back.
#[derive(Debug, AsExpression)]
#[diesel(sql_type = Text)]
pub struct AsText(String);

impl<T: Display> From<T> for AsText {
    fn from(value: T) -> Self {
        Self(value.to_string())
    }
}

impl ToSql<Text, Pg> for AsText {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(&self.0, out)
    }
}

/// A JSON column read as `T` through serde: a document `T` does not
/// accept fails the read.
pub struct StoredJson<T>(T);

impl<T: DeserializeOwned> Queryable<Jsonb, Pg> for StoredJson<T> {
    type Row = serde_json::Value;

    fn build(json: serde_json::Value) -> deserialize::Result<Self> {
        Ok(Self(serde_json::from_value(json).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))?))
    }
}

impl<T> StoredJson<T> {
    /// What `deserialize_as` calls to get the field's value.
    pub fn try_into(self) -> Result<T, std::convert::Infallible> {
        Ok(self.0)
    }
}

fn parse_stored<T: FromStr<Err: Display>>(text: &str) -> Result<T, StoreError> {
    text.parse().map_err(|e| StoreError::Corrupt(format!("stored `{text}`: {e}")))
}

impl<T> Stored<T> {
    /// What `deserialize_as` calls to get the field's value.
    pub fn try_into(self) -> Result<T, std::convert::Infallible> {
        Ok(self.0)
    }

    /// The value of a column loaded as `Stored<T>` on its own.
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}
