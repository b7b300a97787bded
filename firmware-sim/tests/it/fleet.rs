//! The fleet: determinism, composition, and registers consistent with use and faults.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ewoda_common::Volume;
use ewoda_sim::{Fault, FaultKind, Fleet, MeterKind, DEFAULT_FLEET_SIZE};
use std::collections::HashSet;

fn at(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap()
}

/// The first household meter with no sub-meters.
fn plain_house(f: &Fleet) -> usize {
    f.meters()
        .iter()
        .find(|m| m.kind() == MeterKind::House && m.sub_meters().is_empty())
        .unwrap()
        .index()
}

#[test]
fn default_fleet_is_deterministic_and_varied() {
    let a = Fleet::generate(42, DEFAULT_FLEET_SIZE);
    let b = Fleet::generate(42, DEFAULT_FLEET_SIZE);
    let c = Fleet::generate(43, DEFAULT_FLEET_SIZE);
    assert_eq!(a.len(), 3_832);
    let ident = |f: &Fleet| -> Vec<(String, [u8; 16], i64)> {
        f.meters()
            .iter()
            .map(|m| (m.serial().to_string(), m.key(), m.initial_register().ml()))
            .collect()
    };
    assert_eq!(ident(&a), ident(&b));
    assert_ne!(ident(&a), ident(&c));

    let ids: HashSet<_> = a.meters().iter().map(|m| m.address().id.clone()).collect();
    assert_eq!(ids.len(), a.len(), "ids are unique");
    let apa = a
        .meters()
        .iter()
        .filter(|m| m.address().manufacturer.as_str() == "APA")
        .count();
    assert!(apa * 100 / a.len() > 60, "Apator dominates: {apa}");
    let makers: HashSet<_> = a
        .meters()
        .iter()
        .map(|m| m.address().manufacturer.as_str().to_string())
        .collect();
    assert!(makers.len() >= 5, "{makers:?}");
    for kind in [
        MeterKind::House,
        MeterKind::Flat,
        MeterKind::Business,
        MeterKind::Garden,
        MeterKind::Bulk,
    ] {
        assert!(a.meters().iter().any(|m| m.kind() == kind), "{kind:?}");
    }
    assert_eq!(a.districts().len(), 5);
    for m in a.meters() {
        assert_eq!(m.address().device_type, 0x07);
        assert!(m.serial().ends_with(m.address().id.as_str()));
        assert_eq!(m.serial().len(), 10);
        if m.kind() == MeterKind::Garden {
            let main = a.meter(m.main_meter().unwrap()).unwrap();
            assert_eq!(main.kind(), MeterKind::House);
            assert_eq!(main.district(), m.district());
            assert!(main.sub_meters().contains(&m.index()));
        } else {
            assert!(m.main_meter().is_none());
        }
    }
    for d in a.districts() {
        assert_eq!(a.meter(d.bulk_meter).unwrap().kind(), MeterKind::Bulk);
    }
}

#[test]
fn register_equals_initial_plus_use() {
    let f = Fleet::generate(7, 300);
    let t0 = f.epoch();
    let t1 = at(2026, 2, 3, 10) + Duration::seconds(1234);
    let t2 = at(2026, 3, 1, 7) + Duration::seconds(17);
    for m in f.meters().iter().filter(|m| m.kind() != MeterKind::Bulk) {
        let i = m.index();
        assert_eq!(f.register_at(i, t0).unwrap(), m.initial_register());
        let r1 = f.register_at(i, t1).unwrap();
        let r2 = f.register_at(i, t2).unwrap();
        assert_eq!(r2 - r1, f.registered_use(i, t1, t2).unwrap());
        assert_eq!(r1 - m.initial_register(), f.true_use(i, t0, t1).unwrap());
        assert!(r2 >= r1);
    }
    assert!(f.true_use(0, t2, t1).is_err());
    assert!(f.register_at(300, t1).is_err());
}

#[test]
fn main_meter_includes_its_garden() {
    let f = Fleet::generate(11, 1500);
    let g = f
        .meters()
        .iter()
        .find(|m| m.kind() == MeterKind::Garden)
        .unwrap();
    let main = g.main_meter().unwrap();
    let (from, to) = (at(2026, 6, 1, 0), at(2026, 7, 1, 0));
    let garden = f.true_use(g.index(), from, to).unwrap();
    assert!(garden.ml() > 0, "gardens are watered in June");
    let main_use = f.true_use(main, from, to).unwrap();
    assert!(main_use > garden);
}

#[test]
fn bulk_meter_is_customers_plus_leakage() {
    let f = Fleet::generate(5, 1400);
    let (from, to) = (at(2026, 1, 10, 5), at(2026, 1, 12, 5));
    for d in f.districts() {
        let customers: i64 = d
            .customers
            .iter()
            .map(|&c| f.true_use(c, from, to).unwrap().ml())
            .sum();
        let leak = f.district_leakage(d.index, from, to).unwrap();
        assert!(leak.ml() > 0);
        assert_eq!(
            f.true_use(d.bulk_meter, from, to).unwrap(),
            Volume::from_ml(customers) + leak
        );
        assert_eq!(
            f.register_at(d.bulk_meter, to).unwrap() - f.register_at(d.bulk_meter, from).unwrap(),
            Volume::from_ml(customers) + leak
        );
    }
}

#[test]
fn households_have_zero_flow_hours_but_a_leak_has_none() {
    let mut f = Fleet::generate(3, 200);
    let m = plain_house(&f);
    let day = |f: &Fleet, start: DateTime<Utc>| -> Vec<i64> {
        (0..24)
            .map(|h| {
                let a = start + Duration::hours(h);
                f.true_use(m, a, a + Duration::hours(1)).unwrap().ml()
            })
            .collect()
    };
    assert!(day(&f, at(2026, 1, 20, 0)).contains(&0));
    let start = at(2026, 1, 15, 3);
    f.inject(m, Fault::new(FaultKind::Leak { litres_per_hour: 4 }, start))
        .unwrap();
    let leaking = day(&f, at(2026, 1, 20, 0));
    assert!(leaking.iter().all(|&ml| ml >= 4000), "{leaking:?}");
    assert!(f.status_at(m, start).unwrap().leak);
    assert!(!f.status_at(m, start - Duration::hours(1)).unwrap().leak);
    assert!(f
        .inject(m, Fault::new(FaultKind::Leak { litres_per_hour: 0 }, start))
        .is_err());
}

#[test]
fn backflow_turns_the_register_back() {
    let mut f = Fleet::generate(3, 200);
    let m = plain_house(&f);
    let start = at(2026, 2, 1, 0);
    f.inject(
        m,
        Fault::new(
            FaultKind::Backflow {
                litres_per_hour: 10,
            },
            start,
        )
        .until(at(2026, 2, 1, 5)),
    )
    .unwrap();
    let before = f.register_at(m, start).unwrap();
    let after = f.register_at(m, at(2026, 2, 1, 5)).unwrap();
    assert_eq!(before - after, Volume::from_litres(50));
    assert!(f.status_at(m, at(2026, 2, 1, 2)).unwrap().backflow);
    assert!(!f.status_at(m, at(2026, 2, 1, 6)).unwrap().backflow);
}

#[test]
fn stuck_and_tampered_meters_under_register() {
    let mut f = Fleet::generate(3, 200);
    let houses: Vec<usize> = f
        .meters()
        .iter()
        .filter(|m| m.kind() == MeterKind::House && m.sub_meters().is_empty())
        .map(|m| m.index())
        .take(2)
        .collect();
    let start = at(2026, 1, 5, 0);
    let end = at(2026, 1, 25, 0);
    f.inject(houses[0], Fault::new(FaultKind::Stuck, start))
        .unwrap();
    f.inject(houses[1], Fault::new(FaultKind::MagneticTamper, start))
        .unwrap();
    assert_eq!(
        f.register_at(houses[0], start).unwrap(),
        f.register_at(houses[0], end).unwrap()
    );
    assert!(f.true_use(houses[0], start, end).unwrap().ml() > 0);
    let t = f.true_use(houses[1], start, end).unwrap().ml();
    let r = f.registered_use(houses[1], start, end).unwrap().ml();
    assert!(r < t / 2 && r > 0, "registered {r} of {t}");
    assert!(f.status_at(houses[1], end).unwrap().tamper);
}

#[test]
fn dry_pipe_and_battery_and_drift() {
    let mut f = Fleet::generate(3, 200);
    let m = plain_house(&f);
    let start = at(2026, 3, 1, 0);
    f.inject(m, Fault::new(FaultKind::DryPipe, start)).unwrap();
    f.inject(m, Fault::new(FaultKind::LowBattery, start))
        .unwrap();
    f.inject(
        m,
        Fault::new(
            FaultKind::ClockDrift {
                seconds_per_day: 30,
            },
            start,
        ),
    )
    .unwrap();
    let later = start + Duration::days(10);
    assert_eq!(f.true_use(m, start, later).unwrap(), Volume::ZERO);
    let s = f.status_at(m, later).unwrap();
    assert!(s.dry && s.battery_low);
    assert_eq!(s.clock_offset_s, 300);
    let r = f.readout(m, later).unwrap();
    assert_eq!(
        r.meter_time,
        (later + Duration::seconds(300))
            .with_timezone(&chrono_tz::Europe::Warsaw)
            .naive_local()
    );
}

#[test]
fn replacement_brings_a_new_meter_from_zero() {
    let mut f = Fleet::generate(3, 200);
    let m = plain_house(&f);
    let old_serial = f.meter(m).unwrap().serial().to_string();
    let when = at(2026, 2, 10, 9);
    f.inject(m, Fault::new(FaultKind::Stuck, at(2026, 2, 1, 0)))
        .unwrap();
    f.inject(m, Fault::new(FaultKind::Replacement, when))
        .unwrap();
    let g = f.generation_at(m, when).unwrap().clone();
    assert_ne!(g.serial, old_serial);
    assert_ne!(g.address.id, f.meter(m).unwrap().address().id);
    assert_eq!(f.find_serial(&g.serial), Some(m));
    assert_eq!(
        f.generation_at(m, when - Duration::seconds(1))
            .unwrap()
            .serial,
        old_serial
    );
    assert_eq!(f.register_at(m, when).unwrap(), Volume::ZERO);
    // The new meter is not stuck: it counts what flows.
    let later = when + Duration::days(3);
    assert_eq!(
        f.register_at(m, later).unwrap(),
        f.true_use(m, when, later).unwrap()
    );
}

#[test]
fn rollover_wraps_the_register_at_the_start() {
    let mut f = Fleet::generate(3, 200);
    let m = plain_house(&f);
    let when = at(2026, 1, 20, 12);
    f.inject(m, Fault::new(FaultKind::Rollover, when)).unwrap();
    let cap = f.meter(m).unwrap().capacity_ml();
    assert_eq!(cap, 100_000 * 1_000_000);
    let before = f.register_at(m, when - Duration::hours(5)).unwrap().ml();
    let after = f.register_at(m, when + Duration::days(2)).unwrap().ml();
    assert!(before > cap - 1_000_000_000, "{before}");
    assert!(after < 1_000_000_000, "{after}");
    assert_eq!(f.register_at(m, when).unwrap(), Volume::ZERO);
}

#[test]
fn random_faults_are_deterministic_and_visible() {
    let mut a = Fleet::generate(8, 2000);
    let mut b = Fleet::generate(8, 2000);
    let (from, to) = (at(2026, 2, 1, 0), at(2026, 3, 1, 0));
    let fa = a.inject_random_faults(50, from, to).unwrap();
    let fb = b.inject_random_faults(50, from, to).unwrap();
    assert_eq!(fa, fb);
    assert!(fa.len() > 50 && fa.len() < 160, "{}", fa.len());
    let leaks: Vec<usize> = fa
        .iter()
        .filter(|(_, f)| matches!(f.kind, FaultKind::Leak { .. }))
        .map(|(m, _)| *m)
        .collect();
    assert!(!leaks.is_empty());
    for m in leaks {
        assert!(a.status_at(m, to).unwrap().leak);
    }
}

#[test]
fn route_by_address_walks_street_by_street() {
    let f = Fleet::generate(8, 800);
    let route = f.route_by_address(Some(0));
    assert!(!route.is_empty());
    let keys: Vec<_> = route
        .iter()
        .map(|&i| {
            let m = f.meter(i).unwrap();
            assert_eq!(m.district(), 0);
            assert_ne!(m.kind(), MeterKind::Bulk);
            (m.street().to_string(), m.house_number(), m.flat())
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]));
}
