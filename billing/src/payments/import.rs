//! Statement import: decode and parse all-or-nothing, skip (and report) statements of other
//! accounts and currencies, then in one transaction store each entry once by its identity
//! (`insert … on conflict do nothing` on `payment.entry_key`), match, post and allocate the
//! new credits in bulk, and apply returned/reversed credits. Lines nobody matches, and lines
//! that look like an entry already stored from another statement, wait in the clerk's queue.

use std::collections::{HashMap, HashSet, VecDeque};

use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row};

use crate::ledger::{self, NewPosting, OpenItem, PostingKind};
use crate::statement::identity::{entry_identities, EntryIdentity, StatementContext};
use crate::statement::{
    decode, parse_csv, parse_mt940, CsvProfile, EntryMark, Mt940Profile, StatementLine,
    TextEncoding,
};

use super::allocation::{plan_allocation, Allocation};
use super::matching::{as_iban, invoice_numbers_in, MatchedBy};
use super::reversal::{apply_reversals, ImportedReversal, ReversalLine};
use super::PaymentError;

/// The file format of a statement and the bank's layout of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementFormat {
    /// MT940 with the bank's `:86:` profile.
    Mt940(Mt940Profile),
    /// A bank CSV export with its column profile.
    Csv(CsvProfile),
}

impl StatementFormat {
    /// The `payment.source` of payments from this format.
    pub fn source(&self) -> &'static str {
        match self {
            StatementFormat::Mt940(_) => "mt940",
            StatementFormat::Csv(_) => "csv",
        }
    }
}

/// One statement line stored as a new payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedPayment {
    /// The new `payment` row.
    pub payment_id: i64,
    /// The bank's reference of the line.
    pub bank_reference: String,
    /// Amount received.
    pub amount: Decimal,
    /// Whose payment it is; `None` when it waits for a clerk.
    pub customer_id: Option<i64>,
    /// How it was matched.
    pub matched_by: Option<MatchedBy>,
    /// Where the money went (empty for unmatched payments or customers with nothing open).
    pub allocations: Vec<Allocation>,
    /// Set when the clerk must judge it: `possible_duplicate` of `duplicate_of`.
    pub review: Option<&'static str>,
    /// The stored payment this line may repeat.
    pub duplicate_of: Option<i64>,
    /// Optional subfields left out because they failed validation.
    pub warnings: Vec<String>,
}

/// A credit line recognised as one already stored from another statement of the same account
/// (identical in every field the bank wrote), so not stored again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyImported {
    /// The bank's reference of the line.
    pub bank_reference: String,
    /// Amount.
    pub amount: Decimal,
    /// The stored payment it is.
    pub payment_id: i64,
    /// The statement that payment was imported from (`:28C:`).
    pub statement_number: Option<String>,
}

/// A statement in the file that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedStatement {
    /// File line of its `:20:`.
    pub line: usize,
    /// Its account (`:25:`).
    pub account: String,
    /// Its number (`:28C:`).
    pub number: String,
    /// Its currency.
    pub currency: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The text encoding the file was read in.
    pub encoding: TextEncoding,
    /// Incoming (credit) lines in the imported statements.
    pub credits: usize,
    /// Outgoing lines, never posted as payments.
    pub debits_skipped: usize,
    /// Lines stored as new payments, in file order.
    pub imported: Vec<ImportedPayment>,
    /// Bank references of lines already stored (the same entry of the same statement).
    pub duplicates: Vec<String>,
    /// Credits already stored from another statement of the account (a monthly statement
    /// repeating the daily ones): reported, not stored again.
    pub already_imported: Vec<AlreadyImported>,
    /// Returned and reversed credits (RC/RD) stored.
    pub reversals: Vec<ImportedReversal>,
    /// Returns already stored from another statement of the account (their
    /// `payment_reversal` ids): reported, not stored or applied again.
    pub reversals_already_imported: Vec<i64>,
    /// Statements of accounts that are not the utility's, or not in PLN.
    pub skipped_statements: Vec<SkippedStatement>,
}

impl ImportReport {
    /// How many of the new payments wait for a clerk.
    pub fn unmatched(&self) -> usize {
        self.imported
            .iter()
            .filter(|p| p.customer_id.is_none())
            .count()
    }
}

/// A credit line ready to store: its statement, identity and match.
struct Credit<'a> {
    line: &'a StatementLine,
    /// The payer's account and the credited (virtual) account as stored: the line's, unless
    /// the layout put one of the utility's virtual accounts where the payer's was expected.
    payer_account: Option<String>,
    to_account: Option<String>,
    account: String,
    number: String,
    id: EntryIdentity,
    customer: Option<i64>,
    matched_by: Option<MatchedBy>,
    named_invoice: Option<i64>,
    review: Option<&'static str>,
    duplicate_of: Option<i64>,
}

/// A parsed statement (a CSV export is one statement without account or number).
struct Parsed {
    line: usize,
    account: String,
    number: String,
    currency: Option<String>,
    lines: Vec<StatementLine>,
}

/// Imports a statement file: nothing is stored unless the whole file parses and every line
/// posts. Re-importing a file stores nothing new and lists its references as duplicates.
pub async fn import_statement(
    pool: &PgPool,
    bytes: &[u8],
    format: &StatementFormat,
) -> Result<ImportReport, PaymentError> {
    let (text, encoding) = decode(bytes);
    let parsed = parse(&text, format)?;
    let mut tx = pool.begin().await?;
    // One lock per import (not per line): imports run one at a time, so a concurrent import of
    // the same entries, or of the same money in another format, sees this one's rows.
    sqlx::query("select pg_advisory_xact_lock(hashtext('payment:statement-import'))")
        .execute(&mut *tx)
        .await?;
    let own = utility_accounts(&mut tx).await?;
    let mut report = ImportReport {
        encoding,
        credits: 0,
        debits_skipped: 0,
        imported: Vec::new(),
        duplicates: Vec::new(),
        already_imported: Vec::new(),
        reversals: Vec::new(),
        reversals_already_imported: Vec::new(),
        skipped_statements: Vec::new(),
    };
    let source = format.source();
    // Credits per statement: each statement is stored before the next one is looked at, so a
    // later statement of the file recognises the credits of an earlier one.
    let mut batches: Vec<Vec<Credit<'_>>> = Vec::new();
    let mut reversals = Vec::new();
    for st in &parsed {
        if let Some(reason) = skip_reason(st, &own) {
            report.skipped_statements.push(SkippedStatement {
                line: st.line,
                account: st.account.clone(),
                number: st.number.clone(),
                currency: st.currency.clone().unwrap_or_default(),
                reason,
            });
            continue;
        }
        let ctx = StatementContext {
            format: source,
            account: &st.account,
            number: &st.number,
        };
        let mut credits = Vec::new();
        for (line, id) in st.lines.iter().zip(entry_identities(ctx, &st.lines)) {
            match line.mark {
                EntryMark::Credit => credits.push(Credit {
                    line,
                    payer_account: line.payer_account.clone(),
                    to_account: line.virtual_account.clone(),
                    account: st.account.clone(),
                    number: st.number.clone(),
                    id,
                    customer: None,
                    matched_by: None,
                    named_invoice: None,
                    review: None,
                    duplicate_of: None,
                }),
                EntryMark::Debit => report.debits_skipped += 1,
                EntryMark::ReversalOfCredit | EntryMark::ReversalOfDebit => {
                    reversals.push(ReversalLine {
                        line,
                        account: st.account.clone(),
                        number: st.number.clone(),
                        key: id.key,
                        credit: id.credit,
                    })
                }
            }
        }
        batches.push(credits);
    }
    let foreign = report
        .skipped_statements
        .iter()
        .filter(|s| !s.account.is_empty() && !own.contains(&s.account))
        .count();
    if foreign == parsed.len() {
        let accounts: Vec<&str> = parsed.iter().map(|s| s.account.as_str()).collect();
        return Err(PaymentError::invalid(
            ":25:",
            format!(
                "no statement in the file is for the utility's accounts (the file has {})",
                accounts.join(", ")
            ),
        ));
    }
    report.credits = batches.iter().map(Vec::len).sum();
    for credits in &batches {
        check_currency(credits)?;
    }
    for credits in batches {
        let mut credits = recognise_stored(&mut tx, credits, &mut report).await?;
        store_credits(&mut tx, &mut credits, source, &mut report).await?;
    }
    let mut repeated = Vec::new();
    report.reversals = apply_reversals(&mut tx, &reversals, source, &mut repeated).await?;
    report.reversals_already_imported = repeated;
    tx.commit().await?;
    Ok(report)
}

fn parse(text: &str, format: &StatementFormat) -> Result<Vec<Parsed>, PaymentError> {
    Ok(match format {
        StatementFormat::Mt940(profile) => parse_mt940(text, profile)?
            .into_iter()
            .map(|s| Parsed {
                line: s.line,
                account: s.account,
                number: s.number,
                currency: Some(s.opening.currency),
                lines: s.credits.into_iter().chain(s.debits).collect(),
            })
            .collect(),
        StatementFormat::Csv(profile) => {
            let s = parse_csv(text, profile)?;
            vec![Parsed {
                line: 1,
                account: String::new(),
                number: String::new(),
                currency: None,
                lines: s.credits.into_iter().chain(s.debits).collect(),
            }]
        }
    })
}

/// The utility's accounts (collection account and `utility_bank_account`), as bare NRBs or
/// IBANs like the parser's `:25:`.
async fn utility_accounts(conn: &mut PgConnection) -> Result<HashSet<String>, PaymentError> {
    let rows: Vec<String> = sqlx::query_scalar(
        "select collection_iban::text from utility
         union select iban::text from utility_bank_account",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|iban| match iban.strip_prefix("PL") {
            Some(nrb) => nrb.to_string(),
            None => iban,
        })
        .collect())
}

/// Why a statement is not imported: another account (a multi-account file), or a currency
/// other than PLN (a foreign-currency account of the utility must not reject the PLN ones).
fn skip_reason(st: &Parsed, own: &HashSet<String>) -> Option<String> {
    if !st.account.is_empty() && !own.contains(&st.account) {
        return Some(format!(
            "account {} is not one of the utility's accounts",
            st.account
        ));
    }
    match st.currency.as_deref() {
        Some(c) if c != "PLN" => Some(format!("currency {c}: only PLN statements are posted")),
        _ => None,
    }
}

/// CSV exports have no statement currency: a non-PLN line rejects the file.
fn check_currency(credits: &[Credit<'_>]) -> Result<(), PaymentError> {
    match credits.iter().find(|c| c.line.currency != "PLN") {
        Some(c) => Err(PaymentError::invalid(
            format!("line {}", c.line.bank_reference),
            format!(
                "currency {:?}: only PLN payments are accepted",
                c.line.currency
            ),
        )),
        None => Ok(()),
    }
}

/// Stores, matches, posts and allocates the credit lines, each statement entry once.
async fn store_credits(
    conn: &mut PgConnection,
    credits: &mut [Credit<'_>],
    source: &str,
    report: &mut ImportReport,
) -> Result<(), PaymentError> {
    if credits.is_empty() {
        return Ok(());
    }
    flag_possible_duplicates(conn, credits).await?;
    match_customers(conn, credits).await?;
    let inserted = insert_payments(conn, credits, source).await?;
    let mut new_lines = Vec::new();
    for (i, c) in credits.iter().enumerate() {
        match inserted.get(&c.id.key) {
            Some(&payment_id) => new_lines.push((i, payment_id)),
            None => report.duplicates.push(c.line.bank_reference.clone()),
        }
    }
    let allocations = post_and_allocate_all(conn, credits, &new_lines).await?;
    audit_inserts(conn, credits, &new_lines, source).await?;
    for ((i, payment_id), allocations) in new_lines.into_iter().zip(allocations) {
        let c = &credits[i];
        report.imported.push(ImportedPayment {
            payment_id,
            bank_reference: c.line.bank_reference.clone(),
            amount: c.line.amount,
            customer_id: c.customer,
            matched_by: c.matched_by,
            allocations,
            review: c.review,
            duplicate_of: c.duplicate_of,
            warnings: c.line.warnings.clone(),
        });
    }
    Ok(())
}

/// Credits of one statement that repeat, field for field, credits stored from another
/// statement of the same account are those credits (banks send daily statements and a monthly
/// one): reported as already imported and left out. The n-th identical entry of the statement
/// is the n-th stored one; entries beyond what is stored (a real surplus) stay, and the loose
/// check queues them for the clerk. Returns the credits still to store.
async fn recognise_stored<'a>(
    conn: &mut PgConnection,
    credits: Vec<Credit<'a>>,
    report: &mut ImportReport,
) -> Result<Vec<Credit<'a>>, PaymentError> {
    let Some(first) = credits.first().filter(|c| !c.account.is_empty()) else {
        return Ok(credits);
    };
    let keys: Vec<&str> = credits.iter().map(|c| c.id.credit.as_str()).collect();
    let rows = sqlx::query(
        "select credit_key, payment_id, statement_number from payment
         where statement_account = $1 and statement_number is distinct from $2
           and credit_key = any($3) and dismissed_at is null
         order by payment_id",
    )
    .bind(&first.account)
    .bind(&first.number)
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    let mut stored: HashMap<String, VecDeque<(i64, Option<String>)>> = HashMap::new();
    for r in rows {
        stored
            .entry(r.try_get("credit_key")?)
            .or_default()
            .push_back((r.try_get("payment_id")?, r.try_get("statement_number")?));
    }
    let mut rest = Vec::with_capacity(credits.len());
    for c in credits {
        match stored.get_mut(&c.id.credit).and_then(VecDeque::pop_front) {
            Some((payment_id, statement_number)) => report.already_imported.push(AlreadyImported {
                bank_reference: c.line.bank_reference.clone(),
                amount: c.line.amount,
                payment_id,
                statement_number,
            }),
            None => rest.push(c),
        }
    }
    Ok(rest)
}

/// A new line whose movement (account, date, amount, reference) is already stored from
/// another statement may be the same money reported twice — or a second payment: the clerk
/// decides, so it is stored but not posted.
async fn flag_possible_duplicates(
    conn: &mut PgConnection,
    credits: &mut [Credit<'_>],
) -> Result<(), PaymentError> {
    let keys: Vec<&str> = credits.iter().map(|c| c.id.key.as_str()).collect();
    let loose: Vec<&str> = credits.iter().map(|c| c.id.loose.as_str()).collect();
    let rows = sqlx::query(
        "select loose_key, min(payment_id) as payment_id from payment
         where loose_key = any($1) and entry_key <> all($2) group by loose_key",
    )
    .bind(&loose)
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    let mut earlier: HashMap<String, i64> = HashMap::new();
    for r in rows {
        earlier.insert(r.try_get("loose_key")?, r.try_get("payment_id")?);
    }
    for c in credits.iter_mut() {
        if let Some(&id) = earlier.get(&c.id.loose) {
            c.review = Some("possible_duplicate");
            c.duplicate_of = Some(id);
        }
    }
    Ok(())
}

/// By the credited virtual account first, then by an invoice number in the title (of that
/// customer, when the account matched); lines held for review are not matched.
async fn match_customers(
    conn: &mut PgConnection,
    credits: &mut [Credit<'_>],
) -> Result<(), PaymentError> {
    let ibans: Vec<String> = credits
        .iter()
        .flat_map(|c| [&c.to_account, &c.payer_account])
        .filter_map(|a| a.as_deref().map(as_iban))
        .collect();
    let mut by_iban: HashMap<String, i64> = HashMap::new();
    for r in sqlx::query(
        "select iban::text as iban, customer_id from virtual_account where iban = any($1)",
    )
    .bind(&ibans)
    .fetch_all(&mut *conn)
    .await?
    {
        by_iban.insert(r.try_get("iban")?, r.try_get("customer_id")?);
    }
    let numbers: Vec<Vec<String>> = credits
        .iter()
        .map(|c| invoice_numbers_in(&c.line.title))
        .collect();
    let all_numbers: Vec<&String> = numbers.iter().flatten().collect();
    let mut invoices: HashMap<String, (i64, i64)> = HashMap::new();
    for r in
        sqlx::query("select number, invoice_id, customer_id from invoice where number = any($1)")
            .bind(&all_numbers)
            .fetch_all(&mut *conn)
            .await?
    {
        invoices.insert(
            r.try_get("number")?,
            (r.try_get("invoice_id")?, r.try_get("customer_id")?),
        );
    }
    for (c, named) in credits.iter_mut().zip(&numbers) {
        recognise_our_account(c, &by_iban);
        if c.review.is_some() {
            continue;
        }
        let by_account = c
            .to_account
            .as_deref()
            .and_then(|a| by_iban.get(&as_iban(a)).copied());
        let invoice = named
            .iter()
            .filter_map(|n| invoices.get(n).copied())
            .find(|(_, owner)| by_account.is_none_or(|c| c == *owner));
        c.named_invoice = invoice.map(|(id, _)| id);
        (c.customer, c.matched_by) = match (by_account, invoice) {
            (Some(customer), _) => (Some(customer), Some(MatchedBy::VirtualAccount)),
            (None, Some((_, owner))) => (Some(owner), Some(MatchedBy::InvoiceNumber)),
            (None, None) => (None, None),
        };
    }
    Ok(())
}

/// A payer account that is one of the utility's virtual accounts is the account credited: the
/// bank's layout put it in another subfield than its profile says (Santander's `>38`, say). It
/// is stored as the credited account, never as the payer's (a refund must not go back to it).
fn recognise_our_account(c: &mut Credit<'_>, ours: &HashMap<String, i64>) {
    let known = |a: &Option<String>| a.as_deref().is_some_and(|a| ours.contains_key(&as_iban(a)));
    if !known(&c.to_account) && known(&c.payer_account) {
        c.to_account = c.payer_account.take();
    }
}

/// One insert for all lines; an entry already stored is skipped by its unique key. Returns
/// entry key → new payment id.
async fn insert_payments(
    conn: &mut PgConnection,
    credits: &[Credit<'_>],
    source: &str,
) -> Result<HashMap<String, i64>, PaymentError> {
    let col = |f: &dyn Fn(&Credit<'_>) -> Option<String>| -> Vec<Option<String>> {
        credits.iter().map(f).collect()
    };
    let rows = sqlx::query(
        "insert into payment (source, bank_reference, amount, currency, booked_on, value_date,
             payer_name, payer_account, title, to_account, customer_id, matched_by, entry_key,
             loose_key, statement_account, statement_number, customer_reference, warnings,
             review, duplicate_of, credit_key)
         select $1, r, a, cur, b, v, pn, pa, t, ta, c, m, k, lk, sa, sn, cr,
                array(select jsonb_array_elements_text(w)), rv, d, ck
         from unnest($2::text[], $3::numeric[], $4::text[], $5::date[], $6::date[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[],
                     $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
                     $18::jsonb[], $19::text[], $20::bigint[], $21::text[]) with ordinality
              as x(r, a, cur, b, v, pn, pa, t, ta, c, m, k, lk, sa, sn, cr, w, rv, d, ck, n)
         order by n
         on conflict (entry_key) do nothing
         returning payment_id, entry_key",
    )
    .bind(source)
    .bind(col(&|c| Some(c.line.bank_reference.clone())))
    .bind(credits.iter().map(|c| c.line.amount).collect::<Vec<_>>())
    .bind(col(&|c| Some(c.line.currency.clone())))
    .bind(credits.iter().map(|c| c.line.booked_on).collect::<Vec<_>>())
    .bind(
        credits
            .iter()
            .map(|c| c.line.value_date)
            .collect::<Vec<_>>(),
    )
    .bind(col(&|c| c.line.payer_name.clone()))
    .bind(col(&|c| c.payer_account.clone()))
    .bind(col(&|c| Some(c.line.title.clone())))
    .bind(col(&|c| {
        c.to_account
            .as_deref()
            .map(as_iban)
            .filter(|a| a.len() == 28)
    }))
    .bind(credits.iter().map(|c| c.customer).collect::<Vec<_>>())
    .bind(col(&|c| c.matched_by.map(|m| m.as_str().to_string())))
    .bind(col(&|c| Some(c.id.key.clone())))
    .bind(col(&|c| Some(c.id.loose.clone())))
    .bind(col(&|c| Some(c.account.clone()).filter(|a| !a.is_empty())))
    .bind(col(&|c| Some(c.number.clone()).filter(|n| !n.is_empty())))
    .bind(col(&|c| {
        Some(c.line.customer_reference.clone()).filter(|r| !r.is_empty())
    }))
    .bind(
        credits
            .iter()
            .map(|c| serde_json::json!(c.line.warnings))
            .collect::<Vec<_>>(),
    )
    .bind(col(&|c| c.review.map(str::to_string)))
    .bind(credits.iter().map(|c| c.duplicate_of).collect::<Vec<_>>())
    .bind(col(&|c| Some(c.id.credit.clone())))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get("entry_key")?, r.try_get("payment_id")?)))
        .collect()
}

/// Posts every new matched payment and allocates it (the named invoice first, then the oldest
/// due), in file order per customer; the customers are locked first, in id order, so
/// concurrent imports and clerks do not both fill one invoice.
async fn post_and_allocate_all(
    conn: &mut PgConnection,
    credits: &[Credit<'_>],
    new_lines: &[(usize, i64)],
) -> Result<Vec<Vec<Allocation>>, PaymentError> {
    let mut customers: Vec<i64> = new_lines
        .iter()
        .filter_map(|(i, _)| credits[*i].customer)
        .collect();
    customers.sort_unstable();
    customers.dedup();
    let locked: Vec<i64> = sqlx::query_scalar(
        "select customer_id from customer where customer_id = any($1)
         order by customer_id for update",
    )
    .bind(&customers)
    .fetch_all(&mut *conn)
    .await?;
    if let Some(missing) = customers.iter().find(|c| !locked.contains(c)) {
        return Err(PaymentError::NotFound {
            what: format!("customer {missing}"),
        });
    }
    let mut open: HashMap<i64, Vec<OpenItem>> = ledger::open_items_of(&mut *conn, &customers, None)
        .await?
        .into_iter()
        .collect();
    let mut postings = Vec::new();
    let mut out = Vec::with_capacity(new_lines.len());
    for &(i, payment_id) in new_lines {
        let c = &credits[i];
        let Some(customer) = c.customer else {
            out.push(Vec::new());
            continue;
        };
        let mut posting = NewPosting::new(
            customer,
            c.line.booked_on,
            PostingKind::Payment,
            -c.line.amount,
            payment_description(&c.line.bank_reference),
        );
        posting.payment_id = Some(payment_id);
        postings.push(posting);
        let items = open.entry(customer).or_default();
        let plan = plan_allocation(items, c.line.amount, c.named_invoice);
        for a in &plan {
            if let Some(item) = items.iter_mut().find(|o| o.invoice_id == a.invoice_id) {
                item.allocated += a.amount;
                item.open -= a.amount;
            }
        }
        out.push(plan);
    }
    ledger::post_many(&mut *conn, &postings).await?;
    let (mut pay, mut inv, mut amt) = (Vec::new(), Vec::new(), Vec::new());
    for (&(_, payment_id), plan) in new_lines.iter().zip(&out) {
        for a in plan {
            pay.push(payment_id);
            inv.push(a.invoice_id);
            amt.push(a.amount);
        }
    }
    sqlx::query(
        "insert into payment_allocation (payment_id, invoice_id, amount)
         select * from unnest($1::bigint[], $2::bigint[], $3::numeric[])",
    )
    .bind(&pay)
    .bind(&inv)
    .bind(&amt)
    .execute(&mut *conn)
    .await?;
    Ok(out)
}

/// Records each new payment in the audit log (who, when, the row as stored), in one insert.
async fn audit_inserts(
    conn: &mut PgConnection,
    credits: &[Credit<'_>],
    new_lines: &[(usize, i64)],
    source: &str,
) -> Result<(), sqlx::Error> {
    let ids: Vec<String> = new_lines.iter().map(|(_, id)| id.to_string()).collect();
    let after: Vec<serde_json::Value> = new_lines
        .iter()
        .map(|&(i, _)| {
            let c = &credits[i];
            serde_json::json!({
                "source": source,
                "bank_reference": c.line.bank_reference,
                "amount": c.line.amount.to_string(),
                "booked_on": c.line.booked_on,
                "customer_id": c.customer,
                "matched_by": c.matched_by.map(MatchedBy::as_str),
            })
        })
        .collect();
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, after)
         select $1, 'insert', 'payment', i, a
         from unnest($2::text[], $3::jsonb[]) with ordinality as x(i, a, n) order by n",
    )
    .bind(format!("import:{source}"))
    .bind(&ids)
    .bind(&after)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Records a new payment in the audit log (who, when, the row as stored).
pub(crate) async fn audit_insert(
    conn: &mut PgConnection,
    actor: &str,
    payment_id: i64,
    after: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, after)
         values ($1, 'insert', 'payment', $2, $3)",
    )
    .bind(actor)
    .bind(payment_id.to_string())
    .bind(after)
    .execute(conn)
    .await
    .map(|_| ())
}

pub(crate) fn payment_description(reference: &str) -> String {
    format!("Wpłata {reference}")
}
