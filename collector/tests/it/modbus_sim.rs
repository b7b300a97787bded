//! The collector's Modbus poller (tokio-modbus client) against firmware-sim's independently
//! written bulk-meter servers, over TCP on loopback and RTU on a real pty pair: decoded volumes
//! equal the fleet's registers, and silent units, exceptions and line noise give typed errors
//! without stopping the other units.

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use ewoda_collector::modbus::{
    DeviceConfig, ExceptionCode, Link, ModbusError, Poller, RegisterMap, SerialFormat, UnitConfig,
};
use ewoda_common::Volume;
use ewoda_sim::mbus::TimeSource;
use ewoda_sim::modbus::{BulkModel, BulkUnit, ModbusSim};
use ewoda_sim::truth::SimClock;
use ewoda_sim::Fleet;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_serial::SerialStream;

const MODELS: &str = r#"{
    "A": {"table": "holding", "address": 0, "count": 2, "data_type": "u32",
          "word_order": "big", "scale": "1", "unit": "l"},
    "B": {"table": "input", "address": 256, "count": 2, "data_type": "f32",
          "word_order": "little", "scale": "1", "unit": "m3", "resolution": "1"},
    "C": {"table": "holding", "address": 512, "count": 2, "data_type": "u32",
          "word_order": "little", "scale": "10", "unit": "l"},
    "A-past-the-map": {"address": 4, "count": 2, "data_type": "u32", "unit": "l"},
    "B-as-holding": {"table": "holding", "address": 256, "count": 2, "data_type": "f32",
          "word_order": "little", "unit": "m3"}
}"#;

fn models() -> BTreeMap<String, RegisterMap> {
    serde_json::from_str(MODELS).expect("models")
}

fn fleet() -> Arc<Fleet> {
    Arc::new(Fleet::generate(7, 1400))
}

/// Every district's bulk meter under models A, B and C: units 10d+1, 10d+2, 10d+3.
fn bulk_units(fleet: &Fleet) -> Vec<BulkUnit> {
    let mut out = Vec::new();
    for d in fleet.districts() {
        for (k, model) in [BulkModel::A, BulkModel::B, BulkModel::C]
            .into_iter()
            .enumerate()
        {
            out.push(BulkUnit {
                unit: (10 * d.index + k + 1) as u8,
                meter: d.bulk_meter,
                model,
            });
        }
    }
    out
}

fn model_name(m: BulkModel) -> &'static str {
    match m {
        BulkModel::A => "A",
        BulkModel::B => "B",
        BulkModel::C => "C",
    }
}

fn device(link: Link, units: &[(u8, &str)], timeout_ms: u64, retries: u32) -> DeviceConfig {
    DeviceConfig {
        link,
        units: units
            .iter()
            .map(|(unit, model)| UnitConfig {
                unit: *unit,
                model: model.to_string(),
                meter_serial: Some(format!("bulk-{unit}")),
            })
            .collect(),
        interval_ms: 50,
        timeout_ms,
        retries,
        backoff_ms: 20,
    }
}

fn unit_list(units: &[BulkUnit]) -> Vec<(u8, &'static str)> {
    units
        .iter()
        .map(|u| (u.unit, model_name(u.model)))
        .collect()
}

/// What the collector must store for `model` when the meter's register is `truth`: model A
/// shows whole litres (truncated), B whole m³ (rounded half-up, on the wire as f32), C whole
/// 10-litre pulses (truncated).
fn expected(model: BulkModel, truth: Volume) -> Volume {
    let ml = truth.ml();
    match model {
        BulkModel::A => Volume::from_ml(ml - ml % 1000),
        BulkModel::B => Volume::from_ml((ml + 500_000) / 1_000_000 * 1_000_000),
        BulkModel::C => Volume::from_ml(ml - ml % 10_000),
    }
}

async fn tcp_sim(sim: ModbusSim) -> (String, Arc<ewoda_sim::modbus::ModbusFaults>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let faults = sim.faults();
    tokio::spawn(Arc::new(sim).serve_tcp(listener));
    (addr, faults)
}

fn rtu_link() -> Link {
    Link::Rtu {
        path: "pty".into(),
        baud: 9600,
        format: SerialFormat::default(),
    }
}

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 9, h, m, s).unwrap()
}

async fn assert_all_models_read_exactly(transport: &str) {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    assert_eq!(units.len(), 6, "two districts, three models each");
    // A whole hour (registers are whole litres) and an instant inside an hour.
    for t in [at(10, 0, 0), at(17, 23, 41)] {
        let sim = ModbusSim::new(fleet.clone(), units.clone(), TimeSource::Fixed(t)).unwrap();
        let mut poller = match transport {
            "tcp" => {
                let (addr, _) = tcp_sim(sim).await;
                let d = device(Link::Tcp { endpoint: addr }, &unit_list(&units), 2000, 0);
                Poller::new(&d, &models()).unwrap()
            }
            _ => {
                let (sim_end, host_end) = SerialStream::pair().expect("pty pair");
                tokio::spawn(Arc::new(sim).serve_rtu(sim_end));
                let d = device(rtu_link(), &unit_list(&units), 2000, 0);
                Poller::on_serial(&d, &models(), host_end).unwrap()
            }
        };
        let results = poller.poll_once().await;
        assert_eq!(results.len(), units.len());
        for (u, r) in units.iter().zip(results) {
            let sample = r.unwrap_or_else(|e| panic!("unit {}: {e}", u.unit));
            let truth = fleet.register_at(u.meter, t).unwrap();
            assert!(
                truth.ml() < (1 << 32) * 1000,
                "no u32 rollover in this fleet"
            );
            assert_eq!(sample.unit, u.unit);
            assert_eq!(sample.meter_serial, Some(format!("bulk-{}", u.unit)));
            assert_eq!(
                sample.volume,
                expected(u.model, truth),
                "{transport} unit {} model {:?} at {t}: truth {truth:?}",
                u.unit,
                u.model
            );
            if u.model == BulkModel::A && t == at(10, 0, 0) {
                assert_eq!(
                    sample.volume, truth,
                    "whole hour: model A is the register itself"
                );
            }
        }
        let counts = poller.stats().snapshot();
        assert_eq!((counts.polls, counts.samples, counts.failures), (6, 6, 0));
    }
}

#[tokio::test]
async fn tcp_every_model_reads_the_fleet_register() {
    assert_all_models_read_exactly("tcp").await;
}

#[tokio::test]
async fn rtu_on_a_pty_every_model_reads_the_fleet_register() {
    assert_all_models_read_exactly("rtu").await;
}

#[tokio::test]
async fn tcp_sim_clock_values_lie_between_the_registers_before_and_after() {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    let clock = SimClock::new(at(6, 0, 0), 3600);
    let sim = ModbusSim::new(fleet.clone(), units.clone(), TimeSource::Clock(clock)).unwrap();
    let (addr, _) = tcp_sim(sim).await;
    let d = device(Link::Tcp { endpoint: addr }, &[(1, "A"), (3, "C")], 2000, 0);
    let mut poller = Poller::new(&d, &models()).unwrap();
    let before = clock.now();
    let results = poller.poll_once().await;
    let after = clock.now();
    let bulk = fleet.districts()[0].bulk_meter;
    for (model, r) in [BulkModel::A, BulkModel::C].into_iter().zip(results) {
        let v = r.unwrap().volume;
        let lo = expected(model, fleet.register_at(bulk, before).unwrap());
        let hi = expected(model, fleet.register_at(bulk, after).unwrap());
        assert!(lo <= v && v <= hi, "{model:?}: {lo:?} <= {v:?} <= {hi:?}");
    }
    assert!(after - before < ChronoDuration::hours(2));
}

#[tokio::test]
async fn run_sends_samples_every_interval_until_the_receiver_goes() {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    let t = at(10, 0, 0);
    let sim = ModbusSim::new(fleet.clone(), units.clone(), TimeSource::Fixed(t)).unwrap();
    let (addr, _) = tcp_sim(sim).await;
    let d = device(Link::Tcp { endpoint: addr }, &[(11, "A")], 2000, 0);
    let poller = Poller::new(&d, &models()).unwrap();
    let stats = poller.stats();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let task = tokio::spawn(poller.run(tx));
    let bulk = fleet.districts()[1].bulk_meter;
    for _ in 0..3 {
        let s = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a sample each interval")
            .expect("open");
        assert_eq!(s.volume, fleet.register_at(bulk, t).unwrap());
        assert_eq!(s.endpoint, d.link.endpoint());
    }
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run stops when the receiver is dropped")
        .unwrap();
    assert!(stats.snapshot().samples >= 3);
}

async fn silent_unit_times_out_and_the_others_are_read(transport: &str) {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    let t = at(10, 0, 0);
    let sim = ModbusSim::new(fleet.clone(), units.clone(), TimeSource::Fixed(t)).unwrap();
    let faults = sim.faults();
    faults.set_silent(2, true);
    let list = [(1, "A"), (2, "B"), (3, "C")];
    let mut poller = match transport {
        "tcp" => {
            let (addr, _) = tcp_sim(sim).await;
            Poller::new(
                &device(Link::Tcp { endpoint: addr }, &list, 150, 1),
                &models(),
            )
            .unwrap()
        }
        _ => {
            let (sim_end, host_end) = SerialStream::pair().expect("pty pair");
            tokio::spawn(Arc::new(sim).serve_rtu(sim_end));
            Poller::on_serial(&device(rtu_link(), &list, 150, 1), &models(), host_end).unwrap()
        }
    };
    let bulk = fleet.districts()[0].bulk_meter;
    let truth = fleet.register_at(bulk, t).unwrap();
    let results = poller.poll_once().await;
    assert_eq!(results[0].as_ref().unwrap().volume, truth);
    match &results[1] {
        Err(ModbusError::Timeout {
            unit: 2,
            timeout_ms: 150,
            ..
        }) => {}
        other => panic!("expected a timeout of unit 2, got {other:?}"),
    }
    assert_eq!(
        results[2].as_ref().unwrap().volume,
        expected(BulkModel::C, truth)
    );
    let c = poller.stats().snapshot();
    assert_eq!(
        (c.polls, c.samples, c.failures, c.timeouts, c.retries),
        (3, 2, 1, 2, 1)
    );

    // The unit comes back: the next round reads all three.
    faults.set_silent(2, false);
    let results = poller.poll_once().await;
    assert_eq!(
        results[1].as_ref().unwrap().volume,
        expected(BulkModel::B, truth)
    );
    assert!(results.iter().all(|r| r.is_ok()));
}

#[tokio::test]
async fn tcp_silent_unit_times_out_and_the_others_are_read() {
    silent_unit_times_out_and_the_others_are_read("tcp").await;
}

#[tokio::test]
async fn rtu_silent_unit_times_out_and_the_others_are_read() {
    silent_unit_times_out_and_the_others_are_read("rtu").await;
}

#[tokio::test]
async fn exceptions_are_typed_and_not_retried() {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    let sim = ModbusSim::new(fleet.clone(), units, TimeSource::Fixed(at(10, 0, 0))).unwrap();
    let (addr, _) = tcp_sim(sim).await;
    // Unit 1 (model A) asked past its map, unit 2 (model B, input registers only) asked
    // for holding registers, unit 11 (model A) asked right.
    let list = [(1, "A-past-the-map"), (2, "B-as-holding"), (11, "A")];
    let mut poller = Poller::new(
        &device(Link::Tcp { endpoint: addr }, &list, 1000, 3),
        &models(),
    )
    .unwrap();
    let results = poller.poll_once().await;
    match &results[0] {
        Err(ModbusError::Exception {
            unit: 1,
            function: 0x03,
            code: ExceptionCode::IllegalDataAddress,
            ..
        }) => {}
        other => panic!("expected illegal data address, got {other:?}"),
    }
    match &results[1] {
        Err(ModbusError::Exception {
            unit: 2,
            function: 0x03,
            code: ExceptionCode::IllegalFunction,
            ..
        }) => {}
        other => panic!("expected illegal function, got {other:?}"),
    }
    assert!(results[2].is_ok(), "the connection survives exceptions");
    let c = poller.stats().snapshot();
    assert_eq!(
        (c.exceptions, c.retries, c.resets, c.failures),
        (2, 0, 0, 2)
    );
}

#[tokio::test]
async fn rtu_garbage_is_an_error_then_the_line_recovers() {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    let t = at(10, 0, 0);
    let sim = ModbusSim::new(fleet.clone(), units, TimeSource::Fixed(t)).unwrap();
    let faults = sim.faults();
    let (sim_end, host_end) = SerialStream::pair().expect("pty pair");
    tokio::spawn(Arc::new(sim).serve_rtu(sim_end));
    let mut poller = Poller::on_serial(
        &device(rtu_link(), &[(1, "A")], 300, 0),
        &models(),
        host_end,
    )
    .unwrap();
    let truth = fleet
        .register_at(fleet.districts()[0].bulk_meter, t)
        .unwrap();

    for round in 0..3 {
        faults.garble_next_rtu_replies(1);
        match poller.poll_unit(0).await {
            Err(ModbusError::Garbled { unit: 1, .. }) => {}
            other => panic!("round {round}: expected a garbled reply, got {other:?}"),
        }
        assert_eq!(
            poller.poll_unit(0).await.unwrap().volume,
            truth,
            "round {round}"
        );
    }
    let c = poller.stats().snapshot();
    assert_eq!((c.garbled, c.failures, c.samples), (3, 3, 3));
    assert!(c.resets >= 3);
}

#[tokio::test]
async fn rtu_garbled_reply_is_retried_into_a_sample() {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    let t = at(10, 0, 0);
    let sim = ModbusSim::new(fleet.clone(), units, TimeSource::Fixed(t)).unwrap();
    let faults = sim.faults();
    let (sim_end, host_end) = SerialStream::pair().expect("pty pair");
    tokio::spawn(Arc::new(sim).serve_rtu(sim_end));
    let mut poller = Poller::on_serial(
        &device(rtu_link(), &[(2, "B"), (3, "C")], 300, 2),
        &models(),
        host_end,
    )
    .unwrap();
    let truth = fleet
        .register_at(fleet.districts()[0].bulk_meter, t)
        .unwrap();
    faults.garble_next_rtu_replies(2);
    let results = poller.poll_once().await;
    assert_eq!(
        results[0].as_ref().unwrap().volume,
        expected(BulkModel::B, truth)
    );
    assert_eq!(
        results[1].as_ref().unwrap().volume,
        expected(BulkModel::C, truth)
    );
    let c = poller.stats().snapshot();
    assert_eq!((c.garbled, c.retries, c.failures), (2, 2, 0));
}

#[tokio::test]
async fn unreachable_endpoint_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let mut poller = Poller::new(
        &device(
            Link::Tcp {
                endpoint: addr.clone(),
            },
            &[(1, "A")],
            200,
            1,
        ),
        &models(),
    )
    .unwrap();
    match poller.poll_unit(0).await {
        Err(ModbusError::Connect { endpoint, .. }) => assert_eq!(endpoint, addr),
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert_eq!(poller.stats().snapshot().retries, 1);
}

#[tokio::test]
async fn rtu_noise_before_replies_never_gives_a_wrong_value() {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    let t = at(10, 0, 0);
    let sim = ModbusSim::new(fleet.clone(), units, TimeSource::Fixed(t)).unwrap();
    let faults = sim.faults();
    let (sim_end, host_end) = SerialStream::pair().expect("pty pair");
    tokio::spawn(Arc::new(sim).serve_rtu(sim_end));
    let mut poller = Poller::on_serial(
        &device(rtu_link(), &[(1, "A"), (2, "B"), (3, "C")], 300, 3),
        &models(),
        host_end,
    )
    .unwrap();
    let truth = fleet
        .register_at(fleet.districts()[0].bulk_meter, t)
        .unwrap();
    faults.noise_before_next_rtu_replies(6);
    // Noise may be skipped by the client's framing or cost a retry; a value, when there is
    // one, is always the right one, and with retries every poll gets one.
    for round in 0..3 {
        let results = poller.poll_once().await;
        for (r, model) in results
            .iter()
            .zip([BulkModel::A, BulkModel::B, BulkModel::C])
        {
            assert_eq!(
                r.as_ref().unwrap().volume,
                expected(model, truth),
                "round {round} {model:?}"
            );
        }
    }
    let c = poller.stats().snapshot();
    assert_eq!((c.samples, c.failures), (9, 0));
    assert_eq!(c.garbled, c.retries, "every garbled reply was retried");
}

#[tokio::test]
async fn run_all_polls_every_device_until_the_receiver_goes() {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    let t = at(10, 0, 0);
    let mut devices = Vec::new();
    for unit in [1u8, 12] {
        let sim = ModbusSim::new(fleet.clone(), units.clone(), TimeSource::Fixed(t)).unwrap();
        let (addr, _) = tcp_sim(sim).await;
        let model = if unit == 1 { "A" } else { "B" };
        devices.push(device(
            Link::Tcp { endpoint: addr },
            &[(unit, model)],
            1000,
            0,
        ));
    }
    let config = ewoda_collector::modbus::ModbusConfig {
        models: models(),
        devices,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let task = tokio::spawn(async move { ewoda_collector::modbus::run_all(&config, tx).await });
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let s = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("samples from both devices")
            .expect("open");
        let d = &fleet.districts()[usize::from(s.unit / 10)];
        let model = if s.unit == 1 {
            BulkModel::A
        } else {
            BulkModel::B
        };
        assert_eq!(
            s.volume,
            expected(model, fleet.register_at(d.bulk_meter, t).unwrap())
        );
        seen.insert(s.unit);
    }
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn each_device_exports_polls_failures_and_last_success() {
    let fleet = fleet();
    let units = bulk_units(&fleet);
    let sim = ModbusSim::new(fleet.clone(), units, TimeSource::Fixed(at(10, 0, 0))).unwrap();
    let (good, _) = tcp_sim(sim).await;
    // Nothing listens here: every poll of this device fails.
    let dead = format!("127.0.0.1:{}", ewoda_common::services::free_port().unwrap());
    let config = ewoda_collector::modbus::ModbusConfig {
        models: models(),
        devices: vec![
            device(
                Link::Tcp {
                    endpoint: good.clone(),
                },
                &[(1, "A")],
                200,
                0,
            ),
            device(
                Link::Tcp {
                    endpoint: dead.clone(),
                },
                &[(1, "A")],
                200,
                0,
            ),
        ],
    };
    let metrics = Arc::new(ewoda_collector::metrics::Metrics::default());
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let m = metrics.clone();
    let task = tokio::spawn(async move {
        ewoda_collector::modbus::run_all_counted(&config, tx, Some(&m)).await
    });
    for _ in 0..3 {
        let s = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("samples of the good device")
            .expect("open");
        assert_eq!(s.endpoint, good);
    }
    let text = metrics.render();
    let value = |name: &str, dev: &str| -> i64 {
        let prefix = format!("{name}{{device=\"{dev}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{prefix} missing in {text}"))
            .parse()
            .unwrap()
    };
    assert!(value("ewoda_modbus_polls_total", &good) >= 3, "{text}");
    assert_eq!(value("ewoda_modbus_poll_failures_total", &good), 0);
    assert!(value("ewoda_modbus_last_success_timestamp", &good) >= Utc::now().timestamp() - 60);
    assert!(
        value("ewoda_modbus_poll_failures_total", &dead) >= 1,
        "{text}"
    );
    assert_eq!(value("ewoda_modbus_last_success_timestamp", &dead), 0);
    drop(rx);
    task.abort();
}
