//! KSeF acknowledgements: the KSeF number the system gave each sent invoice, imported from a
//! UPO (urzędowe poświadczenie odbioru, `Potwierdzenie` with one `Dokument` per invoice:
//! `NumerFaktury`, `NumerKSeFDokumentu`, `NipSprzedawcy`) or from a plain list of
//! `invoice number;KSeF number` lines, into `invoice.ksef_number`. A correction of an invoice
//! with a KSeF number then references it (`NrKSeF` 1, `NrKSeFFaKorygowanej`).

use super::xml::check_ksef_number;
use crate::store_error::StoreError;
use crate::xmlscan::records;
use sqlx::{PgPool, Row};

/// One invoice's KSeF number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KsefAck {
    /// Line of the file it came from (for errors).
    pub line: usize,
    /// Our invoice number, e.g. `FW/2026/11/000001`.
    pub invoice_number: String,
    /// The number KSeF gave it.
    pub ksef_number: String,
    /// The seller's NIP when the file names it (a UPO does).
    pub seller_nip: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckReport {
    /// Invoices that got their KSeF number now.
    pub stored: usize,
    /// Invoices that had this very number already.
    pub already: usize,
}

fn bad(line: usize, message: impl Into<String>) -> StoreError {
    StoreError::invalid(format!("ack file line {line}"), message)
}

fn ksef(line: usize, number: &str) -> Result<String, StoreError> {
    check_ksef_number("NumerKSeFDokumentu", number).map_err(|e| bad(line, e.to_string()))?;
    Ok(number.to_string())
}

/// Parses a UPO (XML) or a number list (`number;ksef`, `,` or tab also accepted; a first
/// line without digits in its second cell is a header; `#` comments are skipped).
pub fn parse(bytes: &[u8]) -> Result<Vec<KsefAck>, StoreError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| bad(1, format!("not UTF-8 (byte {})", e.valid_up_to())))?
        .trim_start_matches('\u{feff}');
    let acks = if text.trim_start().starts_with('<') {
        upo(text)?
    } else {
        list(text)?
    };
    if acks.is_empty() {
        return Err(bad(1, "no invoice with a KSeF number in the file"));
    }
    Ok(acks)
}

fn upo(xml: &str) -> Result<Vec<KsefAck>, StoreError> {
    let fields = ["NumerFaktury", "NumerKSeFDokumentu", "NipSprzedawcy"];
    let docs = records(xml, "Dokument", &fields).map_err(|l| bad(l, "a tag is not closed"))?;
    docs.into_iter()
        .map(|(line, f)| {
            let get = |name: &str| {
                f.get(name)
                    .map(|s| s.to_string())
                    .ok_or_else(|| bad(line, format!("Dokument without {name}")))
            };
            Ok(KsefAck {
                line,
                invoice_number: get("NumerFaktury")?,
                ksef_number: ksef(line, &get("NumerKSeFDokumentu")?)?,
                seller_nip: f.get("NipSprzedawcy").map(|s| s.to_string()),
            })
        })
        .collect()
}

fn list(text: &str) -> Result<Vec<KsefAck>, StoreError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = l.split([';', ',', '\t']).map(str::trim).collect();
        let [number, ksef_number, ..] = cells[..] else {
            return Err(bad(line, "expected `invoice number;KSeF number`"));
        };
        if line == 1 && !ksef_number.chars().any(|c| c.is_ascii_digit()) {
            continue; // a header line ("numer;ksef")
        }
        out.push(KsefAck {
            line,
            invoice_number: number.to_string(),
            ksef_number: ksef(line, ksef_number)?,
            seller_nip: None,
        });
    }
    Ok(out)
}

/// Stores the numbers in one transaction: every invoice must exist, belong to our NIP when
/// the file names a seller, and not have another KSeF number already; otherwise nothing is
/// stored.
pub async fn store(pool: &PgPool, acks: &[KsefAck]) -> Result<AckReport, StoreError> {
    let mut tx = pool.begin().await?;
    let our_nip: Option<String> =
        sqlx::query_scalar("select nip from utility order by utility_id limit 1")
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
    let mut report = AckReport::default();
    for a in acks {
        if let (Some(theirs), Some(ours)) = (&a.seller_nip, &our_nip) {
            if theirs != ours {
                return Err(bad(
                    a.line,
                    format!("seller NIP {theirs} is not ours ({ours})"),
                ));
            }
        }
        let row =
            sqlx::query("select invoice_id, ksef_number from invoice where number = $1 for update")
                .bind(&a.invoice_number)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| bad(a.line, format!("invoice {} not found", a.invoice_number)))?;
        let id: i64 = row.try_get("invoice_id")?;
        match row.try_get::<Option<String>, _>("ksef_number")? {
            Some(k) if k == a.ksef_number => report.already += 1,
            Some(k) => {
                return Err(bad(
                    a.line,
                    format!(
                        "{} already has KSeF number {k}, not {}",
                        a.invoice_number, a.ksef_number
                    ),
                ))
            }
            None => {
                sqlx::query("update invoice set ksef_number = $2 where invoice_id = $1")
                    .bind(id)
                    .bind(&a.ksef_number)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "insert into audit_log (actor, action, entity, entity_id, before, after)
                     values ('ksef:ack', 'update', 'invoice', $1, '{\"ksef_number\": null}', $2)",
                )
                .bind(id.to_string())
                .bind(serde_json::json!({ "ksef_number": a.ksef_number }))
                .execute(&mut *tx)
                .await?;
                report.stored += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// `ewoda ksef ack FILE`: parse and store.
pub async fn import(pool: &PgPool, bytes: &[u8]) -> Result<AckReport, StoreError> {
    store(pool, &parse(bytes)?).await
}
