//! The MQTT telemetry source (schema in docs/mqtt-telemetry.md): MQTT 5, QoS 1, a session that
//! never expires under a fixed client id, a `$share/<group>/` subscription renewed on every
//! connect, and a manual PUBACK sent only after the batch holding the message committed. The
//! client's Receive Maximum sets how many unacknowledged messages the broker may hand it at
//! once, so one connection feeds whole batches. Unusable messages become dead letters (and are
//! acked: they will never become valid).

use crate::alarms::AlarmKind;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::pipeline::{
    Ack, AlarmEvent, DeadLetter, Input, Item, MeterReading, MeterRef, StatusFlag,
};
use crate::store::Source;
use chrono::{DateTime, Utc};
use ewoda_common::Volume;
use rumqttc::v5::mqttbytes::v5::{Packet, SubscribeReasonCode};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// One MQTT subscription of a collector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSourceConfig {
    /// Topic filter without the share prefix.
    #[serde(default = "default_filter")]
    pub topic_filter: String,
    /// Fixed per collector instance: the broker keeps its session (and unacked messages).
    pub client_id: String,
    /// Shared-subscription group (`$share/<group>/<filter>`); none subscribes directly.
    #[serde(default = "default_group")]
    pub share_group: Option<String>,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_secs: u64,
    /// MQTT 5 Receive Maximum: messages the broker may deliver before the first is acked (it
    /// replaces Mosquitto's `max_inflight_messages` for this client). A commit acks up to this
    /// many messages of the connection at once.
    #[serde(default = "default_receive_maximum")]
    pub receive_maximum: u16,
}

fn default_filter() -> String {
    "ewoda/v1/meters/+/+".into()
}

fn default_group() -> Option<String> {
    Some("collectors".into())
}

fn default_keep_alive() -> u64 {
    30
}

fn default_receive_maximum() -> u16 {
    1000
}

impl MqttSourceConfig {
    /// A config with the defaults for `client_id`.
    pub fn new(client_id: impl Into<String>) -> Self {
        MqttSourceConfig {
            topic_filter: default_filter(),
            client_id: client_id.into(),
            share_group: default_group(),
            keep_alive_secs: default_keep_alive(),
            receive_maximum: default_receive_maximum(),
        }
    }

    /// The filter actually subscribed.
    pub fn subscription(&self) -> String {
        match &self.share_group {
            Some(g) => format!("$share/{g}/{}", self.topic_filter),
            None => self.topic_filter.clone(),
        }
    }
}

/// Host and port of an `mqtt://host:port` (or `tcp://`) URL; port 1883 by default.
pub fn parse_mqtt_url(url: &str) -> Result<(String, u16), Error> {
    let bad = |m: &str| Error::Config {
        field: "mqtt.url".into(),
        message: format!("{url:?}: {m}"),
    };
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| bad("expected mqtt://host:port"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("invalid port"))?),
        None => (rest, 1883),
    };
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    Ok((host.to_string(), port))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingMsg {
    serial: String,
    read_at: DateTime<chrono::FixedOffset>,
    volume_m3: String,
    #[serde(default)]
    flow_m3h: Option<String>,
    #[serde(default)]
    status: BTreeMap<AlarmKind, bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlarmMsg {
    serial: String,
    kind: AlarmKind,
    active: bool,
    at: DateTime<chrono::FixedOffset>,
    #[serde(default)]
    details: serde_json::Value,
}

fn json<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, String> {
    // The plain parser first; the path-tracking one (same outcome, slower) names what failed.
    if let Ok(v) = T::deserialize(&mut serde_json::Deserializer::from_slice(payload)) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(payload);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path == "?" {
            format!("invalid JSON: {}", e.inner())
        } else {
            format!("invalid JSON at {path}: {}", e.inner())
        }
    })
}

fn decimal(field: &str, s: &str) -> Result<Decimal, String> {
    s.parse::<Decimal>()
        .map_err(|_| format!("{field} {s:?} is not a decimal number"))
}

/// Turns one MQTT message into a pipeline item; anything unusable becomes a dead letter
/// naming the reason.
pub fn parse_message(topic: &str, payload: &[u8]) -> Item {
    match parse_inner(topic, payload) {
        Ok(item) => item,
        Err((class, reason)) => Item::DeadLetter(DeadLetter {
            source: Source::Mqtt,
            payload: payload.to_vec(),
            class,
            reason: format!("topic {topic}: {reason}"),
        }),
    }
}

fn parse_inner(topic: &str, payload: &[u8]) -> Result<Item, (&'static str, String)> {
    let parts: Vec<&str> = topic.split('/').collect();
    let [.., meters, serial, kind] = parts.as_slice() else {
        return Err((
            "bad_topic",
            "expected …/meters/<serial>/reading|alarm".into(),
        ));
    };
    if *meters != "meters" || serial.is_empty() {
        return Err((
            "bad_topic",
            "expected …/meters/<serial>/reading|alarm".into(),
        ));
    }
    let mismatch = |p: &str| {
        (
            "malformed",
            format!("payload serial {p:?} differs from the topic's {serial:?}"),
        )
    };
    match *kind {
        "reading" => {
            let m: ReadingMsg = json(payload).map_err(|e| ("malformed", e))?;
            if m.serial != *serial {
                return Err(mismatch(&m.serial));
            }
            let v = decimal("volume_m3", &m.volume_m3).map_err(|e| ("malformed", e))?;
            if v.is_sign_negative() {
                return Err((
                    "malformed",
                    format!("volume_m3 {:?} is negative", m.volume_m3),
                ));
            }
            let volume = Volume::from_m3(v).ok_or_else(|| {
                (
                    "malformed",
                    format!(
                        "volume_m3 {:?} has more than 6 decimals or is too large",
                        m.volume_m3
                    ),
                )
            })?;
            if let Some(f) = &m.flow_m3h {
                decimal("flow_m3h", f).map_err(|e| ("malformed", e))?;
            }
            Ok(Item::Reading(MeterReading {
                meter: MeterRef::Serial(m.serial),
                read_at: m.read_at.with_timezone(&Utc),
                volume,
                status: m
                    .status
                    .into_iter()
                    .map(|(kind, active)| StatusFlag { kind, active })
                    .collect(),
                source: Source::Mqtt,
            }))
        }
        "alarm" => {
            let m: AlarmMsg = json(payload).map_err(|e| ("malformed", e))?;
            if m.serial != *serial {
                return Err(mismatch(&m.serial));
            }
            let details = match m.details {
                serde_json::Value::Null => serde_json::json!({}),
                d @ serde_json::Value::Object(_) => d,
                other => serde_json::json!({ "details": other }),
            };
            Ok(Item::Alarm(AlarmEvent {
                meter: MeterRef::Serial(m.serial),
                kind: m.kind,
                active: m.active,
                at: m.at.with_timezone(&Utc),
                details,
                source: Source::Mqtt,
            }))
        }
        other => Err((
            "bad_topic",
            format!("unknown message type {other:?} (reading or alarm)"),
        )),
    }
}

/// Runs one MQTT subscription until `shutdown` turns true: forwards messages to `sink` with
/// an ack that sends the PUBACK after commit. On shutdown it stops forwarding (later messages
/// stay with the broker), waits up to `drain` for outstanding acks and disconnects.
pub async fn run(
    url: String,
    cfg: MqttSourceConfig,
    sink: mpsc::Sender<Input>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
) -> Result<(), Error> {
    let (host, port) = parse_mqtt_url(&url)?;
    let window = cfg.receive_maximum.max(1);
    let mut opts = MqttOptions::new(cfg.client_id.clone(), host, port);
    opts.set_clean_start(false)
        // The session (subscription and unacked messages) outlives disconnects for good, as a
        // persistent MQTT 3.1.1 session does.
        .set_session_expiry_interval(Some(u32::MAX))
        .set_receive_maximum(Some(window))
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(cfg.keep_alive_secs.max(5)))
        .set_max_packet_size(Some(256 * 1024));
    // Room for a whole window of PUBACKs queued at once by a commit.
    let (client, mut events) = AsyncClient::new(opts, usize::from(window) + 1024);
    let subscription = cfg.subscription();
    let mut sink = Some(sink);
    let mut drain_until = None;
    loop {
        if drain_until.is_none() && *shutdown.borrow() {
            // Let the writer finish: our sender goes, acks of committed batches still flow.
            sink = None;
            drain_until = Some(tokio::time::Instant::now() + drain);
        }
        if let Some(deadline) = drain_until {
            if metrics.mqtt_inflight.load(Ordering::SeqCst) <= 0
                || tokio::time::Instant::now() >= deadline
            {
                break;
            }
        }
        let polled = tokio::select! {
            e = events.poll() => Some(e),
            _ = shutdown.changed(), if drain_until.is_none() => None,
            _ = tokio::time::sleep(Duration::from_millis(50)), if drain_until.is_some() => None,
        };
        let Some(event) = polled else { continue };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                tracing::info!(client_id = %cfg.client_id, session_present = ack.session_present, %subscription, "MQTT connected");
                // Subscriptions are renewed on every connect: a broker restart without
                // persistence forgets them.
                if let Err(e) = client.try_subscribe(subscription.clone(), QoS::AtLeastOnce) {
                    tracing::warn!(error = %e, "MQTT subscribe could not be queued");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let Some(tx) = &sink else {
                    // Shutting down: not acked, so the broker redelivers it later.
                    continue;
                };
                metrics.mqtt_received.fetch_add(1, Ordering::Relaxed);
                metrics.mqtt_inflight.fetch_add(1, Ordering::SeqCst);
                let item = match std::str::from_utf8(&p.topic) {
                    Ok(topic) => parse_message(topic, &p.payload),
                    Err(_) => Item::DeadLetter(DeadLetter {
                        source: Source::Mqtt,
                        payload: p.payload.to_vec(),
                        class: "bad_topic",
                        reason: "the topic is not UTF-8".into(),
                    }),
                };
                let (c, m) = (client.clone(), metrics.clone());
                let ack = Ack::new(move || {
                    if let Err(e) = c.try_ack(&p) {
                        tracing::warn!(error = %e, "PUBACK could not be queued; the broker will redeliver");
                    }
                    m.mqtt_inflight.fetch_sub(1, Ordering::SeqCst);
                    m.mqtt_acked.fetch_add(1, Ordering::Relaxed);
                });
                if tx
                    .send(Input {
                        item,
                        ack: Some(ack),
                    })
                    .await
                    .is_err()
                {
                    return Err(Error::Mqtt("the pipeline stopped".into()));
                }
            }
            Ok(Event::Incoming(Packet::SubAck(s))) => {
                if s.return_codes
                    .iter()
                    .any(|c| !matches!(c, SubscribeReasonCode::Success(_)))
                {
                    tracing::error!(%subscription, codes = ?s.return_codes, "the broker refused the subscription");
                } else {
                    metrics.mqtt_subscribed.fetch_add(1, Ordering::SeqCst);
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, client_id = %cfg.client_id, "MQTT connection lost; reconnecting");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let _ = client.try_disconnect();
    // Flush the PUBACKs and the DISCONNECT.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(ev) = events.poll().await {
            if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                break;
            }
        }
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_readings_and_alarms() {
        let item = parse_message(
            "ewoda/v1/meters/0012345/reading",
            br#"{"serial":"0012345","read_at":"2026-05-04T10:15:00+02:00","volume_m3":"123.456","flow_m3h":"0.012","status":{"leak":true,"battery_low":false}}"#,
        );
        let Item::Reading(r) = item else {
            panic!("{item:?}")
        };
        assert_eq!(r.meter, MeterRef::Serial("0012345".into()));
        assert_eq!(r.read_at.to_rfc3339(), "2026-05-04T08:15:00+00:00");
        assert_eq!(r.volume.ml(), 123_456_000);
        assert_eq!(
            r.status,
            vec![
                StatusFlag {
                    kind: AlarmKind::Leak,
                    active: true
                },
                StatusFlag {
                    kind: AlarmKind::BatteryLow,
                    active: false
                }
            ]
        );
        let item = parse_message(
            "x/meters/7/alarm",
            br#"{"serial":"7","kind":"burst","active":false,"at":"2026-05-04T10:15:00Z","details":{"flow_m3h":"9.1"}}"#,
        );
        let Item::Alarm(a) = item else {
            panic!("{item:?}")
        };
        assert_eq!((a.kind, a.active), (AlarmKind::Burst, false));
    }

    #[test]
    fn bad_messages_become_dead_letters_with_reasons() {
        let cases: [(&str, &[u8], &str, &str); 7] = [
            ("ewoda/v1/meters/1/reading", b"{not json", "malformed", "topic ewoda/v1/meters/1/reading: invalid JSON: key must be a string at line 1 column 2"),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"1","read_at":"2026-05-04T10:15:00Z","volume_m3":1.5}"#, "malformed", "topic ewoda/v1/meters/1/reading: invalid JSON at volume_m3: invalid type: floating point `1.5`, expected a string at line 1 column 62"),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"2","read_at":"2026-05-04T10:15:00Z","volume_m3":"1"}"#, "malformed", "topic ewoda/v1/meters/1/reading: payload serial \"2\" differs from the topic's \"1\""),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"1","read_at":"2026-05-04T10:15:00Z","volume_m3":"1,5"}"#, "malformed", "topic ewoda/v1/meters/1/reading: volume_m3 \"1,5\" is not a decimal number"),
            ("ewoda/v1/meters/1/reading", br#"{"serial":"1","read_at":"2026-05-04","volume_m3":"1"}"#, "malformed", "topic ewoda/v1/meters/1/reading: invalid JSON at read_at: premature end of input at line 1 column 36"),
            ("ewoda/v1/meters/1/alarm", br#"{"serial":"1","kind":"fire","active":true,"at":"2026-05-04T10:15:00Z"}"#, "malformed", ""),
            ("ewoda/v1/other", b"{}", "bad_topic", "topic ewoda/v1/other: expected …/meters/<serial>/reading|alarm"),
        ];
        for (topic, payload, class, reason) in cases {
            let Item::DeadLetter(d) = parse_message(topic, payload) else {
                panic!("{topic}")
            };
            assert_eq!(d.class, class, "{reason}");
            if !reason.is_empty() {
                assert_eq!(d.reason, reason);
            }
            assert_eq!(d.payload, payload);
        }
    }

    #[test]
    fn urls_and_subscriptions() {
        assert_eq!(
            parse_mqtt_url("mqtt://127.0.0.1:1883").unwrap(),
            ("127.0.0.1".into(), 1883)
        );
        assert_eq!(
            parse_mqtt_url("tcp://broker").unwrap(),
            ("broker".into(), 1883)
        );
        assert!(parse_mqtt_url("http://x").is_err());
        assert_eq!(
            MqttSourceConfig::new("c1").subscription(),
            "$share/collectors/ewoda/v1/meters/+/+"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_message_parses_or_dead_letters(topic in "[a-z/+0-9]{0,30}", payload in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_message(&topic, &payload);
        }
    }
}
