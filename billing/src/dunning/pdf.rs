//! The printable reminder ("Wezwanie do zapłaty") and interest note ("Nota odsetkowa"): loaded
//! from a stored `dunning_notice` and drawn with the invoice PDF's fonts and layout helpers.

use super::{LevelKind, NoticeDetails, NoticeKind};
use crate::account::Iban;
use crate::invoice::document::Party;
use crate::invoice::pdf::{
    decimal_pl, money, Canvas, InvoicePdfRenderer, PdfError, LEFT, PAGE_H, RIGHT,
};
use crate::store_error::StoreError;
use chrono::NaiveDate;
use printpdf::{Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Pt};
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};

/// Everything printed on a reminder or an interest note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DunningDocument {
    /// Reminder or note.
    pub kind: NoticeKind,
    /// Number, e.g. `WZ/2026/11/000001`.
    pub number: String,
    /// Issue day.
    pub issued_on: NaiveDate,
    /// Reminder level.
    pub level: u16,
    /// The utility.
    pub seller: Party,
    /// The debtor (address of their latest contract's premises).
    pub debtor: Party,
    /// Customer number.
    pub customer_number: String,
    /// Stored details: invoices, interest parts, fee, pay-by day, EUR rate.
    pub details: NoticeDetails,
    /// Open amounts (reminder) or amounts paid late (note).
    pub principal: Decimal,
    /// Interest.
    pub interest: Decimal,
    /// Compensation in EUR.
    pub compensation_eur: Option<Decimal>,
    /// Compensation in PLN.
    pub compensation_pln: Option<Decimal>,
    /// The customer's individual account.
    pub account: Option<Iban>,
}

impl DunningDocument {
    /// What the document asks to pay: open amounts and fee (reminder), or interest and
    /// compensation (note).
    pub fn total(&self) -> Decimal {
        match self.kind {
            NoticeKind::Reminder => self.principal + self.details.fee,
            NoticeKind::InterestNote => self.interest + self.compensation_pln.unwrap_or_default(),
        }
    }

    /// The title, e.g. "Wezwanie do zapłaty nr WZ/2026/11/000001".
    pub fn title(&self) -> String {
        let what = match self.kind {
            NoticeKind::InterestNote => "Nota odsetkowa",
            NoticeKind::Reminder => self
                .details
                .level_kind
                .unwrap_or(LevelKind::Reminder)
                .title(),
        };
        format!("{what} nr {}", self.number)
    }
}

/// Loads the notice numbered `number` with the utility as seller and the customer as debtor.
pub async fn load(conn: &mut PgConnection, number: &str) -> Result<DunningDocument, StoreError> {
    let r = sqlx::query(
        "select n.kind, n.number, n.issued_on, n.level, n.principal, n.interest,
                n.compensation_eur, n.compensation_pln, n.details,
                cu.number, coalesce(cu.company_name, concat_ws(' ', cu.first_name, cu.last_name)),
                cu.nip, a.street, a.building, a.flat, a.postcode, a.city,
                u.name, u.nip, u.street, u.postcode, u.city, va.iban
         from dunning_notice n
         join customer cu on cu.customer_id = n.customer_id
         left join lateral (
             select ad.* from contract c
             join premises p on p.premises_id = c.premises_id
             join address ad on ad.address_id = p.address_id
             where c.customer_id = n.customer_id
             order by c.valid_from desc, c.contract_id desc limit 1) a on true
         left join virtual_account va on va.customer_id = n.customer_id
         cross join (select * from utility order by utility_id limit 1) u
         where n.number = $1",
    )
    .bind(number)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::not_found(format!("dunning notice {number} (or the utility)")))?;
    let kind = match r.try_get::<String, _>(0)?.as_str() {
        "reminder" => NoticeKind::Reminder,
        "interest_note" => NoticeKind::InterestNote,
        other => {
            return Err(StoreError::invalid(
                "dunning_notice.kind",
                format!("unknown kind {other:?}"),
            ))
        }
    };
    let details: NoticeDetails = serde_json::from_value(r.try_get(8)?)
        .map_err(|e| StoreError::invalid("dunning_notice.details", e.to_string()))?;
    let level: i16 = r.try_get(3)?;
    let mut address = Vec::new();
    let street: Option<String> = r.try_get(12)?;
    let building: Option<String> = r.try_get(13)?;
    let flat: Option<String> = r.try_get(14)?;
    if let (Some(s), Some(b)) = (street, building) {
        address.push(match flat {
            Some(f) => format!("{s} {b}/{f}"),
            None => format!("{s} {b}"),
        });
    }
    let postcode: Option<String> = r.try_get(15)?;
    let city: Option<String> = r.try_get(16)?;
    if let (Some(p), Some(c)) = (postcode, city) {
        address.push(format!("{p} {c}"));
    }
    let iban: Option<String> = r.try_get(22)?;
    Ok(DunningDocument {
        kind,
        number: r.try_get(1)?,
        issued_on: r.try_get(2)?,
        level: u16::try_from(level).unwrap_or(1),
        principal: r.try_get(4)?,
        interest: r.try_get(5)?,
        compensation_eur: r.try_get(6)?,
        compensation_pln: r.try_get(7)?,
        details,
        customer_number: r.try_get(9)?,
        debtor: Party {
            name: r.try_get(10)?,
            address,
            nip: r.try_get(11)?,
        },
        seller: Party {
            name: r.try_get(17)?,
            address: vec![
                r.try_get(19)?,
                format!(
                    "{} {}",
                    r.try_get::<String, _>(20)?,
                    r.try_get::<String, _>(21)?
                ),
            ],
            nip: r.try_get(18)?,
        },
        account: iban.map(|s| Iban::parse(&s)).transpose()?,
    })
}

/// Renders a reminder or an interest note as PDF bytes with `renderer`'s fonts.
pub fn render_dunning_pdf(
    renderer: &InvoicePdfRenderer,
    doc: &DunningDocument,
) -> Result<Vec<u8>, PdfError> {
    let title = doc.title();
    let mut pdf = PdfDocument::new(&title);
    let regular = PdfFontHandle::External(pdf.add_font(&renderer.regular));
    let bold = PdfFontHandle::External(pdf.add_font(&renderer.bold));
    let mut c = Canvas {
        fonts: renderer,
        regular,
        bold,
        pages: Vec::new(),
        ops: vec![Op::SetOutlineThickness { pt: Pt(0.5) }],
        y: PAGE_H - 50.0,
    };
    c.paragraph(14.0, true, &title);
    c.text(
        LEFT,
        c.y,
        9.0,
        false,
        &format!(
            "Data wystawienia: {}    Numer klienta: {}",
            doc.issued_on, doc.customer_number
        ),
    );
    c.down(24.0);

    let side = |p: &Party| {
        let mut v = vec![p.name.clone()];
        v.extend(p.address.iter().cloned());
        if let Some(nip) = &p.nip {
            v.push(format!("NIP: {nip}"));
        }
        v
    };
    let (left, right) = (side(&doc.seller), side(&doc.debtor));
    c.two_columns(["Wierzyciel", "Dłużnik"], &left, &right);

    match doc.kind {
        NoticeKind::Reminder => reminder_body(&mut c, doc),
        NoticeKind::InterestNote => note_body(&mut c, doc),
    }

    c.down(10.0);
    c.text(
        LEFT,
        c.y,
        13.0,
        true,
        &format!("Do zapłaty: {}", money(doc.total())),
    );
    c.down(16.0);
    c.text(
        LEFT,
        c.y,
        9.0,
        false,
        &format!("Termin zapłaty: {}", doc.details.pay_by),
    );
    c.down(20.0);
    if let Some(account) = &doc.account {
        c.text(LEFT, c.y, 9.0, true, "Dane do przelewu");
        c.down(13.0);
        for t in [
            format!("Odbiorca: {}", doc.seller.name),
            format!("Rachunek: {}", account.to_print()),
            format!("Tytuł: {} / klient {}", doc.number, doc.customer_number),
        ] {
            c.paragraph(9.0, false, &t);
        }
    }
    c.pages.push(std::mem::take(&mut c.ops));
    let pages: Vec<PdfPage> = c
        .pages
        .into_iter()
        .map(|ops| PdfPage::new(Mm(210.0), Mm(297.0), ops))
        .collect();
    Ok(pdf
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new()))
}

fn reminder_body(c: &mut Canvas<'_>, doc: &DunningDocument) {
    c.text(
        LEFT,
        c.y,
        9.0,
        false,
        "Wzywamy do zapłaty niżej wymienionych, nieopłaconych w terminie należności:",
    );
    c.down(18.0);
    let cols: [(f32, &str, bool); 5] = [
        (LEFT, "Faktura", false),
        (LEFT + 200.0, "Termin płatności", false),
        (LEFT + 350.0, "Kwota brutto", true),
        (LEFT + 430.0, "Dni opóźnienia", true),
        (RIGHT, "Pozostało", true),
    ];
    header(c, &cols);
    for it in &doc.details.items {
        let cells = [
            it.number.clone(),
            it.due_on.to_string(),
            money(it.gross),
            it.days_late.to_string(),
            money(it.open),
        ];
        row(c, &cols, &cells);
    }
    c.rule(c.y + 9.0);
    c.down(4.0);
    if !doc.details.credit.is_zero() {
        c.text_right(
            RIGHT,
            c.y,
            9.0,
            false,
            &format!("Zaliczona nadpłata: -{}", money(doc.details.credit)),
        );
        c.down(13.0);
    }
    c.text_right(
        RIGHT,
        c.y,
        9.0,
        true,
        &format!("Razem zaległość: {}", money(doc.principal)),
    );
    c.down(13.0);
    if !doc.details.fee.is_zero() {
        c.text_right(
            RIGHT,
            c.y,
            9.0,
            false,
            &format!("Opłata za wezwanie: {}", money(doc.details.fee)),
        );
        c.down(13.0);
    }
    c.down(6.0);
    c.text(
        LEFT,
        c.y,
        8.0,
        false,
        "Brak zapłaty w terminie może skutkować naliczeniem odsetek ustawowych za opóźnienie",
    );
    c.down(11.0);
    c.text(
        LEFT,
        c.y,
        8.0,
        false,
        "i skierowaniem sprawy na drogę postępowania sądowego. Jeśli należność została już",
    );
    c.down(11.0);
    c.text(
        LEFT,
        c.y,
        8.0,
        false,
        "uregulowana, prosimy uznać wezwanie za bezzasadne.",
    );
    c.down(13.0);
}

fn note_body(c: &mut Canvas<'_>, doc: &DunningDocument) {
    c.text(
        LEFT,
        c.y,
        9.0,
        false,
        "Obciążamy odsetkami za opóźnienie w zapłacie następujących należności:",
    );
    c.down(18.0);
    let cols: [(f32, &str, bool); 7] = [
        (LEFT, "Faktura / termin", false),
        (LEFT + 175.0, "Kwota", true),
        (LEFT + 190.0, "Zapłacono", false),
        (LEFT + 255.0, "Okres", false),
        (LEFT + 385.0, "Dni", true),
        (LEFT + 430.0, "Stawka", true),
        (RIGHT, "Odsetki", true),
    ];
    header(c, &cols);
    for it in &doc.details.items {
        c.text(
            LEFT,
            c.y,
            8.0,
            true,
            &format!("{} (termin {})", it.number, it.due_on),
        );
        c.down(13.0);
        for p in &it.parts {
            let paid = p
                .paid_on
                .map_or_else(|| "nie zapłacono".to_string(), |d| d.to_string());
            for (i, s) in p.segments.iter().enumerate() {
                let cells = [
                    String::new(),
                    if i == 0 {
                        money(p.amount)
                    } else {
                        String::new()
                    },
                    if i == 0 { paid.clone() } else { String::new() },
                    format!("{} – {}", s.from, s.to),
                    s.days.to_string(),
                    format!("{}%", decimal_pl(s.rate_percent)),
                    String::new(),
                ];
                row(c, &cols, &cells);
            }
            c.text_right(
                RIGHT,
                c.y,
                8.0,
                false,
                &format!("{} dni, odsetki: {}", p.days, money(p.interest)),
            );
            c.down(13.0);
        }
    }
    c.rule(c.y + 9.0);
    c.down(4.0);
    c.text_right(
        RIGHT,
        c.y,
        9.0,
        true,
        &format!("Razem odsetki: {}", money(doc.interest)),
    );
    c.down(13.0);
    if let (Some(eur), Some(pln)) = (doc.compensation_eur, doc.compensation_pln) {
        let rate = doc
            .details
            .eur_rate
            .map(|(day, mid)| format!(" (kurs średni NBP z {day}: {})", decimal_pl(mid)))
            .unwrap_or_default();
        c.text_right(
            RIGHT,
            c.y,
            9.0,
            false,
            &format!(
                "Rekompensata za koszty odzyskiwania należności {} EUR{rate}: {}",
                decimal_pl(eur.normalize()),
                money(pln)
            ),
        );
        c.down(13.0);
    }
}

fn header<const N: usize>(c: &mut Canvas<'_>, cols: &[(f32, &str, bool); N]) {
    for (x, h, right) in cols {
        if *right {
            c.text_right(*x, c.y, 8.0, true, h);
        } else {
            c.text(*x, c.y, 8.0, true, h);
        }
    }
    c.rule(c.y - 4.0);
    c.down(16.0);
}

fn row<const N: usize>(c: &mut Canvas<'_>, cols: &[(f32, &str, bool); N], cells: &[String; N]) {
    for ((x, _, right), t) in cols.iter().zip(cells) {
        if *right {
            c.text_right(*x, c.y, 8.0, false, t);
        } else {
            c.text(*x, c.y, 8.0, false, t);
        }
    }
    c.down(13.0);
}
