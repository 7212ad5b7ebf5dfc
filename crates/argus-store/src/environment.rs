//! Which environment a database belongs to (`deployment_environment`, one
//! row): the marker behind the start-up refusals of issue 23. A process
//! cannot tell the live database URL from the sandbox one by looking at
//! the URL (hosts, users and names are the operator's choice, and a
//! pooler or a DNS alias can hide either behind the other), so the
//! database says what it is: `argusctl migrate` claims it once for
//! `ARGUS_ENV`, and every service checks the claim at start.

use argus_types::Environment;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::deployment_environment;
use crate::stored_text::Stored;
use crate::{Store, StoreError};

impl Store {
    /// The environment this database was claimed for, if any.
    pub async fn environment(&self) -> Result<Option<Environment>, StoreError> {
        let mut conn = self.conn().await?;
        let claimed: Option<Stored<Environment>> = deployment_environment::table
            .select(deployment_environment::environment)
            .first(&mut conn)
            .await
            .optional()?;
        Ok(claimed.map(Stored::into_inner))
    }

    /// Claims this database for `environment` unless it is claimed already;
    /// an error if it belongs to the other one.
    pub async fn claim_environment(&self, environment: Environment) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(deployment_environment::table)
            .values(deployment_environment::environment.eq(environment.as_str()))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await?;
        drop(conn);
        self.check_environment(environment).await
    }

    /// `Ok` only if this database was claimed for `environment`: every
    /// service runs it before it serves.
    pub async fn check_environment(&self, environment: Environment) -> Result<(), StoreError> {
        match self.environment().await? {
            Some(claimed) if claimed == environment => Ok(()),
            Some(claimed) => Err(StoreError::Config(format!(
                "ARGUS_DATABASE_URL names the {claimed} database, and this process is {environment} \
                 (ARGUS_ENV={environment}): refusing to start; point it at the {environment} database"
            ))),
            None => Err(StoreError::Config(format!(
                "the database at ARGUS_DATABASE_URL says no environment it belongs to: run \
                 `ARGUS_ENV={environment} argusctl migrate` against it first (it claims the database for that environment)"
            ))),
        }
    }
}
