//! The read chain: each invoice stores, per meter, the reads its volume runs between
//! (`invoice_read`), and a meter's next period opens at the closing read of its latest invoice
//! before that period — never at a read re-chosen near the bound, so a reading that arrives
//! late can neither leave volume unbilled nor bill it twice.

use crate::readings::{MeterReads, MeterRole, ReadSource, StoredRead};
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, Row};
use std::collections::HashMap;

/// The closing read of each meter's latest invoice (sales or correction) for a period that
/// ends before `period` starts, keyed like the bound reads: (meter, period from, period to).
/// A correction supersedes the invoice it corrects (same period, later id).
pub async fn openings(
    conn: &mut PgConnection,
    wanted: &[(i64, Period)],
) -> Result<HashMap<(i64, NaiveDate, NaiveDate), StoredRead>, StoreError> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let meters: Vec<i64> = wanted.iter().map(|(m, _)| *m).collect();
    let froms: Vec<NaiveDate> = wanted.iter().map(|(_, p)| p.from()).collect();
    let rows = sqlx::query(
        "select x.n, h.closing_at, h.closing_ml, h.closing_source
         from unnest($1::bigint[], $2::date[]) with ordinality as x(meter_id, period_from, n)
         join lateral (select r.closing_at, r.closing_ml, r.closing_source
                       from invoice_read r join invoice i using (invoice_id)
                       where r.meter_id = x.meter_id and i.period_to < x.period_from
                       order by i.period_to desc, i.invoice_id desc limit 1) h on true",
    )
    .bind(&meters)
    .bind(&froms)
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let n: i64 = r.try_get("n")?;
        let Some((meter, period)) = usize::try_from(n - 1).ok().and_then(|i| wanted.get(i)) else {
            continue;
        };
        let source: String = r.try_get("closing_source")?;
        out.insert(
            (*meter, period.from(), period.to()),
            StoredRead {
                at: r.try_get("closing_at")?,
                volume_ml: r.try_get("closing_ml")?,
                source: ReadSource::parse(&source),
            },
        );
    }
    Ok(out)
}

/// The reads an issued invoice stood on.
pub async fn of_invoice(
    conn: &mut PgConnection,
    invoice_id: i64,
) -> Result<Vec<MeterReads>, StoreError> {
    let rows = sqlx::query(
        "select meter_id, role, opening_at, opening_ml, opening_source, closing_at, closing_ml,
                closing_source
         from invoice_read where invoice_id = $1 order by meter_id",
    )
    .bind(invoice_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get("role")?;
            let read = |p: &str| -> Result<StoredRead, sqlx::Error> {
                let source: String = r.try_get(format!("{p}_source").as_str())?;
                Ok(StoredRead {
                    at: r.try_get(format!("{p}_at").as_str())?,
                    volume_ml: r.try_get(format!("{p}_ml").as_str())?,
                    source: ReadSource::parse(&source),
                })
            };
            Ok(MeterReads {
                meter_id: r.try_get("meter_id")?,
                role: MeterRole::parse(&role).unwrap_or(MeterRole::Main),
                opening: read("opening")?,
                closing: read("closing")?,
            })
        })
        .collect()
}

fn role_str(role: MeterRole) -> &'static str {
    match role {
        MeterRole::Main => "main",
        MeterRole::Sub => "sub",
        MeterRole::Bulk => "bulk",
    }
}

/// One side (opening or closing) of many reads, as UNNEST columns.
struct ReadColumns {
    at: Vec<DateTime<Utc>>,
    ml: Vec<i64>,
    source: Vec<&'static str>,
    estimated: Vec<bool>,
}

/// Stores the reads of issued invoices: `(invoice_id, reads)` pairs, in one statement.
pub async fn save(
    conn: &mut PgConnection,
    invoices: &[(i64, &[MeterReads])],
) -> Result<(), StoreError> {
    let rows: Vec<(i64, &MeterReads)> = invoices
        .iter()
        .flat_map(|(id, reads)| reads.iter().map(move |r| (*id, r)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: &dyn Fn(&MeterReads) -> StoredRead| -> ReadColumns {
        let reads: Vec<StoredRead> = rows.iter().map(|(_, r)| f(r)).collect();
        ReadColumns {
            at: reads.iter().map(|r| r.at).collect(),
            ml: reads.iter().map(|r| r.volume_ml).collect(),
            source: reads.iter().map(|r| r.source.as_str()).collect(),
            estimated: reads.iter().map(|r| r.source.estimated()).collect(),
        }
    };
    let (o, c) = (col(&|r| r.opening), col(&|r| r.closing));
    sqlx::query(
        "insert into invoice_read (invoice_id, meter_id, role, opening_at, opening_ml,
             opening_source, opening_estimated, closing_at, closing_ml, closing_source,
             closing_estimated)
         select * from unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[],
             $5::bigint[], $6::text[], $7::bool[], $8::timestamptz[], $9::bigint[], $10::text[],
             $11::bool[])",
    )
    .bind(rows.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.meter_id).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|(_, r)| role_str(r.role))
            .collect::<Vec<_>>(),
    )
    .bind(o.at)
    .bind(o.ml)
    .bind(o.source)
    .bind(o.estimated)
    .bind(c.at)
    .bind(c.ml)
    .bind(c.source)
    .bind(c.estimated)
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads as stored with a preview's proposal; issue posts them as `invoice_read` rows
/// (`post`), each side with its `estimated` flag as [`ReadSource::estimated`] says.
pub fn to_json(reads: &[MeterReads]) -> Value {
    let read = |r: &StoredRead| {
        json!({"at": r.at, "ml": r.volume_ml, "source": r.source.as_str(),
               "estimated": r.source.estimated()})
    };
    Value::Array(
        reads
            .iter()
            .map(|r| {
                json!({"meter_id": r.meter_id, "role": role_str(r.role),
                       "opening": read(&r.opening), "closing": read(&r.closing)})
            })
            .collect(),
    )
}

/// The sales invoice whose stored estimated closing read of `meter` is `read` (the invoice a
/// later estimate chained from).
pub async fn estimated_before(
    conn: &mut PgConnection,
    meter: i64,
    read: StoredRead,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "select r.invoice_id from invoice_read r join invoice i using (invoice_id)
         where r.meter_id = $1 and r.closing_at = $2 and r.closing_ml = $3
           and r.closing_estimated and i.kind = 'VAT'
         order by r.invoice_id desc limit 1",
    )
    .bind(meter)
    .bind(read.at)
    .bind(read.volume_ml)
    .fetch_optional(conn)
    .await?)
}
