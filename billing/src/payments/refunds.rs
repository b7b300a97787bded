//! Overpayments paid back: a refund never exceeds the customer's credit and is booked as a
//! `refund` posting that uses the credit up; unexported refunds leave as one Elixir-0 file,
//! marked exported in the same transaction that builds it, written to disk so that neither a
//! crash nor an existing file loses or duplicates a refund.

use chrono::NaiveDate;
use ewoda_common::Money;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::account::Iban;
use crate::elixir::{self, Refund};
use crate::ledger::{self, NewPosting, PostingKind};

use super::PaymentError;

/// Most characters in one line of an Elixir-0 name field.
const LINE_CHARS: usize = 35;

/// Books a refund of `amount` of the customer's credit to `payee_iban`; returns the refund id.
/// `payee_name` is the payee's name and address, one line per `\n` (the transfer's lines).
/// Refused (nothing stored) when the amount is not positive, has more than two decimals or is
/// more than the credit (−balance) at that moment. `on` is the refund's value date, the Warsaw
/// day (`Clock::today`), never the database server's date.
pub async fn refund_overpayment(
    pool: &PgPool,
    customer_id: i64,
    amount: Decimal,
    payee_iban: &Iban,
    payee_name: &str,
    on: NaiveDate,
) -> Result<i64, PaymentError> {
    if amount <= Decimal::ZERO || Money::exact(amount).is_none() {
        return Err(PaymentError::invalid(
            "amount",
            format!("{amount} must be positive with at most two decimals"),
        ));
    }
    if payee_name.trim().is_empty() {
        return Err(PaymentError::invalid("payee_name", "is empty"));
    }
    let mut tx = pool.begin().await?;
    // The customer row lock orders refunds and payments of one customer, so two refunds cannot
    // both spend the same credit.
    let found: Option<i64> =
        sqlx::query_scalar("select customer_id from customer where customer_id = $1 for update")
            .bind(customer_id)
            .fetch_optional(&mut *tx)
            .await?;
    if found.is_none() {
        return Err(PaymentError::NotFound {
            what: format!("customer {customer_id}"),
        });
    }
    let credit = -ledger::balance(&mut tx, customer_id).await?;
    if amount > credit {
        return Err(PaymentError::invalid(
            "amount",
            format!(
                "{amount} is more than customer {customer_id}'s credit of {}",
                credit.max(Decimal::ZERO)
            ),
        ));
    }
    let refund_id: i64 = sqlx::query_scalar(
        "insert into refund (customer_id, amount, iban, payee_name) values ($1, $2, $3, $4)
         returning refund_id",
    )
    .bind(customer_id)
    .bind(amount)
    .bind(payee_iban.as_str())
    .bind(payee_name.trim())
    .fetch_one(&mut *tx)
    .await?;
    let mut posting = NewPosting::new(
        customer_id,
        on,
        PostingKind::Refund,
        amount,
        format!("Zwrot nadpłaty {refund_id}"),
    );
    posting.refund_id = Some(refund_id);
    ledger::post(&mut tx, &posting).await?;
    tx.commit().await?;
    Ok(refund_id)
}

/// Builds the Elixir-0 file of every refund not yet exported (oldest first) and marks them
/// exported; an empty string when there are none. If any refund cannot be written, nothing is
/// marked.
pub async fn export_refunds(
    pool: &PgPool,
    ordering_account: &str,
    ordering_party: &[String],
    execution_date: NaiveDate,
) -> Result<String, PaymentError> {
    let mut tx = pool.begin().await?;
    let (ids, file) = pending(&mut tx, ordering_account, ordering_party, execution_date).await?;
    mark_exported(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(file)
}

/// Writes the Elixir-0 file of every unexported refund to `out` safely and returns how many it
/// holds (0: no file written). The file goes to a temporary file beside `out`, is fsynced,
/// then the refunds are marked exported (commit), then it is moved into place and the folder
/// fsynced: a crash leaves either no export (refunds still pending) or a complete file. An
/// existing `out` is an error unless `overwrite`.
pub async fn export_refunds_to_file(
    pool: &PgPool,
    ordering_account: &str,
    ordering_party: &[String],
    execution_date: NaiveDate,
    out: &Path,
    overwrite: bool,
) -> Result<usize, PaymentError> {
    let io = |what: &str, e: std::io::Error| {
        PaymentError::invalid("out", format!("{what} {}: {e}", out.display()))
    };
    if !overwrite && out.exists() {
        return Err(PaymentError::invalid(
            "out",
            format!("{} exists; not overwritten (use --force)", out.display()),
        ));
    }
    let mut tx = pool.begin().await?;
    let (ids, file) = pending(&mut tx, ordering_account, ordering_party, execution_date).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let tmp = temp_path(out);
    write_synced(&tmp, file.as_bytes()).map_err(|e| io("writing a temporary file for", e))?;
    let marked = async {
        mark_exported(&mut tx, &ids).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = marked {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    // Marked exported: from here the file must not be lost, so a failure names where it is.
    let placed = if overwrite {
        std::fs::rename(&tmp, out)
    } else {
        // A hard link never replaces an existing file (a file created meanwhile is kept).
        std::fs::hard_link(&tmp, out).and_then(|()| std::fs::remove_file(&tmp))
    };
    placed.map_err(|e| {
        PaymentError::invalid(
            "out",
            format!(
                "{} refunds are marked exported and written to {}, but moving it to {} failed: {e}",
                ids.len(),
                tmp.display(),
                out.display()
            ),
        )
    })?;
    sync_dir(out).map_err(|e| io("syncing the folder of", e))?;
    Ok(ids.len())
}

/// `.<name>.tmp` beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "refunds".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Makes the rename durable: fsync the folder holding `path`.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// The unexported refunds (locked, oldest first) and their Elixir-0 file.
async fn pending(
    conn: &mut PgConnection,
    ordering_account: &str,
    ordering_party: &[String],
    execution_date: NaiveDate,
) -> Result<(Vec<i64>, String), PaymentError> {
    let rows = sqlx::query(
        "select r.refund_id, r.amount, r.iban, r.payee_name, c.number
         from refund r join customer c using (customer_id)
         where r.exported_at is null order by r.refund_id for update of r",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut refunds = Vec::with_capacity(rows.len());
    for r in rows {
        let name: String = r.try_get("payee_name")?;
        let number: String = r.try_get("number")?;
        ids.push(r.try_get("refund_id")?);
        refunds.push(Refund {
            execution_date,
            amount: r.try_get("amount")?,
            ordering_account: ordering_account.to_string(),
            ordering_party: ordering_party.to_vec(),
            beneficiary_account: r.try_get("iban")?,
            beneficiary: name.lines().flat_map(wrap).collect(),
            title: vec!["Zwrot nadpłaty".to_string(), format!("klient {number}")],
        });
    }
    Ok((ids, elixir::refund_file(&refunds)?))
}

async fn mark_exported(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    if !ids.is_empty() {
        sqlx::query("update refund set exported_at = now() where refund_id = any($1)")
            .bind(ids)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The utility as the ordering party of refunds: its collection account and its short name,
/// street and postcode with city (from the first `utility` row).
pub async fn utility_ordering(pool: &PgPool) -> Result<(String, Vec<String>), PaymentError> {
    let row = sqlx::query(
        "select collection_iban, short_name, street, postcode || ' ' || city
         from utility order by utility_id limit 1",
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| PaymentError::NotFound {
        what: "utility".to_string(),
    })?;
    let account: String = row.try_get(0)?;
    let mut party = wrap(row.try_get(1)?);
    party.extend(wrap(row.try_get(2)?));
    party.extend(wrap(row.try_get(3)?));
    Ok((account, party))
}

/// Splits a name into lines of at most 35 characters at spaces where possible.
fn wrap(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > LINE_CHARS {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            let rest = word.split_off(LINE_CHARS);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        let needed = current.chars().count() + usize::from(!current.is_empty()) + word.len();
        if needed > LINE_CHARS {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.extend(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_names_at_35() {
        assert_eq!(wrap("JAN KOWALSKI"), vec!["JAN KOWALSKI"]);
        let long = "Przedsiębiorstwo Handlowo Usługowe Kowalski i Wspólnicy";
        let lines = wrap(long);
        assert!(lines.iter().all(|l| l.chars().count() <= 35));
        assert_eq!(lines.join(" "), long);
        assert_eq!(wrap(&"A".repeat(40)), vec!["A".repeat(35), "A".repeat(5)]);
    }
}
