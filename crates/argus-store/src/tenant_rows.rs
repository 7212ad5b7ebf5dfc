//! What every tenant-owned table shares: each row belongs to one tenant and
//! has a text id, so "the row `id` of this tenant" and "a page of this
//! tenant's rows" are written once here, and no query can leave out the
//! tenant.

use argus_types::TenantId;
use argus_types::pagination::{PageRequest, fetch_limit};
use diesel::dsl::{And, AsSelect, Asc, Desc, Eq, Filter, Gt, IntoBoxed, Limit, Lt, Select};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::AsQuery;
use diesel::query_dsl::methods::{BoxedDsl, FilterDsl, LimitDsl, OrderDsl, SelectDsl};
use diesel::sql_types::Text;
use diesel_async::methods::LoadQuery;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;

use crate::{Page, StoreError};

/// A table whose rows each belong to one tenant, keyed by a text id.
pub(crate) trait TenantTable: Table {
    /// The owning tenant's id.
    type TenantId: Column<Table = Self> + Expression<SqlType = Text> + Default + Copy;
    /// The row's id: what orders a listing and what its cursor names.
    type Id: Column<Table = Self> + Expression<SqlType = Text> + Default + Copy;

    /// The tenant's rows.
    fn of_tenant<'a>(self, tenant: &'a TenantId) -> OfTenant<'a, Self>
    where
        Self: FilterDsl<Eq<Self::TenantId, &'a str>>,
    {
        self.filter(Self::TenantId::default().eq(tenant.as_str()))
    }

    /// The row `id` if `tenant` owns it: to select, update or delete.
    fn tenant_row<'a>(self, tenant: &'a TenantId, id: &'a str) -> TenantRow<'a, Self>
    where
        Self::Query: FilterDsl<IsTenantRow<'a, Self>>,
    {
        let is_row = Self::TenantId::default().eq(tenant.as_str()).and(Self::Id::default().eq(id));
        FilterDsl::filter(self.as_query(), is_row)
    }
}

/// Declares the table `$table` of the schema a [`TenantTable`]: its
/// `tenant_id` column names the owner and `$id` (`id` unless given) keys
/// the row.
macro_rules! tenant_table {
    ($table:ident) => {
        $crate::tenant_rows::tenant_table!($table, id);
    };
    ($table:ident, $id:ident) => {
        impl $crate::tenant_rows::TenantTable for $crate::schema::$table::table {
            type TenantId = $crate::schema::$table::tenant_id;
            type Id = $crate::schema::$table::$id;
        }
    };
}

pub(crate) use tenant_table;

pub(crate) type OfTenant<'a, T> = Filter<T, Eq<<T as TenantTable>::TenantId, &'a str>>;
type IsTenantRow<'a, T> = And<Eq<<T as TenantTable>::TenantId, &'a str>, Eq<<T as TenantTable>::Id, &'a str>>;
pub(crate) type TenantRow<'a, T> = Filter<<T as AsQuery>::Query, IsTenantRow<'a, T>>;

/// The row a [`TenantTable::tenant_row`] query finds, read as `R`; `None`
/// when there is none (or another tenant owns it). The future is boxed:
/// callers (a transaction's body, a GraphQL resolver) need it `Send` for
/// every lifetime, which rustc cannot prove of an `async fn` whose bounds
/// name the query's lifetime. The connection may live shorter than the
/// query (a pooled one taken for this read alone).
pub(crate) fn find_row<'c, 'q: 'c, Q, R>(
    conn: &'c mut AsyncPgConnection,
    row: Q,
) -> BoxFuture<'c, Result<Option<R>, StoreError>>
where
    Q: SelectDsl<AsSelect<R, Pg>>,
    R: Selectable<Pg> + Send + 'q,
    AsSelect<R, Pg>: Expression,
    Select<Q, AsSelect<R, Pg>>: LimitDsl,
    Limit<Select<Q, AsSelect<R, Pg>>>: LoadQuery<'q, AsyncPgConnection, R> + Send + 'q,
{
    // `LIMIT 1`, as `first` would write it.
    let query = LimitDsl::limit(SelectDsl::select(row, R::as_select()), 1);
    Box::pin(async move { Ok(query.get_result(conn).await.optional()?) })
}

/// A listing's query of rows read as `R`, before the page is cut from it:
/// what a caller narrows with its filters.
pub(crate) type Listing<'a, T, R> = IntoBoxed<'a, Select<T, (<T as TenantTable>::Id, AsSelect<R, Pg>)>, Pg>;

/// Which page of a listing to read: a [`PageRequest`] (the ids after its
/// cursor, at most its limit) in id order one way or the other.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageQuery<'a> {
    after: Option<&'a str>,
    limit: usize,
    newest_first: bool,
}

impl<'a> PageQuery<'a> {
    /// Ascending ids: the page after the cursor has greater ids.
    pub(crate) fn oldest_first<I: AsRef<str>>(page: &'a PageRequest<I>) -> Self {
        Self { after: page.after.as_ref().map(AsRef::as_ref), limit: page.limit, newest_first: false }
    }

    /// Descending ids: the page after the cursor has smaller ids.
    pub(crate) fn newest_first<I: AsRef<str>>(page: &'a PageRequest<I>) -> Self {
        Self { newest_first: true, ..Self::oldest_first(page) }
    }
}

/// One page of the tenant's rows of `table`, narrowed by `narrow` (the
/// caller's filters): the limit + 1 fetch that [`Page::from_overfetch`]
/// cuts. Each row is read with its id's text, the cursor. The future is
/// boxed, and the connection may live shorter, as with [`find_row`].
pub(crate) fn list_page<'c, 'a: 'c, T, R>(
    conn: &'c mut AsyncPgConnection,
    table: T,
    tenant: &'a TenantId,
    page: PageQuery<'a>,
    narrow: impl FnOnce(Listing<'a, T, R>) -> Listing<'a, T, R>,
) -> BoxFuture<'c, Result<Page<R>, StoreError>>
where
    T: TenantTable + SelectDsl<(T::Id, AsSelect<R, Pg>)>,
    R: Selectable<Pg> + Send + 'a,
    (T::Id, AsSelect<R, Pg>): Expression,
    Select<T, (T::Id, AsSelect<R, Pg>)>: BoxedDsl<'a, Pg>,
    Listing<'a, T, R>: FilterDsl<Eq<T::TenantId, &'a str>, Output = Listing<'a, T, R>>
        + FilterDsl<Gt<T::Id, &'a str>, Output = Listing<'a, T, R>>
        + FilterDsl<Lt<T::Id, &'a str>, Output = Listing<'a, T, R>>
        + OrderDsl<Asc<T::Id>, Output = Listing<'a, T, R>>
        + OrderDsl<Desc<T::Id>, Output = Listing<'a, T, R>>
        + LimitDsl<Output = Listing<'a, T, R>>
        + LoadQuery<'a, AsyncPgConnection, (String, R)>
        + Send
        + 'a,
{
    // The query is generic here, so the query builder's traits are called
    // by name rather than as `QueryDsl` methods.
    let id = T::Id::default();
    let rows = BoxedDsl::internal_into_boxed(SelectDsl::select(table, (id, R::as_select())));
    let mut query = FilterDsl::filter(rows, T::TenantId::default().eq(tenant.as_str()));
    query = match (page.newest_first, page.after) {
        (false, Some(after)) => FilterDsl::filter(query, id.gt(after)),
        (true, Some(after)) => FilterDsl::filter(query, id.lt(after)),
        (_, None) => query,
    };
    query = if page.newest_first { OrderDsl::order(query, id.desc()) } else { OrderDsl::order(query, id.asc()) };
    let query = narrow(LimitDsl::limit(query, fetch_limit(page.limit)));
    Box::pin(async move {
        let rows: Vec<(String, R)> = query.load(conn).await?;
        let Page { items, next_cursor } = Page::from_overfetch(rows, page.limit, |(id, _)| id.clone());
        Ok(Page { items: items.into_iter().map(|(_, row)| row).collect(), next_cursor })
    })
}
