//! The scope catalog table, kept in step with the code's catalog.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::scopes;
use crate::{Store, StoreError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scopes, check_for_backend(diesel::pg::Pg))]
pub struct ScopeRecord {
    pub name: String,
    pub description: String,
}

/// Upserts every catalog scope (called under the migration lock, on the
/// blocking migration connection).
pub(crate) fn sync_catalog<C>(conn: &mut C) -> Result<(), StoreError>
where
    C: diesel::Connection<Backend = diesel::pg::Pg> + diesel::connection::LoadConnection,
{
    for scope in argus_types::SCOPE_CATALOG {
        let upsert = diesel::insert_into(scopes::table)
            .values((scopes::name.eq(scope.name), scopes::description.eq(scope.description)))
            .on_conflict(scopes::name)
            .do_update()
            .set(scopes::description.eq(scope.description));
        diesel::RunQueryDsl::execute(upsert, conn)?;
    }
    Ok(())
}

impl Store {
    /// The published catalog, by name.
    pub async fn published_scopes(&self) -> Result<Vec<ScopeRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(scopes::table
            .filter(scopes::published.eq(true))
            .order(scopes::name)
            .select(ScopeRecord::as_select())
            .load(&mut conn)
            .await?)
    }

    /// Of `names`, those the published catalog does not hold, sorted.
    pub async fn unknown_scopes(&self, names: &[String]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        let known: Vec<String> = scopes::table
            .filter(scopes::published.eq(true))
            .filter(scopes::name.eq_any(names))
            .select(scopes::name)
            .load(&mut conn)
            .await?;
        let mut unknown: Vec<String> = names.iter().filter(|n| !known.contains(n)).cloned().collect();
        unknown.sort();
        unknown.dedup();
        Ok(unknown)
    }
}
