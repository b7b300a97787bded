//! MQTT telemetry devices against the real Mosquitto (MQTT_URL, default mqtt://127.0.0.1:1883):
//! every payload checked field by field against the fleet's truth and the documented schema
//! (docs/mqtt-telemetry.md), alarms raised and cleared at the fault's hours, nothing lost when
//! the connection drops mid-stream.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ewoda_sim::fault::{Fault, FaultKind};
use ewoda_sim::mqtt::{parse_url, Device, DeviceSelection, Message, Publisher};
use ewoda_sim::Fleet;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

fn broker_url() -> String {
    std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into())
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("ewoda-test-{tag}-{}-{nanos}", std::process::id())
}

/// A plain subscriber on `filter`; returns once the broker has confirmed the subscription.
async fn subscribe(url: &str, filter: &str) -> mpsc::UnboundedReceiver<(String, Value)> {
    let (host, port) = parse_url(url).expect("url");
    let mut opts = MqttOptions::new(unique("sub"), host, port);
    opts.set_keep_alive(std::time::Duration::from_secs(10));
    let (client, mut eventloop) = AsyncClient::new(opts, 100);
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let filter = filter.to_string();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let _client = client.clone();
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    client
                        .subscribe(filter.as_str(), QoS::AtLeastOnce)
                        .await
                        .expect("subscribe");
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let v: Value = serde_json::from_slice(&p.payload).expect("payload is JSON");
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
        .expect("subscription confirmed in time")
        .expect("subscriber running");
    rx
}

async fn receive(
    rx: &mut mpsc::UnboundedReceiver<(String, Value)>,
    n: usize,
) -> Vec<(String, Value)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} messages arrived", out.len()))
            .expect("subscriber running");
        out.push(m);
    }
    out
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect()
}

/// A decimal string as the schema allows for volume_m3: digits, optional `.` and ≤ 6 decimals.
fn is_schema_volume(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 6
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(s.contains('.') && frac.is_empty())
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

/// Checks one reading message against the fleet; returns (meter, read_at).
fn check_reading(fleet: &Fleet, topic: &str, v: &Value, prefix: &str) -> (usize, DateTime<Utc>) {
    assert_eq!(
        keys(v),
        ["flow_m3h", "read_at", "serial", "status", "volume_m3"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let serial = v["serial"].as_str().expect("serial is a string");
    assert_eq!(topic, format!("{prefix}/meters/{serial}/reading"));
    let meter = fleet.find_serial(serial).expect("a fleet serial");
    let read_at = DateTime::parse_from_rfc3339(v["read_at"].as_str().expect("read_at string"))
        .expect("read_at is RFC 3339 with an offset")
        .with_timezone(&Utc);
    let volume = v["volume_m3"].as_str().expect("volume_m3 is a string");
    assert!(is_schema_volume(volume), "volume_m3 {volume:?}");
    assert_eq!(
        volume,
        fleet.register_at(meter, read_at).unwrap().m3().to_string()
    );
    let hour = fleet.epoch() + Duration::hours(fleet.hour_of(read_at));
    let flow = fleet
        .registered_use(meter, hour, hour + Duration::hours(1))
        .unwrap();
    assert_eq!(v["flow_m3h"].as_str(), Some(flow.m3().to_string().as_str()));
    let s = fleet.status_at(meter, read_at).unwrap();
    let expected: BTreeMap<String, Value> = [
        ("leak", s.leak),
        ("burst", s.burst),
        ("backflow", s.backflow),
        ("tamper", s.tamper),
        ("dry", s.dry),
        ("battery_low", s.battery_low),
    ]
    .into_iter()
    .map(|(k, b)| (k.to_string(), Value::Bool(b)))
    .collect();
    let got: BTreeMap<String, Value> = v["status"]
        .as_object()
        .expect("status object")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(got, expected, "status of meter {meter} at {read_at}");
    (meter, read_at)
}

fn faulty_fleet() -> Fleet {
    let mut fleet = Fleet::generate_at(23, 30, start());
    fleet
        .inject(
            3,
            Fault::new(
                FaultKind::Leak {
                    litres_per_hour: 12,
                },
                start() + Duration::hours(2),
            )
            .until(start() + Duration::hours(5)),
        )
        .unwrap();
    fleet
        .inject(4, Fault::new(FaultKind::LowBattery, start()))
        .unwrap();
    fleet
}

#[test]
fn devices_raise_and_clear_alarms_at_the_fault_hours() {
    let fleet = faulty_fleet();
    let mut dev3 = Device::new(3);
    let mut dev4 = Device::new(4);
    let mut alarms: Vec<(usize, Value)> = Vec::new();
    for k in 0..=16 {
        let t = start() + Duration::minutes(30 * k);
        for (meter, dev) in [(3, &mut dev3), (4, &mut dev4)] {
            let msgs = dev.report(&fleet, "p/v1", t).unwrap();
            let (last, rest) = msgs.split_last().unwrap();
            assert!(last.topic.ends_with("/reading"));
            for m in rest {
                assert!(m.topic.ends_with("/alarm"), "{}", m.topic);
                alarms.push((meter, serde_json::from_str(&m.payload).unwrap()));
            }
        }
    }
    let serial3 = fleet.meter(3).unwrap().serial().to_string();
    let serial4 = fleet.meter(4).unwrap().serial().to_string();
    let expected = vec![
        (
            4,
            serde_json::json!({"serial": serial4, "kind": "battery_low", "active": true,
                               "at": "2026-03-02T00:00:00Z"}),
        ),
        (
            3,
            serde_json::json!({"serial": serial3, "kind": "leak", "active": true,
                               "at": "2026-03-02T02:00:00Z"}),
        ),
        (
            3,
            serde_json::json!({"serial": serial3, "kind": "leak", "active": false,
                               "at": "2026-03-02T05:00:00Z"}),
        ),
    ];
    assert_eq!(alarms, expected);
}

#[test]
fn device_selection_parses_and_selects_customer_meters_only() {
    let fleet = Fleet::generate(5, 800);
    let bulk: BTreeSet<usize> = fleet.districts().iter().map(|d| d.bulk_meter).collect();
    let all = DeviceSelection::parse("all")
        .unwrap()
        .select(&fleet)
        .unwrap();
    assert_eq!(all.len(), fleet.len() - bulk.len());
    assert!(all.iter().all(|m| !bulk.contains(m)));
    let some = DeviceSelection::parse("permille:100")
        .unwrap()
        .select(&fleet)
        .unwrap();
    assert!((40..=120).contains(&some.len()), "{}", some.len());
    assert_eq!(
        some,
        DeviceSelection::PerMille(100).select(&fleet).unwrap(),
        "deterministic"
    );
    let d0 = DeviceSelection::parse("district:0")
        .unwrap()
        .select(&fleet)
        .unwrap();
    assert!(d0
        .iter()
        .all(|&m| fleet.meter(m).unwrap().district() == 0 && !bulk.contains(&m)));
    assert_eq!(
        DeviceSelection::parse("meters:7,2,7").unwrap(),
        DeviceSelection::Meters(vec![7, 2, 7])
    );
    assert_eq!(
        DeviceSelection::Meters(vec![7, 2, 7])
            .select(&fleet)
            .unwrap(),
        vec![2, 7]
    );
    let b = *bulk.iter().next().unwrap();
    assert!(DeviceSelection::Meters(vec![b]).select(&fleet).is_err());
    for bad in ["", "some", "permille:1001", "district:x", "meters:1,,2"] {
        let e = DeviceSelection::parse(bad).unwrap_err().to_string();
        assert!(e.contains("mqtt devices"), "{bad}: {e}");
    }
    assert!(DeviceSelection::District(99).select(&fleet).is_err());
}

#[test]
fn broker_urls() {
    assert_eq!(
        parse_url("mqtt://127.0.0.1:1883").unwrap(),
        ("127.0.0.1".to_string(), 1883)
    );
    assert_eq!(
        parse_url("tcp://broker/").unwrap(),
        ("broker".to_string(), 1883)
    );
    for bad in [
        "http://x:1",
        "mqtt://:1883",
        "mqtt://x:99999",
        "mqtt://u@x:1",
    ] {
        assert!(parse_url(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn readings_and_alarms_arrive_on_the_broker_as_documented() {
    let url = broker_url();
    let prefix = format!("{}/v1", unique("dev"));
    let mut rx = subscribe(&url, &format!("{prefix}/meters/+/+")).await;
    let fleet = faulty_fleet();
    let mut publisher = Publisher::connect(&url, &unique("pub")).await.unwrap();
    let mut devices: Vec<Device> = [3, 4, 5, 6].into_iter().map(Device::new).collect();
    let mut sent: Vec<Message> = Vec::new();
    for k in 0..=16 {
        let t = start() + Duration::minutes(30 * k) + Duration::seconds(7);
        let mut batch = Vec::new();
        for d in &mut devices {
            batch.extend(d.report(&fleet, &prefix, t).unwrap());
        }
        publisher.publish_all(&batch).await.unwrap();
        sent.extend(batch);
    }
    let stats = publisher.close().await;
    // 4 devices × 17 reports, plus battery raised, leak raised and cleared.
    assert_eq!(sent.len(), 4 * 17 + 3);
    assert_eq!(stats.published, sent.len() as u64);
    assert_eq!(stats.acked, sent.len() as u64);
    assert_eq!(stats.republished, 0);

    let got = receive(&mut rx, sent.len()).await;
    let mut readings = BTreeSet::new();
    let mut alarms = Vec::new();
    for (topic, v) in &got {
        if topic.ends_with("/reading") {
            readings.insert(check_reading(&fleet, topic, v, &prefix));
        } else {
            assert_eq!(
                keys(v),
                ["active", "at", "kind", "serial"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            );
            let serial = v["serial"].as_str().unwrap();
            assert_eq!(topic, &format!("{prefix}/meters/{serial}/alarm"));
            alarms.push((
                fleet.find_serial(serial).unwrap(),
                v["kind"].as_str().unwrap().to_string(),
                v["active"].as_bool().unwrap(),
                v["at"].as_str().unwrap().to_string(),
            ));
        }
    }
    let expected_readings: BTreeSet<(usize, DateTime<Utc>)> = (0..=16)
        .flat_map(|k| {
            [3, 4, 5, 6].map(|m| {
                (
                    m,
                    start() + Duration::minutes(30 * k) + Duration::seconds(7),
                )
            })
        })
        .collect();
    assert_eq!(readings, expected_readings);
    alarms.sort();
    assert_eq!(
        alarms,
        vec![
            (3, "leak".into(), false, "2026-03-02T05:00:00Z".into()),
            (3, "leak".into(), true, "2026-03-02T02:00:00Z".into()),
            (4, "battery_low".into(), true, "2026-03-02T00:00:07Z".into()),
        ]
    );
}

/// A TCP relay to the broker whose connections can be cut.
async fn relay(upstream: (String, u16), cut: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut down, _)) = listener.accept().await else {
                return;
            };
            let cut = cut.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut up) = TcpStream::connect(upstream).await else {
                    return;
                };
                let copy = tokio::io::copy_bidirectional(&mut down, &mut up);
                let watch = async {
                    while !cut.load(Ordering::SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                };
                tokio::select! {
                    _ = copy => {}
                    _ = watch => {
                        let _ = down.shutdown().await;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn nothing_is_lost_when_the_connection_drops_mid_stream() {
    let url = broker_url();
    let prefix = format!("{}/v1", unique("drop"));
    let mut rx = subscribe(&url, &format!("{prefix}/meters/+/+")).await;
    let cut = Arc::new(AtomicBool::new(false));
    let port = relay(parse_url(&url).unwrap(), cut.clone()).await;
    let fleet = Arc::new(Fleet::generate_at(29, 60, start()));
    let mut publisher = Publisher::connect(&format!("mqtt://127.0.0.1:{port}"), &unique("pub"))
        .await
        .unwrap();
    let messages: Vec<Message> = (0..1500)
        .map(|k| {
            let m = (k % 50) as usize;
            let t = start() + Duration::minutes(k);
            ewoda_sim::mqtt::reading_message(&fleet, &prefix, m, t).unwrap()
        })
        .collect();
    let all = messages.clone();
    let publishing = tokio::spawn(async move {
        publisher.publish_all(&all).await.unwrap();
        publisher.close().await
    });
    // Cut the connection once part of the stream is through, then let it reconnect.
    let first = receive(&mut rx, 300).await;
    cut.store(true, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    cut.store(false, Ordering::SeqCst);
    let stats = tokio::time::timeout(std::time::Duration::from_secs(30), publishing)
        .await
        .expect("publishing finishes after the reconnect")
        .unwrap();
    assert!(stats.connects >= 2, "{stats:?}");
    assert_eq!(stats.published, 1500);
    let mut got: BTreeSet<String> = first.into_iter().map(|(t, v)| format!("{t} {v}")).collect();
    // At least once: duplicates may come, every message must.
    let expected: BTreeSet<String> = messages
        .iter()
        .map(|m| {
            let v: Value = serde_json::from_str(&m.payload).unwrap();
            format!("{} {v}", m.topic)
        })
        .collect();
    while got.len() < expected.len() {
        let (t, v) = receive(&mut rx, 1).await.remove(0);
        got.insert(format!("{t} {v}"));
    }
    assert_eq!(got, expected);
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    pause: Option<Arc<AtomicBool>>,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while pause.as_ref().is_some_and(|p| p.load(Ordering::SeqCst)) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A TCP relay to the broker that can hold the broker's packets (`pause`) and cut every
/// connection (`cut`, dropping what it holds).
async fn pausing_relay(
    upstream: (String, u16),
    cut: Arc<AtomicBool>,
    pause: Arc<AtomicBool>,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((down, _)) = listener.accept().await else {
                return;
            };
            let (cut, pause, upstream) = (cut.clone(), pause.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(up) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (ur, uw) = up.into_split();
                let (dr, dw) = down.into_split();
                let watch = async {
                    while !cut.load(Ordering::SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                };
                tokio::select! {
                    _ = pump(dr, uw, None) => {}
                    _ = pump(ur, dw, Some(pause)) => {}
                    _ = watch => {}
                }
            });
        }
    });
    port
}

/// Takes a client's session over with a clean session, which kicks the client off and makes
/// the broker forget its session (and every message in flight on it).
async fn steal_session(url: &str, client_id: &str) {
    let (host, port) = parse_url(url).unwrap();
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    loop {
        match eventloop.poll().await.expect("thief connects") {
            Event::Incoming(Packet::ConnAck(_)) => break,
            _ => continue,
        }
    }
    client.disconnect().await.unwrap();
    while eventloop.poll().await.is_ok() {}
}

#[tokio::test]
async fn a_lost_session_is_published_again() {
    let url = broker_url();
    let prefix = format!("{}/v1", unique("lost"));
    let mut rx = subscribe(&url, &format!("{prefix}/meters/+/+")).await;
    let fleet = Arc::new(Fleet::generate_at(31, 60, start()));
    let client_id = unique("pub");
    let (cut, pause) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let port = pausing_relay(parse_url(&url).unwrap(), cut.clone(), pause.clone()).await;
    let mut publisher = Publisher::connect(&format!("mqtt://127.0.0.1:{port}"), &client_id)
        .await
        .unwrap();
    let messages: Vec<Message> = (0..4000)
        .map(|k| {
            let t = start() + Duration::minutes(k);
            ewoda_sim::mqtt::reading_message(&fleet, &prefix, (k % 50) as usize, t).unwrap()
        })
        .collect();
    let all = messages.clone();
    let publishing = tokio::spawn(async move {
        publisher.publish_all(&all).await.unwrap();
        publisher.close().await
    });
    // Hold the broker's PUBACKs so a window is surely in flight, take the session away, drop
    // the held PUBACKs with the connection, then let the publisher reconnect.
    let first = receive(&mut rx, 500).await;
    pause.store(true, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    steal_session(&url, &client_id).await;
    cut.store(true, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    pause.store(false, Ordering::SeqCst);
    cut.store(false, Ordering::SeqCst);
    let stats = tokio::time::timeout(std::time::Duration::from_secs(30), publishing)
        .await
        .expect("publishing finishes after the session loss")
        .unwrap();
    assert!(stats.connects >= 2, "{stats:?}");
    assert!(stats.republished > 0, "{stats:?}");
    assert_eq!(stats.published, 4000);
    let mut got: BTreeSet<String> = first.into_iter().map(|(t, v)| format!("{t} {v}")).collect();
    let expected: BTreeSet<String> = messages
        .iter()
        .map(|m| {
            let v: Value = serde_json::from_str(&m.payload).unwrap();
            format!("{} {v}", m.topic)
        })
        .collect();
    while got.len() < expected.len() {
        let (t, v) = receive(&mut rx, 1).await.remove(0);
        got.insert(format!("{t} {v}"));
    }
    assert_eq!(got, expected);
}
