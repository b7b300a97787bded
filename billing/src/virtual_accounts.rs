//! Assigns every customer their individual (virtual) bank account — the utility's settlement
//! number + client prefix + customer number, per [`VirtualAccountLayout::account_for`] — in
//! bulk and idempotently (customers who have one keep it).

use crate::account::{Iban, VirtualAccountLayout};
use crate::store_error::StoreError;
use sqlx::{PgConnection, Row};

/// The utility's account layout (from its `utility` row; the first one if there are several).
pub async fn layout(conn: &mut PgConnection) -> Result<VirtualAccountLayout, StoreError> {
    let row = sqlx::query(
        "select settlement_number, account_prefix from utility order by utility_id limit 1",
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| StoreError::not_found("utility"))?;
    Ok(VirtualAccountLayout {
        settlement: row.try_get(0)?,
        prefix: row.try_get(1)?,
    })
}

/// Gives every customer without a virtual account theirs; returns how many were assigned.
/// A customer number that does not fit the layout fails the whole call, naming the customer.
pub async fn assign_all(conn: &mut PgConnection) -> Result<u64, StoreError> {
    let layout = layout(&mut *conn).await?;
    let rows = sqlx::query(
        "select c.customer_id, c.number from customer c
         where not exists (select 1 from virtual_account v where v.customer_id = c.customer_id)",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut ibans = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get(0)?;
        let number: String = r.try_get(1)?;
        let n: u64 = number.parse().map_err(|_| {
            StoreError::invalid(
                format!("customer {id}.number"),
                format!("{number:?} is not a number"),
            )
        })?;
        let iban = layout
            .account_for(n)
            .map_err(|e| StoreError::invalid(format!("customer {id}"), e.to_string()))?;
        ids.push(id);
        ibans.push(iban.to_string());
    }
    if ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "insert into virtual_account (customer_id, iban)
         select * from unnest($1::bigint[], $2::text[]) on conflict (customer_id) do nothing",
    )
    .bind(&ids)
    .bind(&ibans)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A customer's virtual account, if assigned.
pub async fn of_customer(
    conn: &mut PgConnection,
    customer_id: i64,
) -> Result<Option<Iban>, StoreError> {
    let iban: Option<String> =
        sqlx::query_scalar("select iban from virtual_account where customer_id = $1")
            .bind(customer_id)
            .fetch_optional(conn)
            .await?;
    iban.map(|s| Iban::parse(&s).map_err(StoreError::from))
        .transpose()
}
