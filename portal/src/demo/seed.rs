//! The demo utility: a deterministic small town (by default 3,832 meters) with customers of
//! every kind, tariffs, contracts, users and twelve months of daily readings. Same options →
//! same rows, so tests and screenshots are repeatable.
//!
//! The seed writes master data of several crates' tables directly, in bulk (UNNEST/COPY): it is
//! demo data, created once in an empty database, not a business operation.

use super::names::*;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use ewoda_collector::store::{self, NewReading, Source};
use ewoda_common::crypto::MasterKey;
use ewoda_common::ids::{Nip, Pesel};
use ewoda_common::rng::Rng;
use ewoda_common::time::local;
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
    (
        "klient",
        "customer",
        "customer (eBOK), customer number 4701",
    ),
];

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
    #[error("hashing a demo password: {0}")]
    Password(String),
}

// ---- the generated model ----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// People in a house or flat.
    Household(u8),
    /// Litres per working day.
    Business(i64),
    Public(i64),
    Garden,
    /// Sum of the flats' meters of a block (by index) plus common use.
    BlockMain(usize),
    /// Sum of a district's customer meters plus leakage.
    Bulk(usize),
}

struct Address {
    street: &'static str,
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

struct Meter {
    serial: String,
    manufacturer: &'static str,
    model: &'static str,
    version: i16,
    role: &'static str,
    district: usize,
    key: [u8; 16],
    initial_ml: i64,
    use_kind: Use,
    /// Day range (index into the history) in which the meter hangs.
    first_day: usize,
    last_day: usize,
    leak_from_day: Option<usize>,
    premises: usize,
    parent: Option<usize>,
    status: &'static str,
}

struct Contract {
    customer: usize,
    premises: usize,
    group: usize,
    sewage: bool,
    from: NaiveDate,
}

struct Town {
    addresses: Vec<Address>,
    premises: Vec<Premises>,
    customers: Vec<Customer>,
    meters: Vec<Meter>,
    contracts: Vec<Contract>,
    blocks: Vec<Vec<usize>>,
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

fn build(opts: &SeedOptions) -> Result<Town, SeedError> {
    if opts.meters < 20 {
        return Err(SeedError::Options("meters must be at least 20"));
    }
    if !(1..=36).contains(&opts.months) {
        return Err(SeedError::Options("months must be 1..=36"));
    }
    let start = opts
        .today
        .checked_sub_months(chrono::Months::new(opts.months))
        .ok_or(SeedError::Options("today is too early"))?;
    let days = (opts.today - start).num_days() as usize;
    let mut rng = Rng::new(opts.seed);
    let mut t = Town {
        addresses: Vec::new(),
        premises: Vec::new(),
        customers: Vec::new(),
        meters: Vec::new(),
        contracts: Vec::new(),
        blocks: Vec::new(),
        start,
        days,
    };
    let mut building_no = vec![1u32; STREETS.len()];
    let mut next_id: u64 = 26_010_000;

    let mut new_address = |t: &mut Town, rng: &mut Rng, street: usize, flat: Option<u32>| {
        let (name, _, lat, lon) = STREETS[street];
        let b = if flat.is_some() {
            building_no[street]
        } else {
            let b = building_no[street];
            building_no[street] += 1 + rng.below(2) as u32;
            b
        };
        t.addresses.push(Address {
            street: name,
            building: b.to_string(),
            flat: flat.map(|f| f.to_string()),
            lat_micro: 52_100_000 + lat + rng.range(-400, 400),
            lon_micro: 20_800_000 + lon + rng.range(-600, 600),
        });
        t.addresses.len() - 1
    };
    let mut new_meter = |t: &mut Town,
                         rng: &mut Rng,
                         role: &'static str,
                         premises: usize,
                         use_kind: Use,
                         parent: Option<usize>| {
        next_id += 1 + rng.below(40);
        let roll = rng.below(1000);
        let mut acc = 0;
        let (manufacturer, model) = MANUFACTURERS
            .iter()
            .find(|(_, _, share)| {
                acc += share;
                roll < acc
            })
            .map(|(m, model, _)| (*m, *model))
            .unwrap_or(("APA", "Apator AT-WMBUS-16"));
        let mut key = [0u8; 16];
        rng.fill(&mut key);
        let district = t.premises[premises].district;
        t.meters.push(Meter {
            serial: format!("{next_id:08}"),
            manufacturer,
            model,
            version: if manufacturer == "APA" {
                5
            } else {
                1 + rng.below(4) as i16
            },
            role,
            district,
            key,
            initial_ml: match role {
                "bulk" => rng.range(100_000, 900_000) * 1000,
                "sub" => rng.range(0, 300) * 1000 + rng.range(0, 999),
                _ => rng.range(20, 2500) * 1000 + rng.range(0, 999),
            },
            use_kind,
            first_day: 0,
            last_day: t.days,
            leak_from_day: None,
            premises,
            parent,
            status: "active",
        });
        t.meters.len() - 1
    };
    let new_customer = |t: &mut Town, rng: &mut Rng, kind: &'static str, name: Option<String>| {
        let number = (4701 + t.customers.len()).to_string();
        let mut code = String::new();
        for _ in 0..8 {
            code.push(*rng.pick(&[
                'A', 'C', 'D', 'E', 'F', 'H', 'K', 'L', 'M', 'N', 'P', 'R', 'T', 'W', 'X', '3',
                '4', '7', '9',
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
            let birth = NaiveDate::from_ymd_opt(1940, 1, 1).expect("valid date")
                + Duration::days(rng.range(0, 64 * 365));
            let serial = (rng.below(1000) * 10
                + if female {
                    2 * rng.below(5)
                } else {
                    2 * rng.below(5) + 1
                }) as u16;
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
    };
    let add_premises = |t: &mut Town,
                        address: usize,
                        kind: &'static str,
                        district: usize,
                        persons: Option<i16>| {
        t.premises.push(Premises {
            address,
            kind,
            district,
            persons,
        });
        t.premises.len() - 1
    };
    let contract_from = |rng: &mut Rng| {
        NaiveDate::from_ymd_opt(2005, 1, 1).expect("valid date")
            + Duration::days(rng.range(0, 18 * 365))
    };

    // District inlets: a bulk meter each, in a chamber owned by the utility.
    for (d, _) in DISTRICTS.iter().enumerate() {
        let street = STREETS.iter().position(|s| s.1 == d).unwrap_or(0);
        let a = new_address(&mut t, &mut rng, street, None);
        let p = add_premises(&mut t, a, "public", d, None);
        new_meter(&mut t, &mut rng, "bulk", p, Use::Bulk(d), None);
    }
    let n = opts.meters;
    // Blocks of flats: a main meter billed to the cooperative, a meter per flat.
    let block_streets: Vec<usize> = [
        "Osiedle Słoneczne",
        "Spółdzielcza",
        "Kolejowa",
        "Mickiewicza",
    ]
    .iter()
    .filter_map(|s| STREETS.iter().position(|x| x.0 == *s))
    .collect();
    let coop_customers: Vec<usize> = COOPERATIVES
        .iter()
        .map(|name| new_customer(&mut t, &mut rng, "housing", Some(name.to_string())))
        .collect();
    for b in 0..(n / 130).max(1) {
        let street = block_streets[b % block_streets.len()];
        let a = new_address(&mut t, &mut rng, street, None);
        let district = STREETS[street].1;
        let p = add_premises(&mut t, a, "block", district, None);
        let coop = coop_customers[b % coop_customers.len()];
        let main = new_meter(&mut t, &mut rng, "main", p, Use::BlockMain(b), None);
        let _ = main;
        let from = contract_from(&mut rng);
        t.contracts.push(Contract {
            customer: coop,
            premises: p,
            group: group_of("housing"),
            sewage: true,
            from,
        });
        let mut flats = Vec::new();
        for f in 1..=rng.range(18, 36) as u32 {
            let a = new_address(&mut t, &mut rng, street, Some(f));
            let persons = rng.range(1, 4) as i16;
            let fp = add_premises(&mut t, a, "flat", district, Some(persons));
            let m = new_meter(
                &mut t,
                &mut rng,
                "main",
                fp,
                Use::Household(persons as u8),
                None,
            );
            flats.push(m);
            let c = new_customer(&mut t, &mut rng, "household", None);
            let from = contract_from(&mut rng);
            t.contracts.push(Contract {
                customer: c,
                premises: fp,
                group: group_of("household"),
                sewage: true,
                from,
            });
        }
        t.blocks.push(flats);
    }
    // Businesses and public bodies.
    let mut company =
        |t: &mut Town, rng: &mut Rng, kind: &'static str, name: String, litres: i64| {
            let street = rng.below(STREETS.len() as u64) as usize;
            let a = new_address(t, rng, street, None);
            let p = add_premises(
                t,
                a,
                if kind == "public" {
                    "public"
                } else {
                    "business"
                },
                STREETS[street].1,
                None,
            );
            let use_kind = if kind == "public" {
                Use::Public(litres)
            } else {
                Use::Business(litres)
            };
            new_meter(t, rng, "main", p, use_kind, None);
            let c = new_customer(t, rng, kind, Some(name));
            let from = contract_from(rng);
            t.contracts.push(Contract {
                customer: c,
                premises: p,
                group: group_of(kind),
                sewage: rng.chance(900),
                from,
            });
        };
    for (i, name) in PUBLIC_BODIES
        .iter()
        .enumerate()
        .take((n / 100).clamp(1, PUBLIC_BODIES.len()))
    {
        let litres = rng.range(800, 6000);
        let _ = i;
        company(
            &mut t,
            &mut rng,
            "public",
            format!("{name} w Przykładowie"),
            litres,
        );
    }
    for i in 0..n / 25 {
        let kind = BUSINESSES[i % BUSINESSES.len()];
        let (m, _) = *rng.pick(LAST_NAMES);
        let litres = rng.range(150, 3500);
        company(
            &mut t,
            &mut rng,
            "business",
            format!("{kind} „{m}” sp.j."),
            litres,
        );
    }
    // Houses, some with a garden sub-meter; a few meters replaced during the year.
    let replacements = n / 100;
    let mut replaced = 0;
    while t.meters.len() < n {
        let street = rng.below(STREETS.len() as u64) as usize;
        let a = new_address(&mut t, &mut rng, street, None);
        let persons = rng.range(1, 6) as i16;
        let p = add_premises(&mut t, a, "house", STREETS[street].1, Some(persons));
        let m = new_meter(
            &mut t,
            &mut rng,
            "main",
            p,
            Use::Household(persons as u8),
            None,
        );
        let c = new_customer(&mut t, &mut rng, "household", None);
        let from = contract_from(&mut rng);
        t.contracts.push(Contract {
            customer: c,
            premises: p,
            group: group_of("household"),
            sewage: true,
            from,
        });
        if t.meters.len() < n && replaced < replacements && rng.chance(150) {
            let day = rng.range(30, t.days as i64 - 30) as usize;
            t.meters[m].last_day = day;
            t.meters[m].status = "removed";
            let new = new_meter(
                &mut t,
                &mut rng,
                "main",
                p,
                Use::Household(persons as u8),
                None,
            );
            t.meters[new].first_day = day;
            t.meters[new].initial_ml = 0;
            replaced += 1;
        } else if t.meters.len() < n && rng.chance(110) {
            new_meter(&mut t, &mut rng, "sub", p, Use::Garden, Some(m));
        }
        if rng.chance(4) {
            t.meters[m].leak_from_day = Some(t.days - rng.range(2, 12) as usize);
        }
    }
    Ok(t)
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

/// Litres used by each meter on each day of the history (0 outside its installation).
fn daily_use(t: &Town, seed: u64) -> Vec<Vec<i64>> {
    let base = Rng::new(seed ^ 0x005E_ED0F_D47A);
    let mut out: Vec<Vec<i64>> = vec![vec![0; t.days]; t.meters.len()];
    for (i, m) in t.meters.iter().enumerate() {
        let mut rng = base.fork(i as u64);
        let row = &mut out[i];
        for (d, slot) in row
            .iter_mut()
            .enumerate()
            .take(m.last_day)
            .skip(m.first_day)
        {
            let day = t.start + Duration::days(d as i64);
            let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
            let summer = (5..=9).contains(&day.month());
            let litres = match m.use_kind {
                Use::Household(p) => {
                    let per = rng.range(75, 125) * if weekend { 115 } else { 100 } / 100;
                    p as i64 * per * if summer { 110 } else { 100 } / 100
                }
                Use::Business(l) => {
                    l * if weekend { 25 } else { 100 } / 100 * rng.range(85, 115) / 100
                }
                Use::Public(l) => {
                    let holidays = matches!(day.month(), 7 | 8);
                    l * if weekend {
                        15
                    } else if holidays {
                        35
                    } else {
                        100
                    } / 100
                        * rng.range(90, 110)
                        / 100
                }
                Use::Garden => {
                    if summer {
                        rng.range(0, 450)
                    } else if rng.chance(50) {
                        rng.range(1, 20)
                    } else {
                        0
                    }
                }
                Use::BlockMain(_) | Use::Bulk(_) => 0,
            };
            let leak = match m.leak_from_day {
                Some(f) if d >= f => 24 * rng.range(20, 45),
                _ => 0,
            };
            *slot = litres + leak;
        }
    }
    // Block mains: the flats plus 3 % common use; bulk inlets: the district's direct
    // customers (block mains, houses, companies; not flats or sub-meters, already inside)
    // plus 8–12 % losses.
    for (i, m) in t.meters.iter().enumerate() {
        if let Use::BlockMain(b) = m.use_kind {
            out[i] = (0..t.days)
                .map(|d| t.blocks[b].iter().map(|&f| out[f][d]).sum::<i64>() * 103 / 100)
                .collect();
        }
    }
    let flats: std::collections::HashSet<usize> = t.blocks.iter().flatten().copied().collect();
    for (i, m) in t.meters.iter().enumerate() {
        if let Use::Bulk(dist) = m.use_kind {
            let mut rng = base.fork(1_000_000 + i as u64);
            let direct: Vec<usize> = (0..t.meters.len())
                .filter(|j| {
                    let x = &t.meters[*j];
                    x.district == dist && x.role == "main" && !flats.contains(j)
                })
                .collect();
            out[i] = (0..t.days)
                .map(|d| direct.iter().map(|&j| out[j][d]).sum::<i64>() * rng.range(108, 112) / 100)
                .collect();
        }
    }
    out
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
    let uses = daily_use(&town, opts.seed);
    // One transaction: an interrupted seed leaves nothing behind.
    let mut tx = pool.begin().await?;
    write_master_data(&mut tx, &town, &uses, master_key, opts).await?;
    let first = local(town.start, 0, 0);
    store::ensure_partitions(
        &mut tx,
        first - Duration::days(31),
        local(opts.today, 0, 0) + Duration::days(190),
    )
    .await?;
    let mut readings = 0u64;
    let mut batch = Vec::with_capacity(200 * town.days);
    let mut seed_rng = Rng::new(opts.seed ^ 0xAB_CDEF);
    for (i, m) in town.meters.iter().enumerate() {
        // Each meter sends its daily reading at its own minute before midnight.
        let minute = seed_rng.below(50) as u32;
        let mut register_ml = m.initial_ml;
        for (d, used) in uses[i]
            .iter()
            .enumerate()
            .take(m.last_day)
            .skip(m.first_day)
        {
            register_ml += used * 1000;
            if m.role == "bulk" {
                // Bulk registers are kept in 10 l units.
                register_ml -= register_ml % 10_000;
            }
            batch.push(NewReading {
                meter_id: i as i64 + 1,
                read_at: local(town.start + Duration::days(d as i64), 23, minute + 5),
                volume_ml: register_ml,
                source: Source::Seed,
                quality: 1,
            });
        }
        if batch.len() >= 150 * town.days || i + 1 == town.meters.len() {
            readings += store::copy_readings(&mut tx, &batch).await?;
            batch.clear();
        }
    }
    let daily_rollups = store::rollup_days(&mut tx, town.start, opts.today).await?;
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
    uses: &[Vec<i64>],
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
    .bind(DISTRICTS.iter().map(|d| d.0).collect::<Vec<_>>())
    .bind(DISTRICTS.iter().map(|d| d.1).collect::<Vec<_>>())
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
    .bind(t.addresses.iter().map(|a| a.street).collect::<Vec<_>>())
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

    // Meters (keys sealed under the master key; the nonce is the meter's index, unique here).
    let sealed: Vec<Vec<u8>> = t
        .meters
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            nonce[8..].copy_from_slice(b"seed");
            master_key.seal(&m.key, nonce)
        })
        .collect();
    sqlx::query(
        "insert into meter (meter_id, serial, manufacturer, model, radio_id, radio_version,
             radio_device_type, aes_key_enc, register_digits, resolution_ml, role, district_id, status,
             verified_until)
         overriding system value
         select row_number() over (), s, m, mo, s, v, 7, k, case when r = 'bulk' then 7 else 5 end,
                case when r = 'bulk' then 10000 else 1000 end, r, d, st, $9
         from unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::bytea[], $6::text[],
                     $7::bigint[], $8::text[]) as x(s, m, mo, v, k, r, d, st)",
    )
    .bind(t.meters.iter().map(|m| m.serial.clone()).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.manufacturer).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.model).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.version).collect::<Vec<_>>())
    .bind(sealed)
    .bind(t.meters.iter().map(|m| m.role).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.district as i64 + 1).collect::<Vec<_>>())
    .bind(t.meters.iter().map(|m| m.status).collect::<Vec<_>>())
    .bind(NaiveDate::from_ymd_opt(opts.today.year() + 3, 12, 31))
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "update district d set inlet_meter_id = m.meter_id from meter m
         where m.role = 'bulk' and m.district_id = d.district_id",
    )
    .execute(&mut **tx)
    .await?;

    // Installation history: installed the day before the history starts (or on replacement
    // day), removed on replacement day with the final register.
    let installed_at: Vec<_> = t
        .meters
        .iter()
        .map(|m| {
            local(t.start + Duration::days(m.first_day as i64), 9, 0)
                - Duration::days(i64::from(m.first_day == 0))
        })
        .collect();
    let removed_read: Vec<Option<i64>> = t
        .meters
        .iter()
        .enumerate()
        .map(|(i, m)| {
            (m.last_day < t.days)
                .then(|| m.initial_ml + uses[i][m.first_day..m.last_day].iter().sum::<i64>() * 1000)
        })
        .collect();
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
    .bind(installed_at)
    .bind(t.meters.iter().map(|m| m.initial_ml).collect::<Vec<_>>())
    .bind(
        t.meters
            .iter()
            .map(|m| (m.last_day < t.days).then(|| local(t.start + Duration::days(m.last_day as i64), 9, 0)))
            .collect::<Vec<_>>(),
    )
    .bind(removed_read)
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

    // Demo users.
    let mut rng = Rng::new(opts.seed ^ 0x05E5);
    for (login, role, _) in DEMO_LOGINS {
        let hash = hash_password(&opts.password, &mut rng)?;
        let customer = (*role == "customer").then_some(1i64);
        let user_id: i64 = sqlx::query_scalar(
            "insert into app_user (login, email, display_name, password_hash, customer_id, org_unit_id, email_confirmed_at)
             values ($1, $1 || '@zwik.przykladowo.example', $2, $3, $4, case when $4 is null then (select org_unit_id from org_unit where code = 'BOK') end, now())
             returning user_id",
        )
        .bind(login)
        .bind(match *role {
            "customer" => t.customers.first().map(customer_name).unwrap_or_default(),
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
    let leaking: Vec<i64> = t
        .meters
        .iter()
        .enumerate()
        .filter(|(_, m)| m.leak_from_day.is_some() && m.last_day == t.days)
        .map(|(i, _)| i as i64 + 1)
        .collect();
    let since: Vec<_> = t
        .meters
        .iter()
        .filter(|m| m.leak_from_day.is_some() && m.last_day == t.days)
        .map(|m| {
            local(
                t.start + Duration::days(m.leak_from_day.unwrap_or(0) as i64 + 1),
                3,
                0,
            )
        })
        .collect();
    sqlx::query(
        "insert into alarm (meter_id, kind, severity, source, opened_at, last_seen_at, occurrences, details)
         select m, 'suspected_leak', 'warning', 'rule', s, $3, 1, jsonb_build_object('rule', 'no zero-flow hour in 24 h')
         from unnest($1::bigint[], $2::timestamptz[]) as x(m, s)",
    )
    .bind(leaking)
    .bind(since)
    .bind(local(t.start + Duration::days(t.days as i64 - 1), 23, 59))
    .execute(conn)
    .await?;
    Ok(())
}
