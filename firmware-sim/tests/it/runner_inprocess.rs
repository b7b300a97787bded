//! The runner in one process for a few seconds at high speed, checked from the collector's
//! side with this file's own small parsers: iM871A frames on the dongle pty, M-Bus and Modbus
//! answers, MQTT messages on the real broker, the reading-set files and the truth file, all
//! against the fleet's truth.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use ewoda_sim::fault::{Fault, FaultKind};
use ewoda_sim::fleet::local_to_utc;
use ewoda_sim::mqtt::{parse_url, DeviceSelection};
use ewoda_sim::runner::{self, ExportConfig, ExportFormat, MqttConfig, SimConfig};
use ewoda_sim::Fleet;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_serial::SerialStream;

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("ewoda-test-{tag}-{}-{nanos}", std::process::id())
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

/// CRC-16/X-25 bit by bit from its definition (MSB-first over reflected bytes).
fn x25(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b.reverse_bits()) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    !crc.reverse_bits()
}

/// CRC-16/MODBUS (reflected 0x8005, init 0xFFFF).
fn crc_modbus(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// One `WMBUSGW_RX_MESSAGE_IND` as this test reads it.
#[derive(Debug)]
struct Rx {
    payload: Vec<u8>,
    timestamp: u32,
}

/// Splits a byte stream into iM871A messages, asserting each is well formed.
fn split_hci(mut buf: &[u8]) -> Vec<Rx> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        assert_eq!(buf[0], 0xA5, "start of frame");
        assert_eq!(buf[1], 0xE2, "CRC + RSSI + timestamp, radio link endpoint");
        assert_eq!(buf[2], 0x03, "RX message indication");
        let len = usize::from(buf[3]);
        let total = 4 + len + 4 + 1 + 2;
        assert!(buf.len() >= total, "a whole message");
        let m = &buf[..total];
        let crc = u16::from_le_bytes([m[total - 2], m[total - 1]]);
        assert_eq!(crc, x25(&m[1..total - 2]), "HCI CRC");
        out.push(Rx {
            payload: m[4..4 + len].to_vec(),
            timestamp: u32::from_le_bytes([m[4 + len], m[5 + len], m[6 + len], m[7 + len]]),
        });
        buf = &buf[total..];
    }
    out
}

fn manufacturer(code: u16) -> String {
    [(code >> 10) & 0x1F, (code >> 5) & 0x1F, code & 0x1F]
        .iter()
        .map(|&c| char::from(b'@' + c as u8))
        .collect()
}

fn bcd_id(bytes: &[u8]) -> String {
    bytes.iter().rev().map(|b| format!("{b:02x}")).collect()
}

/// Reads what arrives until `stop` fires, then until the sim closes the other end.
async fn drain(mut host: SerialStream, mut stop: tokio::sync::oneshot::Receiver<()>) -> Vec<u8> {
    let mut all = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut stopping = false;
    loop {
        let read = if stopping {
            match tokio::time::timeout(std::time::Duration::from_millis(300), host.read(&mut chunk))
                .await
            {
                Ok(r) => r,
                Err(_) => return all,
            }
        } else {
            tokio::select! {
                r = host.read(&mut chunk) => r,
                _ = &mut stop => { stopping = true; continue; }
            }
        };
        match read {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn subscribe(url: &str, filter: &str) -> mpsc::UnboundedReceiver<(String, Value)> {
    let (host, port) = parse_url(url).expect("url");
    let (client, mut eventloop) =
        AsyncClient::new(MqttOptions::new(unique("sub"), host, port), 100);
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let filter = filter.to_string();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => client
                    .subscribe(filter.as_str(), QoS::AtLeastOnce)
                    .await
                    .expect("subscribe"),
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let v = serde_json::from_slice(&p.payload).expect("JSON payload");
                    if tx.send((p.topic.clone(), v)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("subscriber lost the broker: {e}"),
            }
        }
    });
    tokio::time::timeout(std::time::Duration::from_secs(10), ready_rx)
        .await
        .expect("subscribed in time")
        .expect("subscriber running");
    rx
}

async fn modbus_tcp_total_litres(addr: std::net::SocketAddr) -> u32 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0x00, 0x2A, 0, 0, 0, 6, 1, 0x03, 0x00, 0x00, 0x00, 0x04])
        .await
        .unwrap();
    let mut reply = [0u8; 9 + 8];
    tokio::time::timeout(std::time::Duration::from_secs(5), s.read_exact(&mut reply))
        .await
        .expect("modbus tcp answers")
        .unwrap();
    assert_eq!(&reply[..9], &[0x00, 0x2A, 0, 0, 0, 11, 1, 0x03, 8]);
    u32::from_be_bytes([reply[9], reply[10], reply[11], reply[12]])
}

fn config(prefix: &str, dir: &std::path::Path, mqtt_meters: Vec<usize>) -> SimConfig {
    let url = std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    SimConfig {
        seed: 41,
        meters: 40,
        start: start(),
        resume_at: None,
        speed: 7200,
        dongle: true,
        dongle_rate: 400,
        walkby: true,
        walk_every: Duration::hours(2),
        walk_seconds_per_meter: 20,
        mbus_slaves: 3,
        modbus_tcp: Some("127.0.0.1:0".parse().unwrap()),
        modbus_rtu: true,
        mqtt: Some(MqttConfig {
            url,
            client_id: unique("simpub"),
            topic_prefix: prefix.to_string(),
            devices: DeviceSelection::Meters(mqtt_meters),
            interval: Duration::minutes(15),
            credentials: None,
        }),
        export: Some(ExportConfig {
            dir: dir.join("export"),
            format: ExportFormat::Txt,
        }),
        faults_per_mille: 0,
        fault_window: Duration::days(1),
        faults: vec![(
            2,
            Fault::new(
                FaultKind::Leak {
                    litres_per_hour: 40,
                },
                start() + Duration::hours(1),
            )
            .until(start() + Duration::hours(3)),
        )],
        truth: Some(dir.join("truth.jsonl")),
        duration: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_seconds_of_the_whole_sim_match_the_truth() {
    let dir = std::env::temp_dir().join(unique("runner"));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("{}/v1", unique("run"));
    let url = std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let mut rx = subscribe(&url, &format!("{prefix}/meters/+/+")).await;
    let cfg = config(&prefix, &dir, vec![2, 5, 9]);
    let (sim, endpoints) = runner::start(cfg).await.unwrap();
    let fleet: std::sync::Arc<Fleet> = sim.fleet().clone();
    let layout = sim.layout().clone();
    assert_eq!(layout.mqtt, vec![2, 5, 9]);
    assert_eq!(layout.mbus.len(), 3);
    assert_eq!(layout.modbus.len(), 1);
    assert!(layout.radio.iter().all(|m| ![2, 5, 9].contains(m)));

    let (stop_dongle, stop_rx) = tokio::sync::oneshot::channel();
    let dongle_bytes = tokio::spawn(drain(endpoints.dongle.unwrap(), stop_rx));
    let (stop_walk, stop_rx) = tokio::sync::oneshot::channel();
    let walk_bytes = tokio::spawn(drain(endpoints.walkby.unwrap(), stop_rx));

    // Modbus TCP: unit 1 (model A) shows the district bulk meter's register, in litres.
    let bulk = fleet.districts()[0].bulk_meter;
    let before = sim.clock().now();
    let litres = modbus_tcp_total_litres(endpoints.modbus_tcp.unwrap()).await;
    let after = sim.clock().now();
    let low = fleet.register_at(bulk, before).unwrap().ml() / 1000;
    let high = fleet.register_at(bulk, after).unwrap().ml() / 1000;
    assert!(
        (low..=high).contains(&i64::from(litres)),
        "{low} <= {litres} <= {high}"
    );

    // Wired M-Bus: REQ_UD2 to address 1 → RSP_UD of the first slave.
    let mut mbus = endpoints.mbus.unwrap();
    mbus.write_all(&[0x10, 0x5B, 0x01, 0x5C, 0x16])
        .await
        .unwrap();
    let mut head = [0u8; 4];
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        mbus.read_exact(&mut head),
    )
    .await
    .expect("m-bus answers")
    .unwrap();
    assert_eq!((head[0], head[3], head[1]), (0x68, 0x68, head[2]));
    let mut rest = vec![0u8; usize::from(head[1]) + 2];
    mbus.read_exact(&mut rest).await.unwrap();
    let l = usize::from(head[1]);
    assert_eq!((rest[0], rest[1], rest[2]), (0x08, 0x01, 0x72));
    assert_eq!(
        rest[l],
        rest[..l].iter().fold(0u8, |a, b| a.wrapping_add(*b))
    );
    assert_eq!(rest[l + 1], 0x16);
    let slave = fleet.meter(layout.mbus[0].meter).unwrap();
    assert_eq!(bcd_id(&rest[3..7]), slave.address().id.to_string());

    // Modbus RTU: unit 1, the same four holding registers.
    let mut rtu = endpoints.modbus_rtu.unwrap();
    let mut req = vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x04];
    req.extend_from_slice(&crc_modbus(&req).to_le_bytes());
    rtu.write_all(&req).await.unwrap();
    let mut reply = [0u8; 3 + 8 + 2];
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        rtu.read_exact(&mut reply),
    )
    .await
    .expect("modbus rtu answers")
    .unwrap();
    assert_eq!(&reply[..3], &[0x01, 0x03, 0x08]);
    assert_eq!(
        u16::from_le_bytes([reply[11], reply[12]]),
        crc_modbus(&reply[..11])
    );

    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    let report = sim.stop().await.unwrap();
    let _ = stop_dongle.send(());
    let _ = stop_walk.send(());
    assert_eq!(report.start, start());
    assert!(report.end >= start() + Duration::hours(5), "{}", report.end);

    // The dongle delivered well-formed telegrams of radio meters, each as at its instant.
    let by_id: BTreeMap<String, usize> = fleet
        .meters()
        .iter()
        .map(|m| (m.address().id.to_string(), m.index()))
        .collect();
    let frames = split_hci(&dongle_bytes.await.unwrap());
    eprintln!(
        "frames {} report {:?} first {:?} last {:?}",
        frames.len(),
        report,
        frames.first().map(|f| f.timestamp),
        frames.last().map(|f| f.timestamp)
    );
    assert_eq!(frames.len() as u64, report.telegrams);
    assert!(report.telegrams > 100, "{report:?}");
    assert_eq!(report.telegrams_dropped, 0);
    let mut heard = BTreeSet::new();
    for f in &frames {
        let p = &f.payload;
        assert_eq!(p[0], 0x44, "SND_NR");
        let meter = by_id[&bcd_id(&p[3..7])];
        assert!(layout.radio.contains(&meter));
        let m = fleet.meter(meter).unwrap();
        assert_eq!(
            manufacturer(u16::from_le_bytes([p[1], p[2]])),
            m.address().manufacturer.to_string()
        );
        assert_eq!((p[8], p[9]), (0x07, 0x7A), "water meter, short header");
        let at = DateTime::from_timestamp(i64::from(f.timestamp), 0).unwrap();
        assert!(at >= report.start && at <= report.end);
        assert_eq!(
            p[11],
            fleet.status_at(meter, at).unwrap().status_byte(),
            "status byte"
        );
        heard.insert(meter);
    }
    assert_eq!(heard.len(), layout.radio.len(), "every radio meter heard");

    // Walk-by: each route meter twice, in route order.
    let walk = split_hci(&walk_bytes.await.unwrap());
    assert_eq!(walk.len() as u64, report.walkby_telegrams);
    let route = &layout.routes[0];
    assert!(walk.len() >= 2 * route.len());
    let walked: Vec<usize> = walk
        .iter()
        .take(2 * route.len())
        .map(|f| by_id[&bcd_id(&f.payload[3..7])])
        .collect();
    let expected: Vec<usize> = route.iter().flat_map(|&m| [m, m]).collect();
    assert_eq!(walked, expected);

    // Reading-set files: one per walk, each line the meter's display at its walk time.
    assert!(report.export_files.len() >= 2, "{report:?}");
    for (i, path) in report.export_files.iter().enumerate() {
        let walk_start = start() + Duration::hours(2 * (i as i64 + 1));
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), route.len());
        assert!(!text.replace("\r\n", "").contains('\n'));
        for (k, line) in lines.iter().enumerate() {
            let f: Vec<&str> = line.split(';').collect();
            assert_eq!(f.len(), 4, "{line}");
            let meter = route[k];
            let t = walk_start + Duration::seconds(20 * k as i64);
            assert_eq!(f[0], fleet.generation_at(meter, t).unwrap().serial);
            let local = NaiveDateTime::parse_from_str(f[1], "%Y-%m-%d %H:%M:%S").unwrap();
            assert_eq!(local_to_utc(local), Some(t));
            let litres = fleet.register_at(meter, t).unwrap().ml().div_euclid(1000);
            assert_eq!(f[2], format!("{},{:03}", litres / 1000, litres % 1000));
            let leak = fleet.status_at(meter, t).unwrap().leak;
            assert_eq!(f[3], if leak { "TAK" } else { "NIE" });
        }
    }

    // MQTT: every published message arrived, readings equal the fleet's registers.
    assert!(report.mqtt.published > 0);
    assert_eq!(report.mqtt.acked, report.mqtt.published);
    let mut got = Vec::new();
    while (got.len() as u64) < report.mqtt.published {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("all MQTT messages arrive")
            .unwrap();
        got.push(m);
    }
    let mut readings_per_meter: BTreeMap<usize, usize> = BTreeMap::new();
    let mut alarms = Vec::new();
    for (topic, v) in &got {
        let serial = v["serial"].as_str().unwrap();
        let meter = fleet.find_serial(serial).unwrap();
        if topic == &format!("{prefix}/meters/{serial}/reading") {
            let t = DateTime::parse_from_rfc3339(v["read_at"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc);
            assert!(t >= report.start && t <= report.end);
            assert_eq!(
                v["volume_m3"].as_str().unwrap(),
                fleet.register_at(meter, t).unwrap().m3().to_string()
            );
            assert_eq!(
                v["status"]["leak"].as_bool(),
                Some(fleet.status_at(meter, t).unwrap().leak)
            );
            *readings_per_meter.entry(meter).or_default() += 1;
        } else {
            assert_eq!(topic, &format!("{prefix}/meters/{serial}/alarm"));
            alarms.push((
                meter,
                v["kind"].as_str().unwrap().to_string(),
                v["active"].as_bool().unwrap(),
                v["at"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert_eq!(
        alarms,
        vec![
            (2, "leak".into(), true, "2026-03-02T01:00:00Z".into()),
            (2, "leak".into(), false, "2026-03-02T03:00:00Z".into()),
        ]
    );
    // Every 15 simulated minutes from the start, staggered by device.
    let quarters = (report.end - start()).num_minutes() / 15;
    for m in [2, 5, 9] {
        let n = readings_per_meter[&m] as i64;
        assert!(
            (quarters - 1..=quarters + 1).contains(&n),
            "{m}: {n} of {quarters}"
        );
    }

    // Truth: one line per meter, consistent with the fleet at the end.
    let truth = std::fs::read_to_string(report.truth.as_ref().unwrap()).unwrap();
    let rows: Vec<Value> = truth
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), fleet.len());
    let to = report
        .end
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["meter"], i);
        assert_eq!(row["to"], to.as_str());
        assert_eq!(row["from"], "2026-03-02T00:00:00Z");
        assert_eq!(
            row["end_register_ml"],
            fleet.register_at(i, report.end).unwrap().ml()
        );
        assert_eq!(
            row["true_ml"],
            fleet.true_use(i, report.start, report.end).unwrap().ml()
        );
        assert_eq!(
            row["end_register_m3"].as_str().unwrap(),
            fleet.register_at(i, report.end).unwrap().m3().to_string()
        );
    }
    assert_eq!(rows[2]["faults"][0]["kind"], "leak");
    assert_eq!(rows[2]["faults"][0]["litres_per_hour"], 40);
    let _ = std::fs::remove_dir_all(&dir);
    let _: PathBuf = dir;
}
