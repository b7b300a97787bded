//! `ewoda collect` with every serial and polled source kind from one TOML file: the
//! simulator's radio dongle and wired M-Bus slaves on real ptys (opened by path, as a
//! deployment opens /dev/ttyUSB0) and Modbus TCP bulk meters on loopback, all into one fresh
//! PostgreSQL database. Stored values must equal the simulator's registers.

use chrono::{Duration, TimeZone, Utc};
use ewoda_collector::collect;
use ewoda_collector::config::CollectConfig;
use ewoda_common::crypto::MasterKey;
use ewoda_sim::im871a::{DeviceInfo, Dongle, RxOptions};
use ewoda_sim::mbus::{Slave, TimeSource};
use ewoda_sim::modbus::{BulkModel, BulkUnit, ModbusSim};
use ewoda_sim::wmbus::FrameFormat;
use ewoda_sim::Fleet;
use ewoda_tests::{insert_fleet, Scratch, TestDb};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_serial::{SerialPort, SerialStream};

const MASTER_HEX: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// serial → (source, volume_ml) of every stored reading.
async fn stored(pool: &PgPool) -> BTreeMap<String, Vec<(String, i64)>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "select m.serial, r.source, r.volume_ml from reading r join meter m using (meter_id)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for (s, src, v) in rows {
        out.entry(s).or_default().push((src, v));
    }
    out
}

#[tokio::test]
async fn collect_runs_radio_mbus_and_modbus_sources_from_one_toml() {
    let fleet = Arc::new(Fleet::generate(23, 120));
    // A whole hour: model A registers are whole litres, equal to the fleet's register.
    let t = Utc.with_ymd_and_hms(2026, 2, 3, 10, 0, 0).unwrap() + Duration::days(7);
    let db = TestDb::new("collect_serial").await;
    let serials = insert_fleet(
        &db.pool,
        &fleet,
        t,
        &MasterKey::from_hex(MASTER_HEX).unwrap(),
    )
    .await;
    let scratch = Scratch::new("collect-serial");
    std::fs::write(scratch.0.join("master.key"), MASTER_HEX).unwrap();

    // Radio: the collector opens the pty's slave by path; this end stays open but unread.
    let (dongle_end, radio_slave) = SerialStream::pair().expect("pty pair");
    let radio_path = radio_slave.name().expect("pty name");
    let dongle = Dongle::spawn(dongle_end, DeviceInfo::default());
    // Wired M-Bus: two slaves.
    let (bus_end, bus_slave) = SerialStream::pair().expect("pty pair");
    let bus_path = bus_slave.name().expect("pty name");
    let wired = [
        Slave {
            primary_address: 7,
            meter: 10,
        },
        Slave {
            primary_address: 8,
            meter: 11,
        },
    ];
    tokio::spawn(ewoda_sim::mbus::serve(
        bus_end,
        fleet.clone(),
        wired.to_vec(),
        TimeSource::Fixed(t),
    ));
    // Modbus TCP: every district's bulk meter.
    let bulk: Vec<BulkUnit> = fleet
        .districts()
        .iter()
        .enumerate()
        .map(|(k, d)| BulkUnit {
            unit: 1 + k as u8,
            meter: d.bulk_meter,
            model: BulkModel::A,
        })
        .collect();
    let sim = ModbusSim::new(fleet.clone(), bulk.clone(), TimeSource::Fixed(t)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let modbus_addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(Arc::new(sim).serve_tcp(listener));

    let mut toml = format!(
        r#"
database_url = "{db_url}"
metrics_port = 0
master_key_file = "{key}"
spill_dir = "{spill}"
drain_secs = 5
[rules]
interval_secs = 0

[[sources]]
kind = "radio_serial"
path = "{radio_path}"
framing = "im871a"
status_profile = "water-flags"

[[sources]]
kind = "mbus_serial"
path = "{bus_path}"
addresses = [7, 8]
interval_secs = 3600
timeout_ms = 300
retries = 1

[[sources]]
kind = "modbus"
[sources.models.A]
table = "holding"
address = 0
count = 2
data_type = "u32"
word_order = "big"
scale = "1"
unit = "l"
[[sources.devices]]
link = {{ transport = "tcp", endpoint = "{modbus_addr}" }}
interval_ms = 3600000
"#,
        db_url = db.url(),
        key = scratch.0.join("master.key").display(),
        spill = scratch.0.join("spill").display(),
    );
    for (u, b) in bulk.iter().enumerate() {
        toml.push_str(&format!(
            "[[sources.devices.units]]\nunit = {}\nmodel = \"A\"\nmeter_serial = \"{}\"\n",
            b.unit, serials[bulk[u].meter]
        ));
    }
    let cfg = CollectConfig::parse(&toml, "test.toml").expect("config parses");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let collector = tokio::spawn(collect::run(cfg, async move {
        let _ = stop_rx.await;
    }));

    let radio_meters: Vec<usize> = (20..40).collect();
    let opts = RxOptions {
        timestamp: true,
        rssi: true,
        crc: true,
        include_l_field: false,
    };
    for &i in &radio_meters {
        let frame = fleet.telegram(i, t, FrameFormat::NoCrc).unwrap();
        dongle
            .send_frame(&frame, opts, t.timestamp() as u32, 0x44)
            .await
            .unwrap();
    }
    let want = (radio_meters.len() + wired.len() + bulk.len()) as i64;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let n: i64 = sqlx::query_scalar("select count(*) from reading")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if n >= want {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} of {want} readings after 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop.send(()).unwrap();
    let totals = collector.await.unwrap().expect("collector ran");
    dongle.close().await.unwrap();
    drop((radio_slave, bus_slave));

    assert_eq!(totals.stored, want as u64);
    assert_eq!(totals.dead_letters, 0);
    let rows = stored(&db.pool).await;
    let truth = |i: usize| fleet.register_at(i, t).unwrap().ml() / 1000 * 1000;
    for &i in &radio_meters {
        assert_eq!(
            rows[&serials[i]],
            vec![("wmbus".to_string(), truth(i))],
            "radio meter {i}"
        );
    }
    for s in &wired {
        assert_eq!(
            rows[&serials[s.meter]],
            vec![("mbus".to_string(), truth(s.meter))],
            "wired meter {}",
            s.meter
        );
    }
    for b in &bulk {
        assert_eq!(
            rows[&serials[b.meter]],
            vec![(
                "modbus".to_string(),
                fleet.register_at(b.meter, t).unwrap().ml()
            )],
            "bulk meter {}",
            b.meter
        );
    }
    db.drop_db().await;
}
