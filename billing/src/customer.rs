//! The customer's own view of billing for eBOK and the API: their premises and contracts (a
//! property manager has many), balance and open items, the individual account with the
//! payment QR data, their profile, and applying an approved contact-data change. Every
//! function takes the [`CustomerId`] of the session and returns only that customer's rows.

use crate::account::Iban;
use crate::invoice::qr::{self, TransferData};
use crate::ledger;
use crate::store_error::StoreError;
use chrono::NaiveDate;
use ewoda_common::scope::{CustomerId, FieldError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Row};

/// One contract of the customer with the premises it supplies (a selector entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PremisesContract {
    /// The contract.
    pub contract_id: i64,
    /// Its number, e.g. `UM/4711`.
    pub contract_number: String,
    /// The premises.
    pub premises_id: i64,
    /// `house`, `flat`, `block`, `business`, `garden` or `public`.
    pub premises_kind: String,
    /// One-line address, e.g. `ul. Żółwia 7/2, 00-002 Łężyce`.
    pub address: String,
    /// Water supplied under the contract.
    pub water: bool,
    /// Sewage collected under the contract.
    pub sewage: bool,
    /// First day.
    pub valid_from: NaiveDate,
    /// Last day, when ended.
    pub valid_to: Option<NaiveDate>,
    /// True when `today` lies within the contract.
    pub active: bool,
}

const CONTRACT_SELECT: &str = "
    select k.contract_id, k.number, k.premises_id, p.kind, k.water, k.sewage, k.valid_from,
           k.valid_to, a.street, a.building, a.flat, a.postcode, a.city,
           (k.valid_from <= $2 and (k.valid_to is null or k.valid_to >= $2)) as active
    from contract k
    join premises p on p.premises_id = k.premises_id
    join address a on a.address_id = p.address_id
    where k.customer_id = $1";

/// `ul. Żółwia 7/2, 00-002 Łężyce` from an address row's columns.
pub(crate) fn address_line(r: &sqlx::postgres::PgRow) -> Result<String, sqlx::Error> {
    let street: String = r.try_get("street")?;
    let building: String = r.try_get("building")?;
    let flat: Option<String> = r.try_get("flat")?;
    let postcode: String = r.try_get("postcode")?;
    let city: String = r.try_get("city")?;
    let house = match flat {
        Some(f) => format!("{building}/{f}"),
        None => building,
    };
    Ok(format!("{street} {house}, {postcode} {city}"))
}

fn contract_row(r: &sqlx::postgres::PgRow) -> Result<PremisesContract, sqlx::Error> {
    Ok(PremisesContract {
        contract_id: r.try_get("contract_id")?,
        contract_number: r.try_get("number")?,
        premises_id: r.try_get("premises_id")?,
        premises_kind: r.try_get("kind")?,
        address: address_line(r)?,
        water: r.try_get("water")?,
        sewage: r.try_get("sewage")?,
        valid_from: r.try_get("valid_from")?,
        valid_to: r.try_get("valid_to")?,
        active: r.try_get("active")?,
    })
}

/// The customer's contracts with their premises, active ones first, then by start.
pub async fn premises(
    conn: &mut PgConnection,
    customer: CustomerId,
    today: NaiveDate,
) -> Result<Vec<PremisesContract>, StoreError> {
    let sql = format!("{CONTRACT_SELECT} order by active desc, k.valid_from, k.contract_id");
    let rows = sqlx::query(&sql)
        .bind(customer.get())
        .bind(today)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(contract_row).collect::<Result<_, _>>()?)
}

/// One contract of the customer; None when it is not theirs (or does not exist).
pub async fn contract(
    conn: &mut PgConnection,
    customer: CustomerId,
    contract_id: i64,
    today: NaiveDate,
) -> Result<Option<PremisesContract>, StoreError> {
    let sql = format!("{CONTRACT_SELECT} and k.contract_id = $3");
    let row = sqlx::query(&sql)
        .bind(customer.get())
        .bind(today)
        .bind(contract_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(contract_row).transpose()?)
}

/// An invoice or correction with money still open (or owed back, when negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenItemView {
    /// The invoice.
    pub invoice_id: i64,
    /// Its number.
    pub number: String,
    /// Due day.
    pub due_on: NaiveDate,
    /// Gross amount.
    pub gross: Decimal,
    /// Paid (allocated) so far.
    pub paid: Decimal,
    /// gross − paid.
    pub open: Decimal,
    /// Past its due day with money open.
    pub overdue: bool,
}

/// When the next payment falls due and how much is due by then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextDue {
    /// The earliest due day among open items.
    pub due_on: NaiveDate,
    /// Σ open of the items due on or before it (at most what is owed in total).
    pub amount: Decimal,
    /// True when that day has passed.
    pub overdue: bool,
}

/// The dashboard's money figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSummary {
    /// Σ ledger postings: > 0 owed, < 0 overpaid.
    pub balance: Decimal,
    /// What the customer owes (balance when positive, else 0).
    pub to_pay: Decimal,
    /// The overpayment (−balance when negative, else 0), shown as such, not as a debt.
    pub overpayment: Decimal,
    /// Σ open amounts past their due day (at most `to_pay`).
    pub overdue: Decimal,
    /// The next due day and amount, when anything is open.
    pub next_due: Option<NextDue>,
    /// Open items, oldest due first.
    pub open_items: Vec<OpenItemView>,
    /// The individual account, when assigned.
    pub account: Option<AccountNumber>,
    /// The same account as an IBAN, for transfer data ([`payment_data_for_balance`]).
    #[serde(skip)]
    pub iban: Option<Iban>,
    /// The utility as a transfer's recipient (None: no utility set up yet).
    #[serde(skip)]
    pub recipient: Option<Recipient>,
}

/// The utility as a transfer's recipient (columns `short_name`, `nip`).
const RECIPIENT_SQL: &str = "select short_name, nip from utility order by utility_id limit 1";

/// The utility as the recipient of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Short name.
    pub name: String,
    /// NIP.
    pub nip: String,
}

/// The customer's individual (virtual) bank account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountNumber {
    /// Electronic form, `PL` + 26 digits.
    pub iban: String,
    /// Printed form in groups of four.
    pub printed: String,
}

impl From<&Iban> for AccountNumber {
    fn from(iban: &Iban) -> Self {
        AccountNumber {
            iban: iban.as_str().to_string(),
            printed: iban.to_print(),
        }
    }
}

/// Open items of the customer as [`OpenItemView`]s judged on `today`.
pub async fn open_items(
    conn: &mut PgConnection,
    customer: CustomerId,
    today: NaiveDate,
) -> Result<Vec<OpenItemView>, StoreError> {
    Ok(ledger::open_items(conn, customer.get())
        .await?
        .into_iter()
        .map(|o| item_view(o, today))
        .collect())
}

fn item_view(o: ledger::OpenItem, today: NaiveDate) -> OpenItemView {
    OpenItemView {
        overdue: o.open > Decimal::ZERO && o.due_on < today,
        invoice_id: o.invoice_id,
        number: o.number,
        due_on: o.due_on,
        gross: o.gross,
        paid: o.allocated,
        open: o.open,
    }
}

fn next_due(items: &[OpenItemView], today: NaiveDate) -> Option<NextDue> {
    let first = items
        .iter()
        .filter(|o| o.open > Decimal::ZERO)
        .map(|o| o.due_on)
        .min()?;
    let amount = items
        .iter()
        .filter(|o| o.open > Decimal::ZERO && o.due_on <= first)
        .map(|o| o.open)
        .sum();
    Some(NextDue {
        due_on: first,
        amount,
        overdue: first < today,
    })
}

/// What a balance leaves to pay: the balance when positive, nothing when the account is in
/// credit (an overpayment is never a debt).
fn owed(balance: Decimal) -> Decimal {
    balance.max(Decimal::ZERO)
}

/// What the customer owes in total after any credit on the account ([`AccountSummary::to_pay`]).
pub async fn to_pay(conn: &mut PgConnection, customer: CustomerId) -> Result<Decimal, StoreError> {
    Ok(owed(ledger::balance(conn, customer.get()).await?))
}

/// Balance (overpayment as such), next due day and amount, open items and the account. A
/// credit not yet allocated to invoices (an earlier overpayment) lowers what is due: the next
/// due amount and the overdue sum never exceed what the customer owes in total.
pub async fn account_summary(
    conn: &mut PgConnection,
    customer: CustomerId,
    today: NaiveDate,
) -> Result<AccountSummary, StoreError> {
    let rows = sqlx::query(&summary_sql())
        .bind(customer.get())
        .fetch_all(conn)
        .await?;
    let head = rows
        .first()
        .ok_or_else(|| StoreError::not_found("account summary"))?;
    let balance = ledger::balance_of(head.try_get("balance")?);
    let account = head
        .try_get::<Option<String>, _>("iban")?
        .map(|s| Iban::parse(&s))
        .transpose()?;
    let recipient = match head.try_get::<Option<String>, _>("recipient_name")? {
        Some(name) => Some(Recipient {
            name,
            nip: head.try_get("recipient_nip")?,
        }),
        None => None,
    };
    let open_items = ledger::open_item_rows(&rows)?
        .into_iter()
        .map(|o| item_view(o, today))
        .collect();
    Ok(summarise(balance, open_items, account, recipient, today))
}

/// The summary's facts in one statement (one round trip for every eBOK dashboard): the
/// balance, the virtual account and the utility on every row, then the open items as
/// [`ledger::open_items`] defines them, a row each (one row of nulls when none is open).
fn summary_sql() -> String {
    format!(
        "select h.*, o.*
         from (select ({balance}) as balance,
                      (select iban from virtual_account where customer_id = $1) as iban,
                      u.short_name as recipient_name, u.nip as recipient_nip
               from (select 1) one
               left join lateral ({RECIPIENT_SQL}) u on true) h
         left join lateral ({items}) o on true
         order by o.due_on, o.invoice_id",
        balance = ledger::BALANCE_SQL,
        items = ledger::open_items_sql("= $1", "null"),
    )
}

/// The figures of the summary from the balance and the open items.
fn summarise(
    balance: Decimal,
    open_items: Vec<OpenItemView>,
    account: Option<Iban>,
    recipient: Option<Recipient>,
    today: NaiveDate,
) -> AccountSummary {
    let to_pay = owed(balance);
    let overdue: Decimal = open_items
        .iter()
        .filter(|o| o.overdue)
        .map(|o| o.open)
        .sum();
    let next_due = next_due(&open_items, today)
        .filter(|_| to_pay > Decimal::ZERO)
        .map(|n| NextDue {
            amount: n.amount.min(to_pay),
            ..n
        });
    AccountSummary {
        to_pay,
        overpayment: (-balance).max(Decimal::ZERO),
        balance,
        overdue: overdue.min(to_pay),
        next_due,
        open_items,
        account: account.as_ref().map(AccountNumber::from),
        iban: account,
        recipient,
    }
}

/// Transfer data for paying by bank transfer, with the text of the banks' payment QR code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentData {
    /// The customer's individual account.
    pub account: AccountNumber,
    /// The utility's short name (recipient).
    pub recipient: String,
    /// The utility's NIP.
    pub recipient_nip: String,
    /// Transfer title: the invoice number, or the customer number for the whole balance.
    pub title: String,
    /// Amount to pay.
    pub amount: Decimal,
    /// The ZBP 2D payment code text (feed it to [`qr::matrix`] to draw it).
    pub qr_text: String,
}

/// Payment data for one open invoice of the customer (`Some(id)`) or for the whole amount owed
/// (`None`). None when the invoice is not the customer's, nothing is owed, or no virtual
/// account is assigned yet.
pub async fn payment_data(
    conn: &mut PgConnection,
    customer: CustomerId,
    invoice_id: Option<i64>,
    today: NaiveDate,
) -> Result<Option<PaymentData>, StoreError> {
    let Some(iban) = crate::virtual_accounts::of_customer(&mut *conn, customer.get()).await? else {
        return Ok(None);
    };
    let (title, amount) = match invoice_id {
        Some(id) => {
            let items = open_items(&mut *conn, customer, today).await?;
            match items.into_iter().find(|o| o.invoice_id == id) {
                Some(o) if o.open > Decimal::ZERO => (o.number, o.open),
                _ => return Ok(None),
            }
        }
        None => {
            let balance = ledger::balance(&mut *conn, customer.get()).await?;
            if balance <= Decimal::ZERO {
                return Ok(None);
            }
            let number: String =
                sqlx::query_scalar("select number from customer where customer_id = $1")
                    .bind(customer.get())
                    .fetch_one(&mut *conn)
                    .await?;
            (balance_title(&number), balance)
        }
    };
    transfer(conn, iban, title, amount).await.map(Some)
}

/// Payment data for the whole amount owed, from a summary already read (the dashboard's) and
/// the customer's number, without a query: the summary holds the balance, the account and the
/// recipient. The same as [`payment_data`] with `None`.
pub fn payment_data_for_balance(
    summary: &AccountSummary,
    customer_number: &str,
) -> Result<Option<PaymentData>, StoreError> {
    match (&summary.iban, &summary.recipient) {
        (Some(iban), Some(to)) if summary.balance > Decimal::ZERO => {
            let title = balance_title(customer_number);
            transfer_to(to, iban.clone(), title, summary.balance).map(Some)
        }
        (Some(_), None) if summary.balance > Decimal::ZERO => Err(StoreError::not_found("utility")),
        _ => Ok(None),
    }
}

/// The transfer title of a payment of the whole balance: the customer number.
fn balance_title(customer_number: &str) -> String {
    format!("Odbiorca {customer_number}")
}

/// The transfer to the utility of `amount` to `iban` under `title`, with its QR text.
async fn transfer(
    conn: &mut PgConnection,
    iban: Iban,
    title: String,
    amount: Decimal,
) -> Result<PaymentData, StoreError> {
    let u = sqlx::query(RECIPIENT_SQL)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::not_found("utility"))?;
    let to = Recipient {
        name: u.try_get("short_name")?,
        nip: u.try_get("nip")?,
    };
    transfer_to(&to, iban, title, amount)
}

/// [`transfer`] to a recipient already read.
fn transfer_to(
    to: &Recipient,
    iban: Iban,
    title: String,
    amount: Decimal,
) -> Result<PaymentData, StoreError> {
    let transfer = TransferData {
        recipient_nip: to.nip.clone(),
        account: iban.clone(),
        amount,
        recipient_name: to.name.clone(),
        title,
    };
    let qr_text = qr::payload(&transfer).map_err(|e| StoreError::invalid("qr", e.to_string()))?;
    Ok(PaymentData {
        account: AccountNumber::from(&iban),
        recipient: transfer.recipient_name,
        recipient_nip: transfer.recipient_nip,
        title: transfer.title,
        amount,
        qr_text,
    })
}

/// What the customer sees of themself (and what a contact change starts from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Customer number printed on invoices.
    pub number: String,
    /// `household`, `business`, `public` or `housing`.
    pub kind: String,
    /// Person's or company's name.
    pub name: String,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Invoices by e-mail instead of paper.
    pub einvoice: bool,
}

/// The customer's profile.
pub async fn profile(conn: &mut PgConnection, customer: CustomerId) -> Result<Profile, StoreError> {
    let r = sqlx::query(
        "select number, kind, coalesce(company_name, concat_ws(' ', first_name, last_name)) as name,
                email, phone, einvoice
         from customer where customer_id = $1",
    )
    .bind(customer.get())
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| StoreError::not_found(format!("customer {customer}")))?;
    Ok(Profile {
        number: r.try_get("number")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        einvoice: r.try_get("einvoice")?,
    })
}

/// Contact data a customer asks to change: a field left None stays as it is; `Some("")`
/// clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactChange {
    /// New e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// New phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

fn email_ok(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !s.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && domain
            .split_once('.')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.ends_with('.'))
}

fn phone_ok(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (9..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit() || c == ' ')
}

impl ContactChange {
    /// Field errors (`email`, `phone`), matching the `customer` table's checks; also refuses a
    /// change that changes nothing (`changes`).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(e) = self.email.as_deref().filter(|e| !e.is_empty()) {
            if !email_ok(e) {
                errors.push(FieldError::new(
                    "email",
                    "invalid",
                    format!("{e:?} is not an e-mail address"),
                ));
            }
        }
        if let Some(p) = self.phone.as_deref().filter(|p| !p.is_empty()) {
            if !phone_ok(p) {
                errors.push(FieldError::new(
                    "phone",
                    "invalid",
                    format!("{p:?} is not a phone number (9–15 digits, optional +)"),
                ));
            }
        }
        if self.email.is_none() && self.phone.is_none() {
            errors.push(FieldError::new("changes", "required", "nothing to change"));
        }
        errors
    }
}

/// Applies an approved contact change to the customer row in the caller's transaction and
/// writes the audit log entry (before/after) under `actor`.
pub async fn apply_contact_change(
    conn: &mut PgConnection,
    customer: CustomerId,
    change: &ContactChange,
    actor: &str,
) -> Result<(), StoreError> {
    if let Some(e) = change.validate().into_iter().next() {
        return Err(StoreError::invalid(e.field, e.message));
    }
    let before = sqlx::query("select email, phone from customer where customer_id = $1 for update")
        .bind(customer.get())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("customer {customer}")))?;
    let old_email: Option<String> = before.try_get("email")?;
    let old_phone: Option<String> = before.try_get("phone")?;
    let pick = |new: &Option<String>, old: Option<String>| match new.as_deref() {
        None => old,
        Some("") => None,
        Some(v) => Some(v.to_string()),
    };
    let email = pick(&change.email, old_email.clone());
    let phone = pick(&change.phone, old_phone.clone());
    sqlx::query(
        "update customer set email = $2, phone = $3, updated_at = now() where customer_id = $1",
    )
    .bind(customer.get())
    .bind(&email)
    .bind(&phone)
    .execute(&mut *conn)
    .await?;
    audit_update(
        conn,
        actor,
        customer,
        serde_json::json!({ "email": old_email, "phone": old_phone }),
        serde_json::json!({ "email": email, "phone": phone }),
    )
    .await
}

/// The audit entry of a change to the customer row (who, before, after).
async fn audit_update(
    conn: &mut PgConnection,
    actor: &str,
    customer: CustomerId,
    before: serde_json::Value,
    after: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, before, after)
         values ($1, 'update', 'customer', $2, $3, $4)",
    )
    .bind(actor)
    .bind(customer.get().to_string())
    .bind(before)
    .bind(after)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets whether the customer gets e-invoices (their e-invoice consent), in the caller's
/// transaction, with an audit entry under `actor`; returns whether it changed.
pub async fn set_einvoice(
    conn: &mut PgConnection,
    customer: CustomerId,
    einvoice: bool,
    actor: &str,
) -> Result<bool, StoreError> {
    let before: bool =
        sqlx::query_scalar("select einvoice from customer where customer_id = $1 for update")
            .bind(customer.get())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("customer {customer}")))?;
    if before == einvoice {
        return Ok(false);
    }
    sqlx::query("update customer set einvoice = $2, updated_at = now() where customer_id = $1")
        .bind(customer.get())
        .bind(einvoice)
        .execute(&mut *conn)
        .await?;
    audit_update(
        conn,
        actor,
        customer,
        serde_json::json!({ "einvoice": before }),
        serde_json::json!({ "einvoice": einvoice }),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_change_names_the_bad_field() {
        let bad = ContactChange {
            email: Some("jan@".into()),
            phone: Some("12ab".into()),
        };
        let fields: Vec<_> = bad.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["email", "phone"]);
        let good = ContactChange {
            email: Some("jan.kowalski@example.pl".into()),
            phone: Some("+48 600 100 200".into()),
        };
        assert!(good.validate().is_empty());
        assert_eq!(ContactChange::default().validate()[0].field, "changes");
        let clear = ContactChange {
            email: Some(String::new()),
            phone: None,
        };
        assert!(clear.validate().is_empty());
    }
}
