//! The invoice PDF (printpdf), rendered on demand: A4, Polish text in the embedded DejaVu Sans subset
//! (subset into the file), seller and buyer, lines, VAT summary per rate, the amount due, the
//! customer's individual account with transfer data and the banks' payment QR code.

use super::document::InvoiceDocument;
use super::qr::{self, QrError, TransferData};
use ewoda_common::Money;
use printpdf::{
    Color, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};
use rust_decimal::Decimal;

const REGULAR_TTF: &[u8] = include_bytes!("../../assets/DejaVuSans-PL.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../assets/DejaVuSans-Bold-PL.ttf");

pub(crate) const PAGE_W: f32 = 595.0;
pub(crate) const PAGE_H: f32 = 842.0;
pub(crate) const LEFT: f32 = 40.0;
pub(crate) const RIGHT: f32 = PAGE_W - 40.0;
pub(crate) const BOTTOM: f32 = 60.0;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The embedded font did not parse.
    #[error("pdf: embedded font {0} does not parse")]
    Font(&'static str),
    /// The document is inconsistent.
    #[error("pdf: {0}")]
    Document(#[from] crate::calc_error::CalcError),
    /// The payment QR code could not be made.
    #[error("pdf: {0}")]
    Qr(#[from] QrError),
}

/// Parsed fonts, reusable across many renders.
#[derive(Debug, Clone)]
pub struct InvoicePdfRenderer {
    pub(crate) regular: ParsedFont,
    pub(crate) bold: ParsedFont,
}

/// Renders one invoice (parses the fonts each time; keep an [`InvoicePdfRenderer`] for many).
pub fn render_invoice_pdf(doc: &InvoiceDocument) -> Result<Vec<u8>, PdfError> {
    InvoicePdfRenderer::new()?.render(doc)
}

/// Polish money format: `1 234,56 zł`.
pub fn money(value: Decimal) -> String {
    money_dp(Money::round(value).amount(), Money::DP)
}

/// A unit price as the tariff holds it: m³ prices with the tariff's 4 decimals (`7,9310 zł`),
/// so quantity × the printed price is the line's net as computed; fees to the grosz.
pub fn unit_price(value: Decimal, unit: &str) -> String {
    let dp = if unit == "m3" {
        UNIT_PRICE_DP
    } else {
        Money::DP
    };
    money_dp(value, dp)
}

/// Decimals of m³ prices (`tariff_version.water_m3`, `sewage_m3`: numeric(14,4)).
const UNIT_PRICE_DP: u32 = 4;

/// `value` with `dp` decimals (at least), grouped thousands, `zł`.
fn money_dp(value: Decimal, dp: u32) -> String {
    let mut v = value;
    if v.scale() < dp {
        v.rescale(dp);
    }
    let s = v.abs().to_string();
    let (int, frac) = s.split_once('.').unwrap_or((s.as_str(), "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(c);
    }
    let sign = if v.is_sign_negative() && !v.is_zero() {
        "-"
    } else {
        ""
    };
    format!("{sign}{grouped},{frac} zł")
}

pub(crate) fn decimal_pl(value: Decimal) -> String {
    value.to_string().replace('.', ",")
}

fn item_name(item: &str) -> &str {
    match item {
        "water" => "Woda",
        "sewage" => "Ścieki",
        other => other,
    }
}

fn unit_name(unit: &str) -> &str {
    match unit {
        "m3" => "m³",
        "month" => "mies.",
        "period" => "okres",
        other => other,
    }
}

/// Collects the drawing operations of the pages.
pub(crate) struct Canvas<'a> {
    pub(crate) fonts: &'a InvoicePdfRenderer,
    pub(crate) regular: PdfFontHandle,
    pub(crate) bold: PdfFontHandle,
    pub(crate) pages: Vec<Vec<Op>>,
    pub(crate) ops: Vec<Op>,
    pub(crate) y: f32,
}

impl Canvas<'_> {
    pub(crate) fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let font = if bold {
            &self.fonts.bold
        } else {
            &self.fonts.regular
        };
        let units: u32 = text
            .chars()
            .map(|c| {
                font.lookup_glyph_index(c as u32)
                    .and_then(|g| font.get_glyph_width(g))
                    .map_or(600, u32::from)
            })
            .sum();
        units as f32 * size / f32::from(font.units_per_em.max(1))
    }

    pub(crate) fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let font = if bold {
            self.bold.clone()
        } else {
            self.regular.clone()
        };
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font,
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_string())],
            },
            Op::EndTextSection,
        ]);
    }

    pub(crate) fn text_right(&mut self, right: f32, y: f32, size: f32, bold: bool, text: &str) {
        let w = self.width(text, size, bold);
        self.text(right - w, y, size, bold, text);
    }

    pub(crate) fn rule(&mut self, y: f32) {
        self.ops.push(Op::DrawLine {
            line: Line {
                points: vec![
                    LinePoint {
                        p: Point {
                            x: Pt(LEFT),
                            y: Pt(y),
                        },
                        bezier: false,
                    },
                    LinePoint {
                        p: Point {
                            x: Pt(RIGHT),
                            y: Pt(y),
                        },
                        bezier: false,
                    },
                ],
                is_closed: false,
            },
        });
    }

    /// `text` broken at spaces into lines no wider than `max` (a word wider than `max` is
    /// broken between characters).
    pub(crate) fn wrap(&self, text: &str, size: f32, bold: bool, max: f32) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size, bold) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for ch in word.chars() {
                line.push(ch);
                if self.width(&line, size, bold) > max && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::replace(&mut line, ch.to_string()));
                }
            }
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// `text` wrapped to the page width at `size`, one line after another, moving down.
    pub(crate) fn paragraph(&mut self, size: f32, bold: bool, text: &str) {
        for line in self.wrap(text, size, bold, RIGHT - LEFT) {
            self.text(LEFT, self.y, size, bold, &line);
            self.down(size + 4.0);
        }
    }

    /// Two blocks side by side (seller and buyer, creditor and debtor) under their headings,
    /// each line wrapped to its column, then moves below the longer one.
    pub(crate) fn two_columns(&mut self, headings: [&str; 2], left: &[String], right: &[String]) {
        let top = self.y;
        self.text(LEFT, top, 9.0, true, headings[0]);
        self.text(PAGE_W / 2.0, top, 9.0, true, headings[1]);
        let column = PAGE_W / 2.0 - LEFT - 12.0;
        let wrapped = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .flat_map(|l| self.wrap(l, 9.0, false, column))
                .collect()
        };
        let (left, right) = (wrapped(left), wrapped(right));
        let rows = left.len().max(right.len());
        for i in 0..rows {
            let y = top - 13.0 * (i as f32 + 1.0);
            if let Some(t) = left.get(i) {
                self.text(LEFT, y, 9.0, false, t);
            }
            if let Some(t) = right.get(i) {
                self.text(PAGE_W / 2.0, y, 9.0, false, t);
            }
        }
        self.down(13.0 * (rows as f32 + 2.0));
    }

    /// Moves down by `dy`, starting a new page when the bottom margin is reached.
    pub(crate) fn down(&mut self, dy: f32) {
        self.y -= dy;
        if self.y < BOTTOM {
            self.pages.push(std::mem::take(&mut self.ops));
            self.y = PAGE_H - 50.0;
        }
    }
}

/// The payment block's heading and lines: transfer data for an amount to pay, the amount to
/// refund (and how) for a correction that lowers the bill, or that nothing changes.
fn payment_block(
    doc: &InvoiceDocument,
    account: &crate::account::Iban,
) -> (&'static str, Vec<String>) {
    let title = format!("Tytuł: {} / klient {}", doc.number, doc.customer_number);
    if doc.gross.is_sign_negative() && !doc.gross.is_zero() {
        return (
            "Zwrot nadpłaty",
            vec![
                format!("Kwota do zwrotu: {}", money(-doc.gross)),
                "Zwrot na rachunek wskazany przez klienta albo zaliczenie na poczet kolejnych \
                 należności (saldo w eBOK)."
                    .to_string(),
                format!(
                    "Rachunek klienta w {}: {}",
                    doc.seller.name,
                    account.to_print()
                ),
                title,
            ],
        );
    }
    if doc.gross.is_zero() {
        return (
            "Płatność",
            vec!["Korekta nie zmienia kwoty do zapłaty.".to_string(), title],
        );
    }
    (
        "Dane do przelewu",
        vec![
            format!("Odbiorca: {}", doc.seller.name),
            format!("Rachunek: {}", account.to_print()),
            format!("Kwota do zapłaty: {}", money(doc.gross)),
            title,
        ],
    )
}

/// Columns of the lines table: (right edge or left edge, header, right-aligned).
const COLS: [(f32, &str, bool); 8] = [
    (LEFT, "Lp.", false),
    (LEFT + 24.0, "Pozycja", false),
    (LEFT + 150.0, "Okres", false),
    (LEFT + 300.0, "Ilość", true),
    (LEFT + 312.0, "j.m.", false),
    (LEFT + 400.0, "Cena netto", true),
    (LEFT + 470.0, "Wartość netto", true),
    (RIGHT, "VAT", true),
];

impl InvoicePdfRenderer {
    /// Parses the embedded fonts.
    pub fn new() -> Result<Self, PdfError> {
        let regular = ParsedFont::from_bytes(REGULAR_TTF, 0, &mut Vec::new())
            .ok_or(PdfError::Font("DejaVuSans-PL.ttf"))?;
        let bold = ParsedFont::from_bytes(BOLD_TTF, 0, &mut Vec::new())
            .ok_or(PdfError::Font("DejaVuSans-Bold-PL.ttf"))?;
        Ok(InvoicePdfRenderer { regular, bold })
    }

    /// Renders the invoice as PDF bytes.
    pub fn render(&self, doc: &InvoiceDocument) -> Result<Vec<u8>, PdfError> {
        let mut pdf = PdfDocument::new(&format!("Faktura {}", doc.number));
        let regular = PdfFontHandle::External(pdf.add_font(&self.regular));
        let bold = PdfFontHandle::External(pdf.add_font(&self.bold));
        let mut c = Canvas {
            fonts: self,
            regular,
            bold,
            pages: Vec::new(),
            ops: vec![Op::SetOutlineThickness { pt: Pt(0.5) }],
            y: PAGE_H - 50.0,
        };
        let title = match &doc.corrects {
            Some(_) => format!("Faktura korygująca nr {}", doc.number),
            None => format!("Faktura VAT nr {}", doc.number),
        };
        c.text(LEFT, c.y, 16.0, true, &title);
        let issued = format!("Data wystawienia: {}", doc.issued_on);
        // A long title (a correction's) pushes the date to the next line.
        if c.width(&title, 16.0, true) + c.width(&issued, 9.0, false) + 12.0 > RIGHT - LEFT {
            c.down(16.0);
        }
        c.text_right(RIGHT, c.y, 9.0, false, &issued);
        c.down(16.0);
        if let Some(orig) = &doc.corrects {
            c.text(LEFT, c.y, 10.0, false, &format!("do faktury nr {orig}"));
            c.down(13.0);
            if let Some(reason) = &doc.correction_reason {
                c.paragraph(9.0, false, &format!("Przyczyna korekty: {reason}"));
            }
        }
        c.text(
            LEFT,
            c.y,
            10.0,
            false,
            &format!(
                "Okres rozliczeniowy: {} – {}    Termin płatności: {}",
                doc.period.from(),
                doc.period.to(),
                doc.due_on
            ),
        );
        c.down(26.0);

        // Seller and buyer side by side.
        let mut left_lines = vec![doc.seller.name.clone()];
        left_lines.extend(doc.seller.address.iter().cloned());
        if let Some(nip) = &doc.seller.nip {
            left_lines.push(format!("NIP: {nip}"));
        }
        let mut right_lines = vec![doc.buyer.name.clone()];
        right_lines.extend(doc.buyer.address.iter().cloned());
        if let Some(nip) = &doc.buyer.nip {
            right_lines.push(format!("NIP: {nip}"));
        }
        right_lines.push(format!("Numer klienta: {}", doc.customer_number));
        if let Some(k) = &doc.contract_number {
            right_lines.push(format!("Umowa: {k}"));
        }
        c.two_columns(["Sprzedawca", "Nabywca"], &left_lines, &right_lines);

        // Lines.
        for (x, h, right) in COLS {
            if right {
                c.text_right(x, c.y, 8.0, true, h);
            } else {
                c.text(x, c.y, 8.0, true, h);
            }
        }
        c.rule(c.y - 4.0);
        c.down(16.0);
        for (i, l) in doc.lines.iter().enumerate() {
            let [lp, item, period, qty, unit, price, net, vat] = COLS.map(|(x, _, _)| x);
            let name = if l.estimated {
                format!("{} (szacunek)", item_name(&l.item))
            } else {
                item_name(&l.item).to_string()
            };
            let name_lines = c.wrap(&name, 8.0, false, period - item - 6.0);
            c.text(lp, c.y, 8.0, false, &format!("{}", i + 1));
            for (k, part) in name_lines.iter().enumerate() {
                c.text(item, c.y - 10.0 * k as f32, 8.0, false, part);
            }
            c.text(period, c.y, 8.0, false, &format!("{} – {}", l.from, l.to));
            c.text_right(qty, c.y, 8.0, false, &decimal_pl(l.quantity));
            c.text(unit, c.y, 8.0, false, unit_name(&l.unit));
            c.text_right(price, c.y, 8.0, false, &unit_price(l.unit_price, &l.unit));
            c.text_right(net, c.y, 8.0, false, &money(l.net));
            c.text_right(
                vat,
                c.y,
                8.0,
                false,
                &format!("{}%", decimal_pl(l.vat_percent.normalize())),
            );
            c.down(13.0 + 10.0 * (name_lines.len() as f32 - 1.0));
        }
        c.rule(c.y + 9.0);
        c.down(10.0);

        // VAT summary per rate.
        let cols = [RIGHT - 270.0, RIGHT - 180.0, RIGHT - 90.0, RIGHT];
        for (x, h) in cols.iter().zip(["Stawka VAT", "Netto", "VAT", "Brutto"]) {
            c.text_right(*x, c.y, 8.0, true, h);
        }
        c.down(13.0);
        for r in &doc.vat_rows {
            let cells = [
                format!("{}%", decimal_pl(r.vat_percent)),
                money(r.net),
                money(r.vat),
                money(r.gross),
            ];
            for (x, t) in cols.iter().zip(cells) {
                c.text_right(*x, c.y, 8.0, false, &t);
            }
            c.down(13.0);
        }
        let totals = [
            "Razem".to_string(),
            money(doc.net),
            money(doc.vat),
            money(doc.gross),
        ];
        for (x, t) in cols.iter().zip(totals) {
            c.text_right(*x, c.y, 8.0, true, &t);
        }
        c.down(26.0);

        let due_label = if doc.gross.is_sign_negative() {
            "Do zwrotu"
        } else {
            "Do zapłaty"
        };
        c.text(
            LEFT,
            c.y,
            13.0,
            true,
            &format!("{due_label}: {}", money(doc.gross.abs())),
        );
        c.down(16.0);
        c.text(
            LEFT,
            c.y,
            9.0,
            false,
            &format!("Termin płatności: {}", doc.due_on),
        );
        c.down(13.0);
        if doc.estimated {
            c.paragraph(
                8.0,
                false,
                "Zużycie szacunkowe — zostanie rozliczone fakturą korygującą po odczycie licznika.",
            );
        }
        c.down(10.0);

        // Payment: the individual account, transfer data and the QR code.
        if let Some(account) = &doc.account {
            if c.y < BOTTOM + 110.0 {
                c.down(PAGE_H);
            }
            let top = c.y;
            let (heading, lines) = payment_block(doc, account);
            c.text(LEFT, top, 9.0, true, heading);
            // Left of the QR code (90 pt and a gap).
            let width = RIGHT - LEFT - 110.0;
            let lines: Vec<String> = lines
                .iter()
                .flat_map(|l| c.wrap(l, 9.0, false, width))
                .collect();
            for (i, t) in lines.iter().enumerate() {
                c.text(LEFT, top - 13.0 * (i as f32 + 1.0), 9.0, false, t);
            }
            if doc.gross.is_sign_positive() && !doc.gross.is_zero() {
                if let Some(nip) = &doc.seller.nip {
                    let payload = qr::payload(&TransferData {
                        recipient_nip: nip.clone(),
                        account: account.clone(),
                        amount: doc.gross,
                        recipient_name: doc.seller_short_name.clone(),
                        title: doc.number.clone(),
                    })?;
                    let m = qr::matrix(&payload)?;
                    let size = 90.0;
                    let module = size / m.width as f32;
                    let (x0, y0) = (RIGHT - size, top - size + 8.0);
                    c.ops.push(Op::SetFillColor {
                        col: Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)),
                    });
                    for (i, dark) in m.dark.iter().enumerate() {
                        if *dark {
                            let (row, col) = (i / m.width, i % m.width);
                            c.ops.push(Op::DrawRectangle {
                                rectangle: Rect {
                                    x: Pt(x0 + col as f32 * module),
                                    y: Pt(y0 + size - (row as f32 + 1.0) * module),
                                    width: Pt(module),
                                    height: Pt(module),
                                    mode: Some(PaintMode::Fill),
                                    winding_order: None,
                                },
                            });
                        }
                    }
                }
            }
            c.down(13.0 * (lines.len().max(4) as f32 + 1.0));
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
}
