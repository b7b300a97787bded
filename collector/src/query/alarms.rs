//! Alarms of the customer's meters with a stable kind code the UI maps to a plain-language
//! explanation and advice; the PL and EN texts are data here ([`EXPLANATIONS`]), keyed by code.

use super::ViewError;
use crate::alarms::AlarmKind;
use chrono::{DateTime, Utc};
use ewoda_common::scope::CustomerId;
use serde::Serialize;
use sqlx::{PgConnection, Row};

/// What the customer is told an alarm means: one code per explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerAlarmKind {
    /// Continuous flow reported by the meter.
    Leak,
    /// No hour without flow for a day (found on the series).
    SuspectedLeak,
    /// Very high flow: a burst pipe.
    Burst,
    /// Water flowing back (also a register that went down).
    Backflow,
    /// Magnetic or mechanical interference.
    Tamper,
    /// No readings for days.
    NoData,
    /// The meter ran dry (no water in the pipe).
    Dry,
    /// The meter's battery is low.
    Battery,
    /// The meter reports implausible, stuck or mistimed values.
    MeterFault,
}

impl CustomerAlarmKind {
    /// The customer-facing kind of a stored alarm kind; None for district alarms.
    pub fn of(kind: AlarmKind) -> Option<Self> {
        Some(match kind {
            AlarmKind::Leak => CustomerAlarmKind::Leak,
            AlarmKind::SuspectedLeak => CustomerAlarmKind::SuspectedLeak,
            AlarmKind::Burst => CustomerAlarmKind::Burst,
            AlarmKind::Backflow | AlarmKind::ReverseFlow => CustomerAlarmKind::Backflow,
            AlarmKind::Tamper => CustomerAlarmKind::Tamper,
            AlarmKind::NoData => CustomerAlarmKind::NoData,
            AlarmKind::Dry => CustomerAlarmKind::Dry,
            AlarmKind::BatteryLow => CustomerAlarmKind::Battery,
            AlarmKind::Implausible | AlarmKind::Stuck | AlarmKind::Clock => {
                CustomerAlarmKind::MeterFault
            }
            AlarmKind::NightFlow => return None,
        })
    }

    /// The explanation in `lang` (`pl`, otherwise English).
    pub fn explanation(self, lang: &str) -> &'static Explanation {
        let e = EXPLANATIONS.iter().find(|e| e.kind == self).map(|e| {
            if lang == "pl" {
                &e.pl
            } else {
                &e.en
            }
        });
        // Every kind has a row (a unit test checks), so the fallback is never reached.
        e.unwrap_or(&EXPLANATIONS[0].en)
    }
}

/// An explanation in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Short title.
    pub title: &'static str,
    /// What happened, plainly.
    pub what: &'static str,
    /// What to do.
    pub advice: &'static str,
}

/// A kind's explanation in Polish and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindTexts {
    /// The kind.
    pub kind: CustomerAlarmKind,
    /// Polish.
    pub pl: Explanation,
    /// English.
    pub en: Explanation,
}

macro_rules! texts {
    ($kind:ident, [$pt:expr, $pw:expr, $pa:expr], [$et:expr, $ew:expr, $ea:expr]) => {
        KindTexts {
            kind: CustomerAlarmKind::$kind,
            pl: Explanation {
                title: $pt,
                what: $pw,
                advice: $pa,
            },
            en: Explanation {
                title: $et,
                what: $ew,
                advice: $ea,
            },
        }
    };
}

/// The explanation table, one row per [`CustomerAlarmKind`].
pub static EXPLANATIONS: [KindTexts; 9] = [
    texts!(Leak,
        ["Możliwy wyciek", "Wodomierz rejestruje ciągły przepływ wody, także wtedy, gdy nikt jej nie używa.",
         "Zakręć wszystkie krany i sprawdź, czy tarcza wodomierza się obraca. Sprawdź spłuczkę, krany ogrodowe i instalację. Jeśli przepływ nie ustaje, wezwij hydraulika lub zadzwoń do nas."],
        ["Possible leak", "The meter records water flowing all the time, even when nobody uses any.",
         "Close all taps and check whether the meter still turns. Check the toilet cistern, garden taps and pipes. If the flow goes on, call a plumber or call us."]),
    texts!(SuspectedLeak,
        ["Podejrzenie wycieku", "Przez całą dobę nie było ani jednej godziny bez zużycia wody.",
         "Sprawdź w nocy, czy wodomierz stoi, gdy nikt nie używa wody. Cieknąca spłuczka lub kran to częsta przyczyna."],
        ["Suspected leak", "For a whole day there was not a single hour without water use.",
         "Check at night whether the meter stands still when nobody uses water. A running cistern or dripping tap is a common cause."]),
    texts!(Burst,
        ["Bardzo duży przepływ — możliwa awaria", "Wodomierz zarejestrował nagły, bardzo duży przepływ, jak przy pęknięciu rury.",
         "Natychmiast zamknij główny zawór za wodomierzem i zadzwoń na nasz numer alarmowy."],
        ["Very high flow — possible burst", "The meter recorded a sudden, very high flow, as when a pipe bursts.",
         "Close the main valve after the meter at once and call our emergency number."]),
    texts!(Backflow,
        ["Przepływ wsteczny", "Woda popłynęła przez wodomierz w przeciwnym kierunku.",
         "Sprawdź zawór zwrotny za wodomierzem. Przepływ wsteczny może zanieczyścić sieć — zgłoś go nam."],
        ["Backflow", "Water flowed through the meter the wrong way.",
         "Check the non-return valve after the meter. Backflow can contaminate the network — report it to us."]),
    texts!(Tamper,
        ["Ingerencja w wodomierz", "Wodomierz wykrył pole magnetyczne lub próbę ingerencji.",
         "Usuń magnesy i metalowe przedmioty z okolicy wodomierza. Jeśli nikt nie ingerował, zgłoś to nam — sprawdzimy wodomierz."],
        ["Meter tampering", "The meter detected a magnetic field or an attempt to interfere with it.",
         "Remove magnets and metal objects near the meter. If nobody interfered, tell us and we will check it."]),
    texts!(NoData,
        ["Brak odczytów", "Od kilku dni nie otrzymujemy odczytów z tego wodomierza.",
         "Nic nie musisz robić — sprawdzimy nadajnik. Możesz podać odczyt samodzielnie w eBOK."],
        ["No readings", "We have not received readings from this meter for several days.",
         "Nothing to do — we will check the transmitter. You can submit a reading yourself in eBOK."]),
    texts!(Dry,
        ["Brak wody w rurze", "Wodomierz pracuje bez wody (sucha rura).",
         "Sprawdź, czy zawory są otwarte. Jeśli nie masz wody, sprawdź komunikaty o awariach lub zadzwoń do nas."],
        ["No water in the pipe", "The meter runs without water (dry pipe).",
         "Check that the valves are open. If you have no water, check our outage notices or call us."]),
    texts!(Battery,
        ["Słaba bateria nadajnika", "Bateria nadajnika radiowego wodomierza jest na wyczerpaniu.",
         "Nic nie musisz robić — wymienimy nadajnik lub wodomierz i uzgodnimy termin."],
        ["Low transmitter battery", "The battery of the meter's radio transmitter is running out.",
         "Nothing to do — we will replace the transmitter or meter and agree a date with you."]),
    texts!(MeterFault,
        ["Nietypowe wskazania wodomierza", "Wskazania wodomierza są nieprawdopodobne, stoją w miejscu lub mają złą datę.",
         "Porównaj stan na tarczy z ostatnim odczytem w eBOK i podaj odczyt. Jeśli się różnią, złóż wniosek o sprawdzenie wodomierza."],
        ["Unusual meter values", "The meter's values are implausible, do not move or carry a wrong date.",
         "Compare the dial with the last reading in eBOK and submit a reading. If they differ, apply for a meter check."]),
];

/// An alarm of one of the customer's meters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmView {
    /// The alarm.
    pub alarm_id: i64,
    /// The meter.
    pub meter_id: i64,
    /// Its number.
    pub serial: String,
    /// The code the UI explains.
    pub kind: CustomerAlarmKind,
    /// `open`, `acknowledged`, `assigned`, `resolved` or `cleared`.
    pub state: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// True while open, acknowledged or assigned.
    pub active: bool,
    /// First seen.
    pub opened_at: DateTime<Utc>,
    /// Last seen.
    pub last_seen_at: DateTime<Utc>,
    /// Cleared at.
    pub cleared_at: Option<DateTime<Utc>>,
    /// How often it was reported.
    pub occurrences: i32,
}

/// Alarms of the customer's meters raised while installed on their premises, newest first;
/// only active ones unless `include_closed`.
pub async fn of_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    include_closed: bool,
) -> Result<Vec<AlarmView>, ViewError> {
    let rows = sqlx::query(
        "select a.alarm_id, a.meter_id, m.serial, a.kind, a.state, a.severity, a.opened_at,
                a.last_seen_at, a.cleared_at, a.occurrences,
                a.state in ('open', 'acknowledged', 'assigned') as active
         from alarm a join meter m on m.meter_id = a.meter_id
         where exists (select 1 from meter_installation i join contract k on k.premises_id = i.premises_id
                       where i.meter_id = a.meter_id and k.customer_id = $1
                         and a.last_seen_at >= i.installed_at
                         and (i.removed_at is null or a.opened_at <= i.removed_at))
           and ($2 or a.state in ('open', 'acknowledged', 'assigned'))
         order by a.opened_at desc, a.alarm_id desc",
    )
    .bind(customer.get())
    .bind(include_closed)
    .fetch_all(conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let stored: String = r.try_get("kind")?;
        let Some(kind) = AlarmKind::parse(&stored).and_then(CustomerAlarmKind::of) else {
            continue;
        };
        out.push(AlarmView {
            alarm_id: r.try_get("alarm_id")?,
            meter_id: r.try_get("meter_id")?,
            serial: r.try_get("serial")?,
            kind,
            state: r.try_get("state")?,
            severity: r.try_get("severity")?,
            active: r.try_get("active")?,
            opened_at: r.try_get("opened_at")?,
            last_seen_at: r.try_get("last_seen_at")?,
            cleared_at: r.try_get("cleared_at")?,
            occurrences: r.try_get("occurrences")?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_meter_kind_has_texts_in_both_languages() {
        for k in AlarmKind::ALL {
            let Some(c) = CustomerAlarmKind::of(k) else {
                assert_eq!(k, AlarmKind::NightFlow);
                continue;
            };
            let row = EXPLANATIONS.iter().find(|e| e.kind == c);
            assert!(row.is_some(), "{c:?} has no texts");
            for e in [c.explanation("pl"), c.explanation("en")] {
                assert!(!e.title.is_empty() && !e.what.is_empty() && !e.advice.is_empty());
            }
            assert_ne!(c.explanation("pl").title, c.explanation("en").title);
        }
        assert_eq!(
            CustomerAlarmKind::Leak.explanation("pl").title,
            "Możliwy wyciek"
        );
        assert_eq!(
            serde_json::to_value(CustomerAlarmKind::SuspectedLeak).unwrap(),
            "suspected_leak"
        );
    }
}
