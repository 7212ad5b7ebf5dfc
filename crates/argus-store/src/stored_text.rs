//! The one place the domain's enums meet their text columns. Rows read a
//! column through [`Stored`] (`#[diesel(deserialize_as = Stored<T>)]`), so
//! a value the enum does not know fails the read instead of passing as
//! text; writes bind `as_str()` of the enum, so a misspelt state cannot
//! be written.

use std::str::FromStr;

use argus_domain::DomainError;
use diesel::Queryable;
use diesel::deserialize;
use diesel::pg::Pg;
use diesel::sql_types::{Nullable, Text};

/// A text column read as the domain enum `T`.
pub struct Stored<T>(T);

impl<T: FromStr<Err = DomainError>> Queryable<Text, Pg> for Stored<T> {
    type Row = String;

    fn build(text: String) -> deserialize::Result<Self> {
        Ok(Self(text.parse()?))
    }
}

impl<T: FromStr<Err = DomainError>> Queryable<Nullable<Text>, Pg> for Stored<Option<T>> {
    type Row = Option<String>;

    fn build(text: Option<String>) -> deserialize::Result<Self> {
        Ok(Self(text.map(|t| t.parse()).transpose()?))
    }
}

/// Reads a text value selected outside a [`Stored`] row.
pub(crate) fn parse_stored<T: FromStr<Err = DomainError>>(text: &str) -> Result<T, crate::StoreError> {
    text.parse().map_err(|e: DomainError| crate::StoreError::Corrupt(e.to_string()))
}

impl<T> Stored<T> {
    /// What `deserialize_as` calls to get the field's value.
    pub fn try_into(self) -> Result<T, std::convert::Infallible> {
        Ok(self.0)
    }
}
