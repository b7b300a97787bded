//! The MQTT telemetry source (schema in docs/mqtt-telemetry.md): QoS 1, a session that never
//! expires under a fixed client id, a subscription (by default the shared
//! `$share/<group>/…`) renewed on every connect, and a manual PUBACK sent only after the batch
//! holding the message committed. MQTT 5 by default (its Receive Maximum lets one connection
//! feed whole batches), MQTT 3.1.1 where the broker speaks only that (`protocol`). Unusable
//! messages — malformed, or larger than `max_payload_bytes` — become dead letters (and are
//! acked: they will never become valid). A broker that refuses the protocol, the credentials
//! or the certificate ends the source with an error that says which; network trouble is
//! retried with a growing pause.

pub mod client;
pub mod message;
pub mod security;

pub use client::Protocol;
pub use message::parse_message;
pub use security::{BrokerUrl, MqttSecurity, Secret};

use crate::error::Error;
use crate::metrics::Metrics;
use crate::pipeline::{Ack, DeadLetter, Input, Item};
use crate::store::Source;
use crate::supervisor::SourceHealth;
use bytes::Bytes;
use client::{Client, Connection, Ev, Failure, Options};
use security::Resolved;
use serde::{Deserialize, Deserializer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// One MQTT subscription of a collector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSourceConfig {
    /// Topic filter without the share prefix.
    #[serde(default = "default_filter")]
    pub topic_filter: String,
    /// Fixed per collector instance: the broker keeps its session (and unacked messages).
    pub client_id: String,
    /// Shared-subscription group (`$share/<group>/<filter>`); `share_group = false`
    /// subscribes to the filter directly (brokers without shared subscriptions: give each
    /// collector its own partition of the topics).
    #[serde(default = "default_group", deserialize_with = "share_group")]
    pub share_group: Option<String>,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_secs: u64,
    /// MQTT 5 Receive Maximum: messages the broker may deliver before the first is acked (it
    /// replaces Mosquitto's `max_inflight_messages` for this client). A commit acks up to this
    /// many messages of the connection at once.
    #[serde(default = "default_receive_maximum")]
    pub receive_maximum: u16,
    /// `"5"`, `"3.1.1"` or `"auto"` (5, falling back to 3.1.1 when the broker refuses it).
    #[serde(default)]
    pub protocol: Protocol,
    /// Largest packet the client accepts (announced to MQTT 5 brokers, which drop larger
    /// messages for this client: set the broker's own limit no higher, so publishers are
    /// refused instead).
    #[serde(default = "default_max_packet")]
    pub max_packet_bytes: u32,
    /// Larger payloads are dead-lettered (`too_large`) instead of parsed.
    #[serde(default = "default_max_payload")]
    pub max_payload_bytes: u32,
    /// With a shared subscription: after this many seconds without a message, look whether
    /// the topics carry traffic the subscription does not get (and warn); 0 turns it off.
    #[serde(default = "default_silence")]
    pub silence_check_secs: u64,
    /// TLS and credentials (`[sources.security]`).
    #[serde(default)]
    pub security: MqttSecurity,
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

fn default_max_packet() -> u32 {
    1 << 20
}

fn default_max_payload() -> u32 {
    64 << 10
}

fn default_silence() -> u64 {
    60
}

/// `share_group = "name"` or `share_group = false`.
fn share_group<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Group {
        Name(String),
        Flag(bool),
    }
    match Group::deserialize(d)? {
        Group::Name(n) if !n.is_empty() && !n.contains(['/', '+', '#']) => Ok(Some(n)),
        Group::Flag(false) => Ok(None),
        _ => Err(serde::de::Error::custom(
            "share_group must be a group name (no '/', '+', '#') or false",
        )),
    }
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
            protocol: Protocol::default(),
            max_packet_bytes: default_max_packet(),
            max_payload_bytes: default_max_payload(),
            silence_check_secs: default_silence(),
            security: MqttSecurity::default(),
        }
    }

    /// The filter actually subscribed.
    pub fn subscription(&self) -> String {
        match &self.share_group {
            Some(g) => format!("$share/{g}/{}", self.topic_filter),
            None => self.topic_filter.clone(),
        }
    }

    /// The limits, as (field, message) on error.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        // MQTT's largest packet (remaining length 268,435,455 plus the fixed header).
        if !(1024..=268_435_460).contains(&self.max_packet_bytes) {
            return Err((
                "max_packet_bytes",
                "must be between 1024 and 268435460".into(),
            ));
        }
        if self.max_payload_bytes == 0 || self.max_payload_bytes >= self.max_packet_bytes {
            return Err((
                "max_payload_bytes",
                format!(
                    "must be positive and below max_packet_bytes ({}), which also holds the topic",
                    self.max_packet_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// Host and port of an `mqtt://host:port`, `tcp://` or `mqtts://` URL (1883, or 8883 for
/// TLS, by default).
pub fn parse_mqtt_url(url: &str) -> Result<(String, u16), Error> {
    BrokerUrl::parse(url).map(|u| (u.host, u.port))
}

/// Checks the source against the broker URL before anything connects: URL, security rule,
/// password file, CA and client certificate.
pub fn check(url: &str, cfg: &MqttSourceConfig) -> Result<(), Error> {
    cfg.security.resolve(url).map(|_| ())
}

/// Runs one MQTT subscription until `shutdown` turns true: forwards messages to `sink` with
/// an ack that sends the PUBACK after commit. On shutdown it stops forwarding (later messages
/// stay with the broker), waits up to `drain` for outstanding acks and disconnects.
pub async fn run(
    url: String,
    cfg: MqttSourceConfig,
    sink: mpsc::Sender<Input>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
    drain: Duration,
) -> Result<(), Error> {
    run_reporting(url, cfg, sink, metrics, shutdown, drain, None).await
}

/// [`run`] that also reports each connect and disconnect to `health` (up only while
/// connected).
pub async fn run_reporting(
    url: String,
    cfg: MqttSourceConfig,
    sink: mpsc::Sender<Input>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
    health: Option<Arc<SourceHealth>>,
) -> Result<(), Error> {
    if let Some(h) = &health {
        h.reports_itself();
    }
    let resolved = cfg.security.resolve(&url)?;
    let mut protocol = match cfg.protocol {
        Protocol::V311 => Protocol::V311,
        Protocol::V5 | Protocol::Auto => Protocol::V5,
    };
    let mut sink = Some(sink);
    loop {
        let mut session = Session::open(&cfg, &resolved, protocol, metrics.clone());
        session.health = health.clone();
        match session.run(&mut sink, &mut shutdown, drain).await? {
            End::Stopped => return Ok(()),
            End::ProtocolRefused(why) if cfg.protocol == Protocol::Auto => {
                tracing::warn!(broker = %resolved.url, client_id = %cfg.client_id, reason = %why,
                    "the broker refused MQTT 5; falling back to MQTT 3.1.1 (no Receive Maximum: the broker's inflight limit sets the window)");
                protocol = Protocol::V311;
            }
            End::ProtocolRefused(why) => {
                return Err(Error::Mqtt(format!(
                    "the broker {} refused {protocol}: {why}; set protocol = \"{}\" or \"auto\" in the mqtt source",
                    resolved.url,
                    if protocol == Protocol::V5 { "3.1.1" } else { "5" },
                )))
            }
        }
    }
}

/// How a session ended without an error.
enum End {
    Stopped,
    ProtocolRefused(String),
}

/// Closes before any CONNACK that count as the broker refusing the protocol.
const CLOSES_BEFORE_CONNACK: u32 = 3;

/// One protocol's connection (reconnecting) of a source.
struct Session<'a> {
    cfg: &'a MqttSourceConfig,
    resolved: &'a Resolved,
    protocol: Protocol,
    metrics: Arc<Metrics>,
    client: Client,
    conn: Connection,
    subscription: String,
    /// Messages received; the silence check compares it.
    received: Arc<AtomicU64>,
    silence_check: Option<tokio::task::JoinHandle<()>>,
    health: Option<Arc<SourceHealth>>,
}

impl<'a> Session<'a> {
    fn open(
        cfg: &'a MqttSourceConfig,
        resolved: &'a Resolved,
        protocol: Protocol,
        metrics: Arc<Metrics>,
    ) -> Self {
        let window = cfg.receive_maximum.max(1);
        let (client, conn) = client::open(
            protocol,
            &Options {
                client_id: cfg.client_id.clone(),
                persistent: true,
                keep_alive: Duration::from_secs(cfg.keep_alive_secs.max(5)),
                receive_maximum: window,
                max_packet_bytes: cfg.max_packet_bytes,
                resolved,
                // Room for a whole window of PUBACKs queued at once by a commit.
                capacity: usize::from(window) + 1024,
            },
        );
        Session {
            cfg,
            resolved,
            protocol,
            metrics,
            client,
            conn,
            subscription: cfg.subscription(),
            received: Arc::new(AtomicU64::new(0)),
            silence_check: None,
            health: None,
        }
    }

    async fn run(
        mut self,
        sink: &mut Option<mpsc::Sender<Input>>,
        shutdown: &mut watch::Receiver<bool>,
        drain: Duration,
    ) -> Result<End, Error> {
        let mut drain_until = None;
        let mut connected = false;
        let mut closes = 0;
        let mut backoff = Duration::from_millis(250);
        loop {
            if drain_until.is_none() && *shutdown.borrow() {
                // Let the writer finish: our sender goes, acks of committed batches still flow.
                *sink = None;
                drain_until = Some(Instant::now() + drain);
            }
            if let Some(deadline) = drain_until {
                if self.metrics.mqtt_inflight.load(Ordering::SeqCst) <= 0
                    || Instant::now() >= deadline
                {
                    break;
                }
            }
            let polled = tokio::select! {
                e = self.conn.poll() => Some(e),
                _ = shutdown.changed(), if drain_until.is_none() => None,
                _ = tokio::time::sleep(Duration::from_millis(50)), if drain_until.is_some() => None,
            };
            match polled {
                None => {}
                Some(Ok(Ev::Connected { session_present })) => {
                    (connected, closes, backoff) = (true, 0, Duration::from_millis(250));
                    self.on_connect(session_present);
                }
                Some(Ok(Ev::Message {
                    topic,
                    payload,
                    delivery,
                })) => {
                    let Some(tx) = sink.as_ref() else {
                        // Shutting down: not acked, so the broker redelivers it later.
                        continue;
                    };
                    self.received.fetch_add(1, Ordering::Relaxed);
                    let item = self.item(topic, &payload);
                    let ack = Some(self.ack_after_commit(delivery));
                    if tx.send(Input { item, ack }).await.is_err() {
                        return Err(Error::Mqtt("the pipeline stopped".into()));
                    }
                }
                Some(Ok(Ev::Subscribed(None))) => {
                    self.metrics.mqtt_subscribed.fetch_add(1, Ordering::SeqCst);
                    self.start_silence_check();
                }
                Some(Ok(Ev::Subscribed(Some(codes)))) => {
                    tracing::error!(subscription = %self.subscription, %codes, "the broker refused the subscription");
                }
                Some(Ok(_)) => {}
                Some(Err(f)) => {
                    let was_connected = std::mem::replace(&mut connected, false);
                    if let Some(end) = self.on_failure(f, was_connected, &mut closes)? {
                        return Ok(end);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed(), if drain_until.is_none() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        self.close().await;
        Ok(End::Stopped)
    }

    fn on_connect(&self, session_present: bool) {
        if let Some(h) = &self.health {
            h.set_up(true, &format!("connected to {}", self.resolved.url));
        }
        tracing::info!(client_id = %self.cfg.client_id, broker = %self.resolved.url, protocol = %self.protocol,
            session_present, subscription = %self.subscription, "MQTT connected");
        // Subscriptions are renewed on every connect: a broker restart without persistence
        // forgets them.
        if let Err(e) = self.client.subscribe(&self.subscription, true) {
            tracing::warn!(error = %e, "MQTT subscribe could not be queued");
        }
    }

    /// Decides what a failure means: `Ok(None)` retry, `Ok(Some)` the protocol was refused,
    /// `Err` a refusal only the configuration can fix.
    fn on_failure(
        &self,
        f: Failure,
        was_connected: bool,
        closes: &mut u32,
    ) -> Result<Option<End>, Error> {
        let url = &self.resolved.url;
        if let Some(h) = &self.health {
            h.set_up(false, &format!("no connection to {url}: {f:?}"));
        }
        let fatal = |m: String| Err(Error::Mqtt(m));
        match f {
            Failure::ProtocolRefused(why) => Ok(Some(End::ProtocolRefused(why))),
            Failure::ClosedByPeer(why) if !was_connected => {
                *closes += 1;
                tracing::warn!(client_id = %self.cfg.client_id, broker = %url, protocol = %self.protocol,
                    attempt = *closes, "the broker closed the connection before answering CONNECT ({why})");
                if *closes >= CLOSES_BEFORE_CONNACK && self.protocol == Protocol::V5 {
                    return Ok(Some(End::ProtocolRefused(format!(
                        "it closed the connection {closes} times in reply to CONNECT without a CONNACK (NATS' MQTT gateway, for one, speaks only 3.1.1)"
                    ))));
                }
                Ok(None)
            }
            Failure::AuthRefused(why) => fatal(match &self.resolved.credentials {
                Some((user, _)) => format!(
                    "the broker {url} refused user {user:?} ({why}): check security.username and the password"
                ),
                None => format!(
                    "the broker {url} refused an anonymous connection ({why}): set security.username and password_file"
                ),
            }),
            Failure::Tls(why) => fatal(format!(
                "TLS with {url} failed: {why} (is security.ca_file the CA that signed the broker's certificate, and is the certificate issued for {}?)",
                url.host
            )),
            Failure::ClientCertificateRequired => fatal(format!(
                "the broker {url} requires a client certificate: set security.client_cert_file and client_key_file"
            )),
            Failure::Refused(why) => fatal(format!("the broker {url} refused the connection: {why}")),
            Failure::ClosedByPeer(why) | Failure::Transient(why) => {
                tracing::warn!(error = %why, client_id = %self.cfg.client_id, broker = %url, "MQTT connection lost; reconnecting");
                Ok(None)
            }
        }
    }

    /// The pipeline item of a message; oversized payloads are not parsed.
    fn item(&self, topic: Result<String, Bytes>, payload: &Bytes) -> Item {
        self.metrics.mqtt_received.fetch_add(1, Ordering::Relaxed);
        let limit = self.cfg.max_payload_bytes as usize;
        let topic = match topic {
            Ok(t) => t,
            Err(_) => {
                return Item::DeadLetter(DeadLetter {
                    source: Source::Mqtt,
                    payload: payload.to_vec(),
                    class: "bad_topic",
                    reason: "the topic is not UTF-8".into(),
                })
            }
        };
        if payload.len() > limit {
            self.metrics.mqtt_oversized.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%topic, bytes = payload.len(), limit, "MQTT payload over max_payload_bytes dead-lettered");
            return Item::DeadLetter(DeadLetter {
                source: Source::Mqtt,
                payload: payload[..payload.len().min(KEPT_OF_OVERSIZED)].to_vec(),
                class: "too_large",
                reason: format!(
                    "topic {topic}: payload of {} bytes is over max_payload_bytes {limit} (its first {KEPT_OF_OVERSIZED} bytes kept)",
                    payload.len()
                ),
            });
        }
        parse_message(&topic, payload)
    }

    /// The ack of a message handed on: sends the PUBACK once its batch committed.
    fn ack_after_commit(&self, delivery: Box<client::Delivery>) -> Ack {
        self.metrics.mqtt_inflight.fetch_add(1, Ordering::SeqCst);
        let (c, m) = (self.client.clone(), self.metrics.clone());
        Ack::new(move || {
            if let Err(e) = c.ack(&delivery) {
                tracing::warn!(error = %e, "PUBACK could not be queued; the broker will redeliver");
            }
            m.mqtt_inflight.fetch_sub(1, Ordering::SeqCst);
            m.mqtt_acked.fetch_add(1, Ordering::Relaxed);
        })
    }

    fn start_silence_check(&mut self) {
        if self.cfg.share_group.is_none() || self.cfg.silence_check_secs == 0 {
            return;
        }
        if let Some(old) = self.silence_check.take() {
            old.abort();
        }
        self.silence_check = Some(tokio::spawn(silence_check(
            self.cfg.clone(),
            self.resolved.clone(),
            self.protocol,
            self.received.clone(),
            self.metrics.clone(),
        )));
    }

    async fn close(mut self) {
        if let Some(c) = self.silence_check.take() {
            c.abort();
        }
        self.client.disconnect();
        // Flush the PUBACKs and the DISCONNECT.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(ev) = self.conn.poll().await {
                if matches!(ev, Ev::DisconnectSent) {
                    break;
                }
            }
        })
        .await;
    }
}

/// Bytes of an oversized payload kept in its dead letter.
const KEPT_OF_OVERSIZED: usize = 1024;

/// A shared subscription that stays silent while its topics carry messages is one the broker
/// accepted but does not serve (NATS' MQTT gateway takes `$share/…` and delivers nothing):
/// after `silence_check_secs` without a message, a throw-away QoS 0 subscription to the bare
/// filter listens for a while; traffic there and still none on ours → a warning and
/// `ewoda_collector_mqtt_silent_subscriptions_total`.
async fn silence_check(
    cfg: MqttSourceConfig,
    resolved: Resolved,
    protocol: Protocol,
    received: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
) {
    let before = received.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(cfg.silence_check_secs)).await;
    if received.load(Ordering::Relaxed) != before {
        return;
    }
    let listen = Duration::from_secs(cfg.silence_check_secs.clamp(2, 15));
    let seen = count_messages(&cfg, &resolved, protocol, listen).await;
    if seen > 0 && received.load(Ordering::Relaxed) == before {
        metrics
            .mqtt_silent_subscriptions
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(subscription = %cfg.subscription(), broker = %resolved.url, seen,
            "the subscription received nothing for {} s while {seen} messages were published on {} in {} s: the broker accepts but does not serve this shared subscription; set share_group = false (and give each collector its own topic partition)",
            cfg.silence_check_secs, cfg.topic_filter, listen.as_secs());
    }
}

/// Messages seen on the bare filter within `listen` by a throw-away QoS 0 client.
async fn count_messages(
    cfg: &MqttSourceConfig,
    resolved: &Resolved,
    protocol: Protocol,
    listen: Duration,
) -> u64 {
    let (client, mut conn) = client::open(
        protocol,
        &Options {
            client_id: format!("{}-probe", cfg.client_id),
            persistent: false,
            keep_alive: Duration::from_secs(30),
            receive_maximum: 100,
            max_packet_bytes: cfg.max_packet_bytes,
            resolved,
            capacity: 16,
        },
    );
    let mut seen = 0;
    let deadline = Instant::now() + listen + Duration::from_secs(5);
    let mut until = deadline;
    while let Ok(Ok(ev)) = tokio::time::timeout_at(until, conn.poll()).await {
        match ev {
            Ev::Connected { .. } => {
                let _ = client.subscribe(&cfg.topic_filter, false);
            }
            Ev::Subscribed(None) => until = (Instant::now() + listen).min(deadline),
            Ev::Message { .. } => seen += 1,
            _ => {}
        }
    }
    client.disconnect();
    let _ = tokio::time::timeout(Duration::from_millis(500), conn.poll()).await;
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn share_group_is_a_name_or_false_and_protocols_parse() {
        #[derive(Deserialize)]
        struct W {
            s: MqttSourceConfig,
        }
        let parse = |extra: &str| {
            toml::from_str::<W>(&format!("[s]\nclient_id = \"c\"\n{extra}")).map(|w| w.s)
        };
        assert_eq!(
            parse("").unwrap().share_group.as_deref(),
            Some("collectors")
        );
        assert_eq!(parse("share_group = false").unwrap().share_group, None);
        assert_eq!(
            parse("share_group = false").unwrap().subscription(),
            "ewoda/v1/meters/+/+"
        );
        for bad in [
            "share_group = true",
            "share_group = \"\"",
            "share_group = \"a/b\"",
        ] {
            let e = parse(bad).expect_err(bad).to_string();
            assert!(e.contains("share_group must be"), "{bad}: {e}");
        }
        assert_eq!(
            parse("protocol = \"3.1.1\"").unwrap().protocol,
            Protocol::V311
        );
        assert_eq!(parse("protocol = \"5\"").unwrap().protocol, Protocol::V5);
        assert_eq!(parse("").unwrap().protocol, Protocol::Auto);
        assert!(parse("protocol = \"3\"").is_err());
        let mut c = parse("").unwrap();
        assert!(c.validate().is_ok());
        c.max_payload_bytes = c.max_packet_bytes;
        assert_eq!(c.validate().unwrap_err().0, "max_payload_bytes");
    }
}
