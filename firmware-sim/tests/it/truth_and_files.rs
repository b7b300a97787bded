//! Ground-truth export and the reading-set files, checked against the fleet.

use chrono::{DateTime, TimeZone, Utc};
use ewoda_common::Volume;
use ewoda_sim::reading_set::{self, Reading};
use ewoda_sim::truth;
use ewoda_sim::{Fault, FaultKind, Fleet, MeterKind};

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

#[test]
fn use_rows_match_register_differences_and_serialise() {
    let f = Fleet::generate(9, 120);
    let (from, to) = (at(2026, 1, 1, 0, 0, 0), at(2026, 2, 1, 0, 0, 0));
    let rows = truth::use_rows(&f, None, from, to).unwrap();
    assert_eq!(rows.len(), 120);
    for r in rows.iter().filter(|r| r.kind != MeterKind::Bulk) {
        let delta = f.register_at(r.meter, to).unwrap() - f.register_at(r.meter, from).unwrap();
        assert_eq!(delta, r.true_use);
        assert_eq!(r.true_use, r.registered_use);
    }
    let mut out = Vec::new();
    truth::write_use_jsonl(&mut out, &rows[..2]).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["true_ml"], rows[0].true_use.ml());
    assert_eq!(lines[0]["serial"], rows[0].serial);
    assert_eq!(lines[0]["from"], "2026-01-01T00:00:00Z");
    assert_eq!(
        lines[0]["true_m3"].as_str().unwrap(),
        rows[0].true_use.m3().to_string()
    );
    let mut csv = Vec::new();
    truth::write_use_csv(&mut csv, &rows[..1]).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(
        csv,
        format!(
            "meter,serial,kind,from,to,true_ml,registered_ml\n0,{},{},2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,{},{}\n",
            rows[0].serial,
            rows[0].kind.as_str(),
            rows[0].true_use.ml(),
            rows[0].registered_use.ml()
        )
    );
}

#[test]
fn register_rows_carry_status() {
    let mut f = Fleet::generate(9, 120);
    let t = at(2026, 1, 20, 12, 30, 0);
    f.inject(
        3,
        Fault::new(FaultKind::LowBattery, at(2026, 1, 10, 0, 0, 0)),
    )
    .unwrap();
    let rows = truth::register_rows(&f, &[(3, t), (4, t)]).unwrap();
    assert_eq!(rows[0].register, f.register_at(3, t).unwrap());
    assert!(rows[0].status.battery_low);
    let mut out = Vec::new();
    truth::write_registers_jsonl(&mut out, &rows).unwrap();
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(out).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["error_flags"], 0x20);
    assert_eq!(first["status_byte"], 0x04);
    assert_eq!(first["id"], f.meter(3).unwrap().address().id.as_str());
}

#[test]
fn reading_set_txt_and_csv_formats() {
    let mut f = Fleet::generate(21, 60);
    let leak_at = at(2026, 3, 1, 0, 0, 0);
    f.inject(
        1,
        Fault::new(FaultKind::Leak { litres_per_hour: 3 }, leak_at),
    )
    .unwrap();
    // 2026-03-10 09:15:07 UTC is 10:15:07 in Warsaw (winter time); 2026-07-01 is summer time.
    let t1 = at(2026, 3, 10, 9, 15, 7);
    let t2 = at(2026, 7, 1, 6, 0, 0);
    let rs = reading_set::readings(&f, &[(0, t1), (1, t1), (2, t2)]).unwrap();
    assert!(!rs[0].leak && rs[1].leak);
    let txt = reading_set::to_txt(&rs);
    let lines: Vec<&str> = txt.split_inclusive("\r\n").collect();
    assert_eq!(lines.len(), 3);
    for (line, (meter, t)) in lines.iter().zip([(0, t1), (1, t1), (2, t2)]) {
        assert!(line.ends_with("\r\n"));
        let fields: Vec<&str> = line.trim_end_matches("\r\n").split(';').collect();
        assert_eq!(fields.len(), 4);
        assert_eq!(fields[0], f.generation_at(meter, t).unwrap().serial);
        let litres = f.register_at(meter, t).unwrap().ml() / 1000;
        assert_eq!(fields[2], format!("{},{:03}", litres / 1000, litres % 1000));
        assert_eq!(fields[3], if meter == 1 { "TAK" } else { "NIE" });
    }
    assert!(lines[0].contains(";2026-03-10 10:15:07;"));
    assert!(lines[2].contains(";2026-07-01 08:00:00;"));

    let csv = reading_set::to_csv(&rs);
    let mut rows = csv.split("\r\n");
    assert_eq!(
        rows.next().unwrap(),
        "numer_licznika,data_odczytu,stan_m3,alarm_wycieku"
    );
    let second = rows.nth(1).unwrap();
    assert_eq!(
        second,
        format!(
            "{},2026-03-10 10:15:07,{},TAK",
            rs[1].serial,
            rs[1].register_m3('.')
        )
    );
}

#[test]
fn register_is_formatted_with_exactly_three_decimals() {
    let r = Reading {
        serial: "2112345678".into(),
        read_at: at(2026, 1, 2, 3, 4, 5),
        register: Volume::from_ml(12_005_000),
        leak: false,
    };
    assert_eq!(r.register_m3(','), "12,005");
    assert_eq!(
        reading_set::to_txt(&[r]),
        "2112345678;2026-01-02 04:04:05;12,005;NIE\r\n"
    );
}
