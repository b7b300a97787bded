//! The demo utility: a deterministic small town (by default 3,832 meters) with customers of
//! every kind, tariffs, contracts, users and twelve months of daily readings. Same options →
//! same rows, so tests and screenshots are repeatable.
//!
//! The seed writes master data of several crates' tables directly, in bulk (UNNEST/COPY): it is
//! demo data, created once in an empty database, not a business operation.

use crate::names::*;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use ewoda_collector::pipeline::rollup;
use ewoda_collector::store::{self, DailyRollup, NewReading, Source};
use ewoda_common::crypto::MasterKey;
use ewoda_common::ids::{Nip, Pesel};
use ewoda_common::rng::Rng;
use ewoda_common::time::{self, day_start, local};
use ewoda_sim::{Fault, FaultKind, Fleet, MeterKind};
use rust_decimal::Decimal;
use sqlx::PgPool;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub seed: u64,
    /// Number of meters (all kinds, bulk meters included).
    pub meters: usize,
    /// Months of daily reading history ending yesterday.
    pub months: u32,
    /// The last day with readings + 1 (the demo uses today).
    pub today: NaiveDate,
    /// Password of every demo login.
    pub password: String,
}

impl SeedOptions {
    pub fn demo(today: NaiveDate) -> Self {
        SeedOptions {
            seed: 2026,
            meters: 3_832,
            months: 12,
            today,
            password: DEMO_PASSWORD.to_string(),
        }
    }
}

pub const DEMO_PASSWORD: &str = "ewoda-demo";

/// The demo logins: (login, role, what they do).
pub const DEMO_LOGINS: &[(&str, &str, &str)] = &[
    ("admin", "admin", "administrator"),
    ("urzednik", "clerk", "billing clerk / urzędnik"),
    ("dyspozytor", "operator", "operator (alarms) / dyspozytor"),
    ("inkasent", "reader", "meter reader / inkasent"),
    ("klient", "customer", "customer (eBOK)"),
    ("klient2", "customer", "another customer (eBOK)"),
];

/// The demo logins as `ewoda demo` prints them: role, and each customer's number, e.g.
/// `klient (customer 4701)`.
pub async fn login_lines(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let mut lines = Vec::new();
    for (login, _, what) in DEMO_LOGINS {
        let number: Option<String> = sqlx::query_scalar(
            "select c.number from app_user u join customer c using (customer_id) where u.login = $1",
        )
        .bind(login)
        .fetch_optional(pool)
        .await?;
        lines.push(match number {
            Some(n) => format!("{:<24} {what}", format!("{login} (customer {n})")),
            None => format!("{login:<24} {what}"),
        });
    }
    Ok(lines)
}

/// Counts of what was created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub customers: usize,
    pub meters: usize,
    pub premises: usize,
    pub readings: u64,
    pub daily_rollups: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the database already holds a utility: the demo seed only fills an empty database")]
    NotEmpty,
    #[error("seed option {0}")]
    Options(&'static str),
    #[error("writing the demo data: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the simulated fleet: {0}")]
    Sim(String),
    #[error("hashing a demo password: {0}")]
    Password(String),
}

// ---- the generated model ----------------------------------------------------------------
//
// The town is the simulator's fleet (ewoda-sim): the same meters, ids and AES keys the live
// simulation transmits, so the demo's history and its live readings are one series. Around
// the fleet the seed adds what a utility's books hold: addresses, premises, customers,
// contracts, tariffs and users.

struct Address {
    street: String,
    building: String,
    flat: Option<String>,
    lat_micro: i64,
    lon_micro: i64,
}

struct Premises {
    address: usize,
    kind: &'static str,
    district: usize,
    persons: Option<i16>,
}

struct Customer {
    number: String,
    kind: &'static str,
    first_name: Option<String>,
    last_name: Option<String>,
    company_name: Option<String>,
    pesel: Option<String>,
    nip: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    einvoice: bool,
    activation_code: String,
}

/// One physical meter: a generation of a fleet position.
struct Meter {
    position: usize,
    serial: String,
    manufacturer: String,
    radio_id: String,
    version: i16,
    role: &'static str,
    district: usize,
    key: [u8; 16],
    register_digits: i16,
    premises: usize,
    /// Meter row (index) of the main meter a sub-meter hangs behind.
    parent: Option<usize>,
    installed_at: DateTime<Utc>,
    installed_read_ml: i64,
    removed: Option<(DateTime<Utc>, i64)>,
}

struct Contract {
    customer: usize,
    premises: usize,
    group: usize,
    sewage: bool,
    from: NaiveDate,
}

struct Town {
    fleet: Fleet,
    addresses: Vec<Address>,
    premises: Vec<Premises>,
    customers: Vec<Customer>,
    meters: Vec<Meter>,
    contracts: Vec<Contract>,
    /// Leaking positions and since when (for the open alarms).
    leaks: Vec<(usize, DateTime<Utc>)>,
    start: NaiveDate,
    days: usize,
}

const TARIFF_GROUPS: &[(&str, &str, &str)] = &[
    ("G1", "Gospodarstwa domowe", "household"),
    ("G2", "Odbiorcy przemysłowi i usługowi", "business"),
    ("G3", "Spółdzielnie i wspólnoty mieszkaniowe", "housing"),
    ("G4", "Jednostki gminne", "public"),
];

fn group_of(kind: &str) -> usize {
    TARIFF_GROUPS.iter().position(|g| g.2 == kind).unwrap_or(0)
}

/// Centres of the fleet's districts (micro-degrees), for map coordinates.
const DISTRICT_CENTRES: &[(i64, i64)] = &[
    (52_100_000, 20_800_000),
    (52_108_000, 20_812_000),
    (52_094_000, 20_787_000),
    (52_103_000, 20_792_000),
    (52_091_000, 20_815_000),
    (52_114_000, 20_796_000),
];

fn sim_error(e: ewoda_sim::SimError) -> SeedError {
    SeedError::Sim(e.to_string())
}

/// The demo's fleet and what was done to it.
pub struct DemoFleet {
    pub fleet: Fleet,
    /// The fleet's epoch: the first instant of the stored history.
    pub epoch: DateTime<Utc>,
    /// Every injected event (meter index, fault), to replay on another instance of the fleet.
    pub faults: Vec<(usize, Fault)>,
    /// Leaking meters and since when.
    pub leaks: Vec<(usize, DateTime<Utc>)>,
}

/// The demo's simulated fleet with the year's events injected: the seed writes its history,
/// and the live simulation of `ewoda demo` continues it. Returns the leaking meters too.
pub fn demo_fleet(opts: &SeedOptions) -> Result<DemoFleet, SeedError> {
    if opts.meters < 20 {
        return Err(SeedError::Options("meters must be at least 20"));
    }
    if !(1..=36).contains(&opts.months) {
        return Err(SeedError::Options("months must be 1..=36"));
    }
    let (start, days) = history(opts)?;
    let epoch = day_start(start);
    let end = day_start(opts.today);
    let mut fleet = Fleet::generate_at(opts.seed, opts.meters, epoch);
    // A year's events: about 1 % of the meters replaced, and at the end a few leaks and
    // low batteries for the operators' console.
    let mut rng = Rng::new(opts.seed ^ 0xFA_0175);
    let mut leaks = Vec::new();
    let mut faults = Vec::new();
    for i in 0..fleet.len() {
        let kind = fleet.meter(i).map_err(sim_error)?.kind();
        if matches!(kind, MeterKind::Bulk | MeterKind::Garden) {
            continue;
        }
        let roll = rng.below(1000);
        let fault = if roll < 10 && days > 60 {
            let at = epoch + Duration::days(rng.range(30, days as i64 - 30)) + Duration::hours(9);
            Fault::new(FaultKind::Replacement, at)
        } else if roll < 14 {
            let at = end - Duration::days(rng.range(2, 10)) + Duration::hours(rng.range(0, 23));
            leaks.push((i, at));
            Fault::new(
                FaultKind::Leak {
                    litres_per_hour: rng.range(5, 25),
                },
                at,
            )
        } else if roll < 17 {
            Fault::new(
                FaultKind::LowBattery,
                end - Duration::days(rng.range(5, 40)),
            )
        } else {
            continue;
        };
        fleet.inject(i, fault).map_err(sim_error)?;
        faults.push((i, fault));
    }
    // However small the town, the console has a leak to show.
    if leaks.is_empty() {
        if let Some(i) = (0..fleet.len()).find(|&i| fleet.meters()[i].kind() == MeterKind::House) {
            let at = end - Duration::days(3);
            fleet
                .inject(
                    i,
                    Fault::new(
                        FaultKind::Leak {
                            litres_per_hour: 12,
                        },
                        at,
                    ),
                )
                .map_err(sim_error)?;
            faults.push((
                i,
                Fault::new(
                    FaultKind::Leak {
                        litres_per_hour: 12,
                    },
                    at,
                ),
            ));
            leaks.push((i, at));
        }
    }

    Ok(DemoFleet {
        fleet,
        epoch,
        faults,
        leaks,
    })
}

/// First day of the history and its length in days.
fn history(opts: &SeedOptions) -> Result<(NaiveDate, usize), SeedError> {
    let start = opts
        .today
        .checked_sub_months(chrono::Months::new(opts.months))
        .ok_or(SeedError::Options("today is too early"))?;
    Ok((start, (opts.today - start).num_days() as usize))
}

fn build(opts: &SeedOptions) -> Result<Town, SeedError> {
    let DemoFleet { fleet, leaks, .. } = demo_fleet(opts)?;
    let (start, days) = history(opts)?;
    let epoch = day_start(start);
    let mut rng = Rng::new(opts.seed ^ 0x70_0E5);
    let mut t = Town {
        fleet,
        addresses: Vec::new(),
        premises: Vec::new(),
        customers: Vec::new(),
        meters: Vec::new(),
        contracts: Vec::new(),
        leaks,
        start,
        days,
    };
    let mut premises_of: Vec<usize> = vec![usize::MAX; t.fleet.len()];
    let mut meter_rows: Vec<Vec<usize>> = vec![Vec::new(); t.fleet.len()];
    let mut public_left = PUBLIC_BODIES.iter();
    // Main positions first so a garden sub-meter finds its main meter's premises.
    let mut order: Vec<usize> = (0..t.fleet.len()).collect();
    order.sort_by_key(|&i| t.fleet.meters()[i].kind() == MeterKind::Garden);
    for i in order {
        let m = t.fleet.meters()[i].clone();
        let (kind, district) = (m.kind(), m.district());
        let premises = if kind == MeterKind::Garden {
            let main = m.main_meter().unwrap_or(i);
            premises_of[main]
        } else {
            let (clat, clon) = DISTRICT_CENTRES[district % DISTRICT_CENTRES.len()];
            let h = m.house_number() as i64;
            t.addresses.push(Address {
                street: m.street().to_string(),
                building: m.house_number().to_string(),
                flat: m.flat().map(|f| f.to_string()),
                lat_micro: clat + (h % 17) * 90 - 700 + rng.range(-40, 40),
                lon_micro: clon + (h / 3) * 60 - 900 + rng.range(-40, 40),
            });
            let persons = match kind {
                MeterKind::House | MeterKind::Flat => Some(rng.range(1, 5) as i16),
                _ => None,
            };
            t.premises.push(Premises {
                address: t.addresses.len() - 1,
                kind: match kind {
                    MeterKind::House => "house",
                    MeterKind::Flat => "flat",
                    MeterKind::Business => "business",
                    _ => "public",
                },
                district,
                persons,
            });
            t.premises.len() - 1
        };
        premises_of[i] = premises;
        // The customer and the contract of the position.
        match kind {
            MeterKind::House | MeterKind::Flat => {
                let c = new_customer(&mut t, &mut rng, "household", None);
                let from = contract_from(&mut rng);
                t.contracts.push(Contract {
                    customer: c,
                    premises,
                    group: group_of("household"),
                    sewage: true,
                    from,
                });
            }
            MeterKind::Business => {
                let (kind, name) = match public_left.next().filter(|_| rng.chance(80)) {
                    Some(p) => ("public", format!("{p} w Przykładowie")),
                    None => {
                        let what = *rng.pick(BUSINESSES);
                        let (surname, _) = *rng.pick(LAST_NAMES);
                        ("business", format!("{what} „{surname}” sp.j."))
                    }
                };
                let c = new_customer(&mut t, &mut rng, kind, Some(name));
                let from = contract_from(&mut rng);
                t.contracts.push(Contract {
                    customer: c,
                    premises,
                    group: group_of(kind),
                    sewage: rng.chance(900),
                    from,
                });
            }
            MeterKind::Garden | MeterKind::Bulk => {}
        }
        // The physical meters of the position, one per generation.
        let gens = m.generations();
        for (g, gen) in gens.iter().enumerate() {
            let installed_at = if g == 0 {
                epoch - Duration::days(1)
            } else {
                epoch + Duration::hours(gen.from_hour)
            };
            let installed_read_ml = if g == 0 { m.initial_register().ml() } else { 0 };
            let removed = match gens.get(g + 1) {
                Some(next) => {
                    let at = epoch + Duration::hours(next.from_hour);
                    let read = t
                        .fleet
                        .register_at(i, at - Duration::seconds(1))
                        .map_err(sim_error)?;
                    Some((at, read.ml()))
                }
                None => None,
            };
            let parent = m.main_meter().and_then(|main| {
                meter_rows[main]
                    .iter()
                    .copied()
                    .find(|&r| t.meters[r].removed.is_none())
            });
            t.meters.push(Meter {
                position: i,
                serial: gen.serial.clone(),
                manufacturer: gen.address.manufacturer.to_string(),
                radio_id: gen.address.id.as_str().to_string(),
                version: i16::from(gen.address.version),
                role: match kind {
                    MeterKind::Garden => "sub",
                    MeterKind::Bulk => "bulk",
                    _ => "main",
                },
                district,
                key: gen.key,
                register_digits: i16::from(m.register_digits()),
                premises,
                parent: if kind == MeterKind::Garden {
                    parent
                } else {
                    None
                },
                installed_at,
                installed_read_ml,
                removed,
            });
            meter_rows[i].push(t.meters.len() - 1);
        }
    }
    Ok(t)
}

fn new_customer(t: &mut Town, rng: &mut Rng, kind: &'static str, name: Option<String>) -> usize {
    let number = (4701 + t.customers.len()).to_string();
    let mut code = String::new();
    for _ in 0..8 {
        code.push(*rng.pick(&[
            'A', 'C', 'D', 'E', 'F', 'H', 'K', 'L', 'M', 'N', 'P', 'R', 'T', 'W', 'X', '3', '4',
            '7', '9',
        ]));
    }
    let mut c = Customer {
        number,
        kind,
        first_name: None,
        last_name: None,
        company_name: None,
        pesel: None,
        nip: None,
        email: None,
        phone: None,
        einvoice: rng.chance(350),
        activation_code: code,
    };
    if kind == "household" {
        let female = rng.chance(500);
        let first = if female {
            *rng.pick(FIRST_NAMES_F)
        } else {
            *rng.pick(FIRST_NAMES_M)
        };
        let (m, f) = *rng.pick(LAST_NAMES);
        let last = if female { f } else { m };
        let birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()
            + Duration::days(rng.range(0, 64 * 365));
        // The PESEL's 10th digit is even for women, odd for men.
        let sex_digit = 2 * rng.below(5) + u64::from(!female);
        let serial = (rng.below(1000) * 10 + sex_digit) as u16;
        c.pesel = Some(Pesel::generate(birth, serial).as_str().to_string());
        if rng.chance(700) {
            c.email = Some(format!(
                "{}.{}{}@example.pl",
                ascii(first),
                ascii(last),
                t.customers.len()
            ));
        }
        c.first_name = Some(first.to_string());
        c.last_name = Some(last.to_string());
    } else {
        c.company_name = name;
        c.nip = Some(loop {
            let first9 = format!("{}{:08}", 1 + rng.below(9), rng.below(100_000_000));
            if let Some(n) = Nip::complete(&first9) {
                break n.as_str().to_string();
            }
        });
        c.email = Some(format!("biuro{}@example.pl", t.customers.len()));
    }
    if rng.chance(600) {
        c.phone = Some(format!("+48 {}", 500_000_000 + rng.below(300_000_000)));
    }
    t.customers.push(c);
    t.customers.len() - 1
}

fn contract_from(rng: &mut Rng) -> NaiveDate {
    NaiveDate::from_ymd_opt(2005, 1, 1).unwrap_or_default() + Duration::days(rng.range(0, 18 * 365))
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' | 'Ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' | 'Ś' => 's',
            'ź' | 'ż' | 'Ż' | 'Ź' => 'z',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

// ---- writing ----------------------------------------------------------------------------

/// Fills an empty database with the demo utility.
pub async fn seed(
    pool: &PgPool,
    master_key: &MasterKey,
    opts: &SeedOptions,
) -> Result<SeedSummary, SeedError> {
    let exists: bool = sqlx::query_scalar("select exists (select 1 from utility)")
        .fetch_one(pool)
        .await?;
    if exists {
        return Err(SeedError::NotEmpty);
    }
    let town = build(opts)?;
    // One transaction: an interrupted seed leaves nothing behind.
    let mut tx = pool.begin().await?;
    write_master_data(&mut tx, &town, master_key, opts).await?;
    let first = local(town.start, 0, 0);
    store::ensure_partitions(
        &mut tx,
        first - Duration::days(31),
        local(opts.today, 0, 0) + Duration::days(190),
    )
    .await?;
    // Physical meters (rows) of each fleet position, in installation order.
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); town.fleet.len()];
    for (row, m) in town.meters.iter().enumerate() {
        rows_of[m.position].push(row);
    }
    let mut readings = 0u64;
    let mut daily_rollups = 0u64;
    let mut batch = Vec::with_capacity(200 * town.days);
    let mut daily = Vec::with_capacity(200 * town.days);
    // The last register of each physical meter, for its next day's consumption.
    let mut last_of: Vec<Option<i64>> = vec![None; town.meters.len()];
    let mut minute_rng = Rng::new(opts.seed ^ 0xAB_CDEF);
    for (position, rows) in rows_of.iter().enumerate() {
        // Each meter sends its daily reading at its own minute before midnight; registers
        // count whole litres.
        let minute = minute_rng.below(50) as u32 + 5;
        for d in 0..town.days {
            let at = local(town.start + Duration::days(d as i64), 23, minute);
            let Some(&row) = rows
                .iter()
                .rev()
                .find(|&&r| town.meters[r].installed_at <= at)
            else {
                continue;
            };
            let register = town
                .fleet
                .register_at(position, at)
                .map_err(sim_error)?
                .ml();
            let volume_ml = register - register % 1000;
            batch.push(NewReading {
                meter_id: row as i64 + 1,
                read_at: at,
                volume_ml,
                source: Source::Seed,
                quality: 1,
            });
            // One reading a day: the day's rollup follows from it and the day before, by the
            // collector's own rule (a meter's first day counts nothing).
            let start = last_of[row].unwrap_or(volume_ml);
            let wrap = rollup::wrap_ml(town.meters[row].register_digits).unwrap_or(i64::MAX);
            daily.push(DailyRollup {
                meter_id: row as i64 + 1,
                day: time::local_day(at),
                first_read_at: at,
                last_read_at: at,
                first_volume_ml: volume_ml,
                last_volume_ml: volume_ml,
                consumption_ml: rollup::consumption(start, volume_ml, wrap),
                reading_count: 1,
                quality: 1,
                last_source: Source::Seed,
                last_quality: 1,
            });
            last_of[row] = Some(volume_ml);
        }
        if batch.len() >= 150 * town.days || position + 1 == rows_of.len() {
            readings += store::copy_readings(&mut tx, &batch).await?;
            daily_rollups += store::copy_daily(&mut tx, &daily).await?;
            batch.clear();
            daily.clear();
        }
    }
    write_alarms(&mut tx, &town).await?;
    tx.commit().await?;
    Ok(SeedSummary {
        customers: town.customers.len(),
        meters: town.meters.len(),
        premises: town.premises.len(),
        readings,
        daily_rollups,
    })
}

async fn write_master_data(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    t: &Town,
    master_key: &MasterKey,
    opts: &SeedOptions,
) -> Result<(), SeedError> {
    let utility_nip = Nip::complete("771100223")
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    let utility_id: i64 = sqlx::query_scalar(
        "insert into utility (name, short_name, nip, regon, street, postcode, city, bank_name,
             settlement_number, account_prefix, collection_iban, email, phone)
         values ('Zakład Wodociągów i Kanalizacji w Przykładowie Sp. z o.o.', 'ZWiK Przykładowo', $1,
             '012345678', 'ul. Rynek 1', '00-001', 'Przykładowo', 'Santander Bank Polska S.A.',
             '10901014', '1234', 'PL61109010140000071219812874', 'bok@zwik.przykladowo.example', '+48 22 100 20 30')
         returning utility_id",
    )
    .bind(utility_nip)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "insert into org_unit (utility_id, code, name) select $3, c, n from unnest($1::text[], $2::text[]) as x(c, n)",
    )
    .bind(vec!["BOK", "SIEC", "ODCZYTY", "KSIEG"])
    .bind(vec!["Biuro Obsługi Klienta", "Dział Sieci Wodociągowej", "Zespół Odczytów", "Księgowość"])
    .bind(utility_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "insert into district (district_id, code, name) overriding system value
         select row_number() over (), c, n from unnest($1::text[], $2::text[]) as x(c, n)",
    )
    .bind(
        (1..=t.fleet.districts().len())
            .map(|i| format!("D{i}"))
            .collect::<Vec<_>>(),
    )
    .bind(
        t.fleet
            .districts()
            .iter()
            .map(|d| d.name.clone())
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;

    // Addresses and premises.
    let micro = |v: i64| Decimal::new(v, 6);
    sqlx::query(
        "insert into address (address_id, street, building, flat, postcode, city, commune, lat, lon)
         overriding system value
         select row_number() over (), s, b, f, '00-001', 'Przykładowo', 'Przykładowo', la, lo
         from unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[]) as x(s, b, f, la, lo)",
    )
    .bind(t.addresses.iter().map(|a| a.street.clone()).collect::<Vec<_>>())
    .bind(t.addresses.iter().map(|a| a.building.clone()).collect::<Vec<_>>())
    .bind(t.addresses.iter().map(|a| a.flat.clone()).collect::<Vec<_>>())
    .bind(t.addresses.iter().map(|a| micro(a.lat_micro)).collect::<Vec<_>>())
    .bind(t.addresses.iter().map(|a| micro(a.lon_micro)).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "insert into premises (premises_id, address_id, kind, district_id, org_unit_id, persons)
         overriding system value
         select row_number() over (), a, k, d, (select org_unit_id from org_unit where code = 'ODCZYTY'), p
         from unnest($1::bigint[], $2::text[], $3::bigint[], $4::smallint[]) as x(a, k, d, p)",
    )
    .bind(t.premises.iter().map(|p| p.address as i64 + 1).collect::<Vec<_>>())
    .bind(t.premises.iter().map(|p| p.kind).collect::<Vec<_>>())
    .bind(t.premises.iter().map(|p| p.district as i64 + 1).collect::<Vec<_>>())
    .bind(t.premises.iter().map(|p| p.persons).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;

    // Meters (keys sealed under the master key for their meter; the nonce is the meter's
    // index, unique here).
    let sealed: Vec<Vec<u8>> = t
        .meters
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            nonce[8..].copy_from_slice(b"seed");
            let label = ewoda_common::crypto::meter_key_label(&m.manufacturer, &m.radio_id);
            master_key.seal_for(&label, &m.key, nonce)
        })
        .collect();
    sqlx::query(
        "insert into meter (meter_id, serial, manufacturer, model, radio_id, radio_version,
             radio_device_type, aes_key_enc, register_digits, resolution_ml, role, district_id, status,
             verified_until)
         overriding system value
         select row_number() over (), s, m, mo, ri, v, 7, k, rd, 1000, r, d, st, $11
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::bytea[],
                     $7::smallint[], $8::text[], $9::bigint[], $10::text[]) as x(s, m, mo, ri, v, k, rd, r, d, st)",
    )
    .bind(t.meters.iter().map(|m| m.serial.clone()).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.manufacturer.clone()).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| model_name(&m.manufacturer)).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.radio_id.clone()).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.version).collect::<Vec<_>>())
    .bind(sealed)
    .bind(t.meters.iter().map(|m| m.register_digits).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.role).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.district as i64 + 1).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| if m.removed.is_some() { "removed" } else { "active" }).collect::<Vec<_>>())
    .bind(NaiveDate::from_ymd_opt(opts.today.year() + 3, 12, 31))
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "update district d set inlet_meter_id = m.meter_id from meter m
         where m.role = 'bulk' and m.status = 'active' and m.district_id = d.district_id",
    )
    .execute(&mut **tx)
    .await?;

    // Installation history: the first meter of a position hangs since before the history,
    // a replacement from its day; a replaced meter is removed with its final register.
    sqlx::query(
        "insert into meter_installation (meter_id, premises_id, role, parent_meter_id, installed_at,
             installed_read_ml, removed_at, removed_read_ml)
         select row_number() over (), p, r, pm, ia, ir, ra, rr
         from unnest($1::bigint[], $2::text[], $3::bigint[], $4::timestamptz[], $5::bigint[],
                     $6::timestamptz[], $7::bigint[]) as x(p, r, pm, ia, ir, ra, rr)",
    )
    .bind(t.meters.iter().map(|m| m.premises as i64 + 1).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.role).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.parent.map(|p| p as i64 + 1)).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.installed_at).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.installed_read_ml).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.removed.map(|r| r.0)).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.removed.map(|r| r.1)).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;

    // Customers, contracts.
    sqlx::query(
        "insert into customer (customer_id, number, kind, first_name, last_name, company_name, pesel,
             nip, email, phone, einvoice, activation_code)
         overriding system value
         select row_number() over (), n, k, f, l, c, p, ni, e, ph, ei, ac
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::bool[], $11::text[])
              as x(n, k, f, l, c, p, ni, e, ph, ei, ac)",
    )
    .bind(t.customers.iter().map(|c| c.number.clone()).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.kind).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.first_name.clone()).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.last_name.clone()).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.company_name.clone()).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.pesel.clone()).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.nip.clone()).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.email.clone()).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.phone.clone()).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.einvoice).collect::<Vec<_>>())
    .bind(t.customers.iter().map(|c| c.activation_code.clone()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;

    sqlx::query(
        "insert into tariff_group (tariff_group_id, code, name, customer_kind) overriding system value
         select row_number() over (), c, n, k from unnest($1::text[], $2::text[], $3::text[]) as x(c, n, k)",
    )
    .bind(TARIFF_GROUPS.iter().map(|g| g.0).collect::<Vec<_>>())
    .bind(TARIFF_GROUPS.iter().map(|g| g.1).collect::<Vec<_>>())
    .bind(TARIFF_GROUPS.iter().map(|g| g.2).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    // Two tariff versions a year apart (the yearly tariff approved by Wody Polskie).
    let change =
        NaiveDate::from_ymd_opt(opts.today.year() - i32::from(opts.today.month() < 6), 6, 1)
            .expect("1 June exists");
    for g in 0..TARIFF_GROUPS.len() as i64 {
        for (from, to, water, sewage, fee_w, fee_s) in [
            (
                change - chrono::Months::new(12),
                Some(change - Duration::days(1)),
                "6.95",
                "12.35",
                "7.89",
                "1.45",
            ),
            (change, None, "7.21", "12.80", "8.10", "1.52"),
        ] {
            let business = g == 1;
            let id: i64 = sqlx::query_scalar(
                "insert into tariff_version (tariff_group_id, valid_from, valid_to, water_m3, sewage_m3,
                     vat_percent, einvoice_discount, norm_m3_per_person_month)
                 values ($1, $2, $3, $4::numeric * $5, $6::numeric * $5, 8, 0.50, 3.0)
                 returning tariff_version_id",
            )
            .bind(g + 1)
            .bind(from)
            .bind(to)
            .bind(water)
            .bind(if business { Decimal::new(110, 2) } else { Decimal::ONE })
            .bind(sewage)
            .fetch_one(&mut **tx)
            .await?;
            sqlx::query(
                "insert into tariff_fee (tariff_version_id, name, amount, per)
                 values ($1, 'abonament wodny', $2::numeric, 'month'), ($1, 'abonament kanalizacyjny', $3::numeric, 'month')",
            )
            .bind(id)
            .bind(fee_w)
            .bind(fee_s)
            .execute(&mut **tx)
            .await?;
        }
    }
    sqlx::query(
        "insert into contract (number, customer_id, premises_id, tariff_group_id, sewage, billing_months, valid_from)
         select 'UM/' || extract(year from f) || '/' || lpad(i::text, 5, '0'), c, p, g, s, case when g = 1 then 2 else 1 end, f
         from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bool[], $5::date[]) with ordinality as x(c, p, g, s, f, i)",
    )
    .bind(t.contracts.iter().map(|c| c.customer as i64 + 1).collect::<Vec<_>>())
    .bind(t.contracts.iter().map(|c| c.premises as i64 + 1).collect::<Vec<_>>())
    .bind(t.contracts.iter().map(|c| c.group as i64 + 1).collect::<Vec<_>>())
    .bind(t.contracts.iter().map(|c| c.sewage).collect::<Vec<_>>())
    .bind(t.contracts.iter().map(|c| c.from).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;

    // Demo users; the eBOK logins belong to the first households, one each.
    let mut households = demo_households(t).into_iter();
    let mut rng = Rng::new(opts.seed ^ 0x05E5);
    for (login, role, _) in DEMO_LOGINS {
        let hash = hash_password(&opts.password, &mut rng)?;
        let customer = if *role == "customer" {
            Some(
                households
                    .next()
                    .ok_or(SeedError::Options("too few households for the demo logins"))?
                    as i64
                    + 1,
            )
        } else {
            None
        };
        let user_id: i64 = sqlx::query_scalar(
            "insert into app_user (login, email, display_name, password_hash, customer_id, org_unit_id, email_confirmed_at)
             values ($1, $1 || '@zwik.przykladowo.example', $2, $3, $4, case when $4 is null then (select org_unit_id from org_unit where code = 'BOK') end, now())
             returning user_id",
        )
        .bind(login)
        .bind(match *role {
            "customer" => customer
                .map(|c| customer_name(&t.customers[c as usize - 1]))
                .unwrap_or_default(),
            _ => login.to_string(),
        })
        .bind(hash)
        .bind(customer)
        .fetch_one(&mut **tx)
        .await?;
        sqlx::query("insert into user_role (user_id, role) values ($1, $2)")
            .bind(user_id)
            .bind(role)
            .execute(&mut **tx)
            .await?;
    }
    // Identity counters continue after the explicit ids.
    for (table, column) in [
        ("district", "district_id"),
        ("address", "address_id"),
        ("premises", "premises_id"),
        ("meter", "meter_id"),
        ("customer", "customer_id"),
        ("tariff_group", "tariff_group_id"),
    ] {
        sqlx::query(&format!(
            "select setval(pg_get_serial_sequence('{table}', '{column}'), (select max({column}) from {table}))"
        ))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Customers (indexes) of the demo's eBOK logins: the first households with a main meter.
fn demo_households(t: &Town) -> Vec<usize> {
    let logins = DEMO_LOGINS.iter().filter(|l| l.1 == "customer").count();
    t.customers
        .iter()
        .enumerate()
        .filter(|(i, c)| c.kind == "household" && main_meter_of(t, *i).is_some())
        .map(|(i, _)| i)
        .take(logins)
        .collect()
}

/// The current main meter (row) on a premises the customer has a contract for.
fn main_meter_of(t: &Town, customer: usize) -> Option<usize> {
    t.contracts
        .iter()
        .filter(|c| c.customer == customer)
        .find_map(|c| {
            t.meters
                .iter()
                .position(|m| m.premises == c.premises && m.role == "main" && m.removed.is_none())
        })
}

fn customer_name(c: &Customer) -> String {
    match (&c.first_name, &c.last_name, &c.company_name) {
        (Some(f), Some(l), _) => format!("{f} {l}"),
        (_, _, Some(n)) => n.clone(),
        _ => c.number.clone(),
    }
}

fn hash_password(password: &str, rng: &mut Rng) -> Result<String, SeedError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| SeedError::Password(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SeedError::Password(e.to_string()))
}

/// Open alarms for the meters that leak at the end of the history (no zero-flow hour).
async fn write_alarms(conn: &mut sqlx::PgConnection, t: &Town) -> Result<(), sqlx::Error> {
    let current = |position: usize| {
        t.meters
            .iter()
            .position(|m| m.position == position && m.removed.is_none())
            .map(|row| row as i64 + 1)
    };
    let (meters, since): (Vec<i64>, Vec<DateTime<Utc>>) = t
        .leaks
        .iter()
        .filter_map(|&(p, at)| Some((current(p)?, at + Duration::hours(24))))
        .unzip();
    sqlx::query(
        "insert into alarm (meter_id, kind, severity, source, opened_at, last_seen_at, occurrences, details)
         select m, 'suspected_leak', 'warning', 'rule', s, greatest(s, $3), 1, jsonb_build_object('rule', 'no zero-flow hour in 24 h')
         from unnest($1::bigint[], $2::timestamptz[]) as x(m, s)",
    )
    .bind(meters)
    .bind(since)
    .bind(local(t.start + Duration::days(t.days as i64 - 1), 23, 59))
    .execute(&mut *conn)
    .await?;
    // Each demo customer has an open alarm to see in eBOK (unless a leak already gave one).
    let demo_meters: Vec<i64> = demo_households(t)
        .into_iter()
        .filter_map(|c| main_meter_of(t, c))
        .map(|row| row as i64 + 1)
        .collect();
    sqlx::query(
        "insert into alarm (meter_id, kind, severity, source, opened_at, last_seen_at, occurrences, details)
         select m, 'battery_low', 'info', 'meter', $2, $2, 1, jsonb_build_object('demo', true)
         from unnest($1::bigint[]) as x(m)
         where not exists (select 1 from alarm a where a.meter_id = m and a.state = 'open')",
    )
    .bind(demo_meters)
    .bind(local(t.start + Duration::days(t.days as i64 - 2), 8, 15))
    .execute(conn)
    .await?;
    Ok(())
}

/// Catalogue name of a meter model by manufacturer code.
fn model_name(manufacturer: &str) -> &'static str {
    MANUFACTURERS
        .iter()
        .find(|(code, _, _)| *code == manufacturer)
        .map(|(_, model, _)| *model)
        .unwrap_or("wodomierz radiowy")
}
