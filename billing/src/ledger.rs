//! The customer ledger: typed, append-only postings (a positive amount raises what the customer
//! owes, a negative one lowers it), balances as sums of postings, the statement of account and
//! the open items per invoice (gross after lowering corrections, less the payments allocated
//! to it: the one open-amount definition payments and dunning use).

use crate::store_error::StoreError;
use chrono::NaiveDate;
use ewoda_common::Money;
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};

/// What a posting records; the sign each kind may take is checked before insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostingKind {
    /// An invoice's gross amount (> 0).
    Charge,
    /// A corrective invoice's gross difference (either sign).
    Correction,
    /// Money received (< 0).
    Payment,
    /// An interest note (> 0).
    Interest,
    /// An overpayment paid back to the customer (> 0: it uses up their credit).
    Refund,
    /// Credit moved between accounts (either sign; a pair sums to zero).
    CreditTransfer,
    /// A debt written off (< 0).
    WriteOff,
    /// A bank reversal: a received payment taken back (> 0), or a refund the payee's bank
    /// returned (< 0: the credit is the customer's again).
    Reversal,
}

impl PostingKind {
    /// The `ledger_posting.kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            PostingKind::Charge => "charge",
            PostingKind::Correction => "correction",
            PostingKind::Payment => "payment",
            PostingKind::Interest => "interest",
            PostingKind::Refund => "refund",
            PostingKind::CreditTransfer => "credit_transfer",
            PostingKind::WriteOff => "write_off",
            PostingKind::Reversal => "reversal",
        }
    }

    /// Parses a `ledger_posting.kind` value.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "charge" => PostingKind::Charge,
            "correction" => PostingKind::Correction,
            "payment" => PostingKind::Payment,
            "interest" => PostingKind::Interest,
            "refund" => PostingKind::Refund,
            "credit_transfer" => PostingKind::CreditTransfer,
            "write_off" => PostingKind::WriteOff,
            "reversal" => PostingKind::Reversal,
            other => {
                return Err(StoreError::invalid(
                    "ledger_posting.kind",
                    format!("unknown kind {other:?}"),
                ))
            }
        })
    }

    /// Whether `amount` has a sign this kind allows (never zero).
    fn allows(self, amount: Decimal) -> bool {
        match self {
            _ if amount.is_zero() => false,
            PostingKind::Charge | PostingKind::Interest | PostingKind::Refund => {
                amount.is_sign_positive()
            }
            PostingKind::Payment | PostingKind::WriteOff => amount.is_sign_negative(),
            PostingKind::Correction | PostingKind::CreditTransfer | PostingKind::Reversal => true,
        }
    }
}

/// A posting to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPosting {
    /// Whose account.
    pub customer_id: i64,
    /// The day the posting takes effect (invoice issue day, payment booking day).
    pub value_date: NaiveDate,
    /// What it records.
    pub kind: PostingKind,
    /// PLN to the grosz; > 0 the customer owes more.
    pub amount: Decimal,
    /// The invoice it belongs to, if any.
    pub invoice_id: Option<i64>,
    /// The payment it belongs to, if any.
    pub payment_id: Option<i64>,
    /// The dunning notice (interest note) it belongs to, if any.
    pub dunning_notice_id: Option<i64>,
    /// The refund it belongs to, if any.
    pub refund_id: Option<i64>,
    /// Text for the statement of account.
    pub description: String,
}

impl NewPosting {
    /// A posting with no document links.
    pub fn new(
        customer_id: i64,
        value_date: NaiveDate,
        kind: PostingKind,
        amount: Decimal,
        description: impl Into<String>,
    ) -> Self {
        NewPosting {
            customer_id,
            value_date,
            kind,
            amount,
            invoice_id: None,
            payment_id: None,
            dunning_notice_id: None,
            refund_id: None,
            description: description.into(),
        }
    }

    fn check(&self, index: usize) -> Result<(), StoreError> {
        if !self.kind.allows(self.amount) {
            return Err(StoreError::invalid(
                format!("postings[{index}].amount"),
                format!(
                    "{} is not allowed for a {} posting",
                    self.amount,
                    self.kind.as_str()
                ),
            ));
        }
        if self.amount.round_dp(2) != self.amount {
            return Err(StoreError::invalid(
                format!("postings[{index}].amount"),
                format!("{} has more than two decimals", self.amount),
            ));
        }
        Ok(())
    }
}

/// Writes one posting in the caller's transaction and returns its id.
pub async fn post(conn: &mut PgConnection, posting: &NewPosting) -> Result<i64, StoreError> {
    let ids = post_many(conn, std::slice::from_ref(posting)).await?;
    ids.first()
        .copied()
        .ok_or_else(|| StoreError::invalid("postings", "insert returned no id"))
}

/// Writes postings in one statement (UNNEST) in the caller's transaction; ids in input order.
pub async fn post_many(
    conn: &mut PgConnection,
    postings: &[NewPosting],
) -> Result<Vec<i64>, StoreError> {
    for (i, p) in postings.iter().enumerate() {
        p.check(i)?;
    }
    if postings.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "insert into ledger_posting (customer_id, value_date, kind, amount, invoice_id, payment_id,
             dunning_notice_id, refund_id, description)
         select c, v, k, a, i, p, d, r, t
         from unnest($1::bigint[], $2::date[], $3::text[], $4::numeric[], $5::bigint[],
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::text[]) with ordinality
              as x(c, v, k, a, i, p, d, r, t, n)
         order by n
         returning posting_id",
    )
    .bind(postings.iter().map(|p| p.customer_id).collect::<Vec<_>>())
    .bind(postings.iter().map(|p| p.value_date).collect::<Vec<_>>())
    .bind(postings.iter().map(|p| p.kind.as_str()).collect::<Vec<_>>())
    .bind(postings.iter().map(|p| p.amount).collect::<Vec<_>>())
    .bind(postings.iter().map(|p| p.invoice_id).collect::<Vec<_>>())
    .bind(postings.iter().map(|p| p.payment_id).collect::<Vec<_>>())
    .bind(
        postings
            .iter()
            .map(|p| p.dunning_notice_id)
            .collect::<Vec<_>>(),
    )
    .bind(postings.iter().map(|p| p.refund_id).collect::<Vec<_>>())
    .bind(
        postings
            .iter()
            .map(|p| p.description.as_str())
            .collect::<Vec<_>>(),
    )
    .fetch_all(conn)
    .await?;
    let mut ids: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    // Identity values follow insertion order, which follows `order by n`.
    ids.sort_unstable();
    Ok(ids)
}

/// The SQL of a customer's (`$1`) balance before rounding ([`balance_of`]).
pub(crate) const BALANCE_SQL: &str =
    "select sum(amount) from ledger_posting where customer_id = $1";

/// A customer's balance: the sum of all their postings (> 0 they owe, < 0 credit).
pub async fn balance(conn: &mut PgConnection, customer_id: i64) -> Result<Decimal, StoreError> {
    let sum: Option<Decimal> = sqlx::query_scalar(BALANCE_SQL)
        .bind(customer_id)
        .fetch_one(conn)
        .await?;
    Ok(balance_of(sum))
}

/// The balance from [`BALANCE_SQL`]'s sum (none posted: zero), to the grosz.
pub(crate) fn balance_of(sum: Option<Decimal>) -> Decimal {
    Money::round(sum.unwrap_or(Decimal::ZERO)).amount()
}

/// One line of a statement of account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementEntry {
    /// The posting's id.
    pub posting_id: i64,
    /// Value date.
    pub value_date: NaiveDate,
    /// What it records.
    pub kind: PostingKind,
    /// Signed amount.
    pub amount: Decimal,
    /// Balance after this entry.
    pub balance: Decimal,
    /// The invoice number, when the posting belongs to an invoice.
    pub invoice_number: Option<String>,
    /// Description.
    pub description: String,
}

/// A statement of account for a range of value dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementOfAccount {
    /// Balance before `from`.
    pub opening: Decimal,
    /// Postings with value dates in the range, in order.
    pub entries: Vec<StatementEntry>,
    /// Balance after the last entry.
    pub closing: Decimal,
}

/// The statement of account of a customer from `from` through `to` (value dates, inclusive).
pub async fn statement(
    conn: &mut PgConnection,
    customer_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<StatementOfAccount, StoreError> {
    let opening: Option<Decimal> = sqlx::query_scalar(
        "select sum(amount) from ledger_posting where customer_id = $1 and value_date < $2",
    )
    .bind(customer_id)
    .bind(from)
    .fetch_one(&mut *conn)
    .await?;
    let opening = Money::round(opening.unwrap_or(Decimal::ZERO)).amount();
    let rows = sqlx::query(
        "select p.posting_id, p.value_date, p.kind, p.amount, i.number, p.description
         from ledger_posting p left join invoice i using (invoice_id)
         where p.customer_id = $1 and p.value_date between $2 and $3
         order by p.value_date, p.posting_id",
    )
    .bind(customer_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let mut running = opening;
    let mut entries = Vec::with_capacity(rows.len());
    for r in rows {
        let amount: Decimal = r.try_get(3)?;
        running += amount;
        entries.push(StatementEntry {
            posting_id: r.try_get(0)?,
            value_date: r.try_get(1)?,
            kind: PostingKind::parse(r.try_get(2)?)?,
            amount,
            balance: running,
            invoice_number: r.try_get(4)?,
            description: r.try_get(5)?,
        });
    }
    Ok(StatementOfAccount {
        opening,
        entries,
        closing: running,
    })
}

/// An invoice (or a correction raising one) with what is still to be paid on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenItem {
    /// The invoice.
    pub invoice_id: i64,
    /// Its number.
    pub number: String,
    /// Its due date.
    pub due_on: NaiveDate,
    /// Its gross amount as issued.
    pub gross: Decimal,
    /// Gross after the corrections that lowered it ([`corrected_gross_sql`]).
    pub corrected: Decimal,
    /// Payments allocated to it.
    pub allocated: Decimal,
    /// corrected − allocated (< 0: paid more than is owed on it).
    pub open: Decimal,
}

/// The one definition of what an invoice (`invoice i`) is owed, as an SQL expression: its
/// gross plus the corrections lowering it (negative KORs) issued on or before the date
/// parameter `on` (e.g. `$2`; NULL: all of them). A lowering correction is not a debt or
/// credit of its own but takes its amount off its original from the original's due day on,
/// so payments fill the corrected amount and no reminder or note demands what it took off;
/// a correction raising the bill is a debt of its own with its own due day.
pub fn corrected_gross_sql(on: &str) -> String {
    format!(
        "(i.gross + coalesce((select sum(c.gross) from invoice c
                              where c.corrects_invoice_id = i.invoice_id and c.gross < 0
                                and ({on}::date is null or c.issued_on <= {on})), 0))"
    )
}

/// SQL condition true for the invoices (`invoice i`) that are debts of their own: all but the
/// lowering corrections, which [`corrected_gross_sql`] folds into their originals.
pub const IS_DEBT_SQL: &str = "not (i.corrects_invoice_id is not null and i.gross < 0)";

/// SQL expression: the payments allocated to `invoice i`.
pub const ALLOCATED_SQL: &str = "coalesce((select sum(pa.amount) from payment_allocation pa
                                            where pa.invoice_id = i.invoice_id), 0)";

/// The customer's invoices with a non-zero open amount (corrected gross − allocations), oldest
/// due first.
pub async fn open_items(
    conn: &mut PgConnection,
    customer_id: i64,
) -> Result<Vec<OpenItem>, StoreError> {
    // One customer and every correction, written as constants: PostgreSQL plans this once per
    // connection (an array parameter or a parameter that may be null makes it plan each call,
    // which cost more than the query on every eBOK dashboard).
    let rows = sqlx::query(&open_items_sql("= $1", "null"))
        .bind(customer_id)
        .fetch_all(conn)
        .await?;
    open_item_rows(&rows)
}

/// [`open_items`] of several customers in one query (bulk statement import), by customer id,
/// counting the lowering corrections issued on or before `on` (None: all).
pub async fn open_items_of(
    conn: &mut PgConnection,
    customer_ids: &[i64],
    on: Option<NaiveDate>,
) -> Result<Vec<(i64, Vec<OpenItem>)>, StoreError> {
    let rows = sqlx::query(&open_items_sql("= any($1)", "$2"))
        .bind(customer_ids)
        .bind(on)
        .fetch_all(conn)
        .await?;
    by_customer(rows)
}

/// The open items' statement for the customers `i.customer_id {customers}`, corrections issued
/// on or before `on` (an SQL date expression or `null`).
pub(crate) fn open_items_sql(customers: &str, on: &str) -> String {
    format!(
        "select i.customer_id, i.invoice_id, i.number, i.due_on, i.gross, o.corrected, o.allocated
         from invoice i
         cross join lateral (select {corrected} as corrected, {ALLOCATED_SQL} as allocated) o
         where i.customer_id {customers} and {IS_DEBT_SQL} and o.corrected <> o.allocated
         order by i.customer_id, i.due_on, i.invoice_id",
        corrected = corrected_gross_sql(on),
    )
}

/// The open items among rows of [`open_items_sql`]'s columns (rows of nulls, as an outer join
/// gives when nothing is open, are skipped).
pub(crate) fn open_item_rows(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<OpenItem>, StoreError> {
    let mut items = Vec::new();
    for r in rows {
        if r.try_get::<Option<i64>, _>("invoice_id")?.is_some() {
            items.push(open_item(r)?);
        }
    }
    Ok(items)
}

fn open_item(r: &sqlx::postgres::PgRow) -> Result<OpenItem, StoreError> {
    let corrected: Decimal = r.try_get("corrected")?;
    let allocated: Decimal = r.try_get("allocated")?;
    Ok(OpenItem {
        invoice_id: r.try_get("invoice_id")?,
        number: r.try_get("number")?,
        due_on: r.try_get("due_on")?,
        gross: r.try_get("gross")?,
        corrected,
        allocated,
        open: corrected - allocated,
    })
}

/// Open items' rows (ordered by customer) grouped by customer.
fn by_customer(rows: Vec<sqlx::postgres::PgRow>) -> Result<Vec<(i64, Vec<OpenItem>)>, StoreError> {
    let mut out: Vec<(i64, Vec<OpenItem>)> = Vec::new();
    for r in rows {
        let customer: i64 = r.try_get("customer_id")?;
        let item = open_item(&r)?;
        match out.last_mut() {
            Some((c, items)) if *c == customer => items.push(item),
            _ => out.push((customer, vec![item])),
        }
    }
    Ok(out)
}

/// The gross of one invoice after its lowering corrections issued by `on`.
pub async fn corrected_gross(
    conn: &mut PgConnection,
    invoice_id: i64,
    on: NaiveDate,
) -> Result<Decimal, StoreError> {
    let sql = format!(
        "select {} as corrected from invoice i where i.invoice_id = $1",
        corrected_gross_sql("$2")
    );
    let gross: Option<Decimal> = sqlx::query_scalar(&sql)
        .bind(invoice_id)
        .bind(on)
        .fetch_optional(conn)
        .await?;
    gross.ok_or_else(|| StoreError::not_found(format!("invoice {invoice_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn kinds_round_trip_and_check_signs() {
        for k in [
            PostingKind::Charge,
            PostingKind::Correction,
            PostingKind::Payment,
            PostingKind::Interest,
            PostingKind::Refund,
            PostingKind::CreditTransfer,
            PostingKind::WriteOff,
            PostingKind::Reversal,
        ] {
            assert_eq!(PostingKind::parse(k.as_str()).unwrap(), k);
            assert!(!k.allows(Decimal::ZERO));
        }
        assert!(PostingKind::Charge.allows(dec!(1)));
        assert!(!PostingKind::Charge.allows(dec!(-1)));
        assert!(PostingKind::Payment.allows(dec!(-1)));
        assert!(!PostingKind::Payment.allows(dec!(1)));
        assert!(PostingKind::Correction.allows(dec!(-1)));
        let bad = NewPosting::new(1, NaiveDate::MIN, PostingKind::Charge, dec!(1.001), "x");
        assert_eq!(
            bad.check(3).unwrap_err().to_string(),
            "postings[3].amount: 1.001 has more than two decimals"
        );
        assert!(PostingKind::parse("gift").is_err());
    }
}
