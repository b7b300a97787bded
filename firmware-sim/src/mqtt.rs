//! MQTT telemetry devices: fleet meters with an LTE/NB-IoT module that publish their register
//! and alarms to the broker in the JSON schema of docs/mqtt-telemetry.md (written here
//! independently of ewoda-collector, SPEC §2).
//!
//! Topics: `<prefix>/meters/<serial>/reading` every reporting interval of simulated time and
//! `<prefix>/meters/<serial>/alarm` with `active: true` when a fault starts (leak, burst,
//! backflow, tamper, dry, battery) and `active: false` when it ends. `read_at` is the module's
//! network time (the true instant), not the meter's possibly drifting clock; `volume_m3` is the
//! register exactly (6 decimals), `flow_m3h` what the meter registered in the current hour.
//!
//! Delivery: QoS 1 through [`Publisher`], which keeps a persistent session (so rumqttc
//! retransmits in-flight messages after a reconnect), publishes in windows and waits for every
//! PUBACK of a window before the next; if the broker lost the session, the window is published
//! again (at least once: the collector stores duplicates once).
//!
//! Public API: [`DeviceSelection`], [`AlarmKind`], [`Message`], [`reading_message`],
//! [`alarm_message`], [`Device`], [`Publisher`], [`MqttStats`], [`parse_url`].

use crate::fault::MeterStatus;
use crate::fleet::Fleet;
use crate::profile::MeterKind;
use crate::SimError;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Europe::Warsaw;
use ewoda_common::rng::Rng;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{json, Map, Value};
use tokio::sync::{oneshot, watch};

/// The topic prefix of schema v1.
pub const DEFAULT_TOPIC_PREFIX: &str = "ewoda/v1";

/// Messages published before waiting for their PUBACKs (at most rumqttc's in-flight window).
const WINDOW: usize = 100;

fn invalid(what: String) -> SimError {
    SimError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, what))
}

fn mqtt_err(what: impl std::fmt::Display) -> SimError {
    SimError::Io(std::io::Error::other(format!("mqtt: {what}")))
}

/// `mqtt://host[:port]` (or `tcp://`) → (host, port); the port defaults to 1883.
pub fn parse_url(url: &str) -> Result<(String, u16), SimError> {
    let bad = |why: &str| invalid(format!("mqtt url {url:?}: {why}"));
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| bad("expected mqtt://host:port"))?
        .trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("invalid port"))?),
        None => (rest, 1883),
    };
    if host.is_empty() || host.contains(['/', '@', '?']) {
        return Err(bad("invalid host"));
    }
    Ok((host.to_string(), port))
}

/// Which fleet meters carry a telemetry module (never district bulk meters: those are on
/// Modbus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSelection {
    /// Every customer meter.
    All,
    /// Every customer meter of one district.
    District(usize),
    /// About this many per mille of the customer meters, chosen by the fleet's seed.
    PerMille(u64),
    /// Exactly these meters.
    Meters(Vec<usize>),
}

impl DeviceSelection {
    /// Parses `all`, `district:N`, `permille:N` or `meters:I,J,…`.
    pub fn parse(s: &str) -> Result<Self, SimError> {
        let bad = |why: &str| invalid(format!("mqtt devices {s:?}: {why}"));
        let num = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| bad("expected a number"))
        };
        match s.split_once(':') {
            None if s == "all" => Ok(DeviceSelection::All),
            Some(("district", n)) => Ok(DeviceSelection::District(num(n)? as usize)),
            Some(("permille", n)) => {
                let n = num(n)?;
                if n > 1000 {
                    return Err(bad("per mille above 1000"));
                }
                Ok(DeviceSelection::PerMille(n))
            }
            Some(("meters", list)) => Ok(DeviceSelection::Meters(
                list.split(',')
                    .map(|v| num(v).map(|n| n as usize))
                    .collect::<Result<_, _>>()?,
            )),
            _ => Err(bad("expected all, district:N, permille:N or meters:I,J")),
        }
    }

    /// The selected meter indices, ascending.
    pub fn select(&self, fleet: &Fleet) -> Result<Vec<usize>, SimError> {
        let customers = fleet
            .meters()
            .iter()
            .filter(|m| m.kind() != MeterKind::Bulk);
        Ok(match self {
            DeviceSelection::All => customers.map(|m| m.index()).collect(),
            DeviceSelection::District(d) => {
                if *d >= fleet.districts().len() {
                    return Err(SimError::OutOfRange {
                        field: "mqtt district",
                        value: *d as i64,
                    });
                }
                customers
                    .filter(|m| m.district() == *d)
                    .map(|m| m.index())
                    .collect()
            }
            DeviceSelection::PerMille(p) => {
                let root = Rng::new(fleet.seed()).fork(0x4D51_5454);
                customers
                    .filter(|m| root.fork(m.index() as u64).chance(*p))
                    .map(|m| m.index())
                    .collect()
            }
            DeviceSelection::Meters(list) => {
                let mut out = Vec::with_capacity(list.len());
                for &i in list {
                    if fleet.meter(i)?.kind() == MeterKind::Bulk {
                        return Err(SimError::Fault {
                            meter: i,
                            reason: "a district bulk meter is not an MQTT device".into(),
                        });
                    }
                    out.push(i);
                }
                out.sort_unstable();
                out.dedup();
                out
            }
        })
    }
}

/// The alarm kinds a device reports (the schema's status kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmKind {
    /// Continuous flow.
    Leak,
    /// Very large flow.
    Burst,
    /// Reverse flow.
    Backflow,
    /// Magnetic tamper.
    Tamper,
    /// Dry pipe.
    Dry,
    /// Battery low.
    BatteryLow,
}

impl AlarmKind {
    /// Every kind, in the order the status object lists them.
    pub const ALL: [AlarmKind; 6] = [
        AlarmKind::Leak,
        AlarmKind::Burst,
        AlarmKind::Backflow,
        AlarmKind::Tamper,
        AlarmKind::Dry,
        AlarmKind::BatteryLow,
    ];

    /// The schema's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Leak => "leak",
            AlarmKind::Burst => "burst",
            AlarmKind::Backflow => "backflow",
            AlarmKind::Tamper => "tamper",
            AlarmKind::Dry => "dry",
            AlarmKind::BatteryLow => "battery_low",
        }
    }

    /// Whether the flag of this kind is set in `s`.
    pub fn is_set(self, s: &MeterStatus) -> bool {
        match self {
            AlarmKind::Leak => s.leak,
            AlarmKind::Burst => s.burst,
            AlarmKind::Backflow => s.backflow,
            AlarmKind::Tamper => s.tamper,
            AlarmKind::Dry => s.dry,
            AlarmKind::BatteryLow => s.battery_low,
        }
    }
}

/// One MQTT message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Full topic.
    pub topic: String,
    /// JSON payload.
    pub payload: String,
}

/// The reading meter `meter` publishes at `t` (serial of the meter installed at `t`).
pub fn reading_message(
    fleet: &Fleet,
    prefix: &str,
    meter: usize,
    t: DateTime<Utc>,
) -> Result<Message, SimError> {
    let serial = fleet.generation_at(meter, t)?.serial.clone();
    let register = fleet.register_at(meter, t)?;
    let hour = fleet.epoch() + Duration::hours(fleet.hour_of(t));
    let flow = fleet.registered_use(meter, hour, hour + Duration::hours(1))?;
    let status = fleet.status_at(meter, t)?;
    let mut flags = Map::new();
    for k in AlarmKind::ALL {
        flags.insert(k.as_str().to_string(), Value::Bool(k.is_set(&status)));
    }
    let payload = json!({
        "serial": serial,
        "read_at": t.with_timezone(&Warsaw).to_rfc3339_opts(SecondsFormat::Secs, false),
        "volume_m3": register.m3().to_string(),
        "flow_m3h": flow.m3().to_string(),
        "status": flags,
    });
    Ok(Message {
        topic: format!("{prefix}/meters/{serial}/reading"),
        payload: payload.to_string(),
    })
}

/// An alarm raised (`active`) or cleared by the device of `serial` at `at`.
pub fn alarm_message(
    prefix: &str,
    serial: &str,
    kind: AlarmKind,
    active: bool,
    at: DateTime<Utc>,
) -> Message {
    let payload = json!({
        "serial": serial,
        "kind": kind.as_str(),
        "active": active,
        "at": at.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    Message {
        topic: format!("{prefix}/meters/{serial}/alarm"),
        payload: payload.to_string(),
    }
}

/// One telemetry device: remembers what it last reported so it can announce alarm changes.
#[derive(Debug, Clone)]
pub struct Device {
    meter: usize,
    last: Option<(DateTime<Utc>, MeterStatus)>,
}

impl Device {
    /// The module on fleet meter `meter`, before its first report.
    pub fn new(meter: usize) -> Self {
        Device { meter, last: None }
    }

    /// The fleet meter.
    pub fn meter(&self) -> usize {
        self.meter
    }

    /// What the device publishes when it reports at `t` (after its previous report): an alarm
    /// for each flag that changed at a whole hour in between (faults act per hour; at the first
    /// report every set flag is raised), then the reading at `t`.
    pub fn report(
        &mut self,
        fleet: &Fleet,
        prefix: &str,
        t: DateTime<Utc>,
    ) -> Result<Vec<Message>, SimError> {
        let mut out = Vec::new();
        let (mut status, first_boundary) = match self.last {
            Some((prev, s)) => (s, fleet.hour_of(prev) + 1),
            None => {
                let s = fleet.status_at(self.meter, t)?;
                let serial = &fleet.generation_at(self.meter, t)?.serial;
                for k in AlarmKind::ALL.into_iter().filter(|k| k.is_set(&s)) {
                    out.push(alarm_message(prefix, serial, k, true, t));
                }
                (s, fleet.hour_of(t) + 1)
            }
        };
        for h in first_boundary..=fleet.hour_of(t) {
            let at = fleet.epoch() + Duration::hours(h);
            let now = fleet.status_at(self.meter, at)?;
            let changed: Vec<AlarmKind> = AlarmKind::ALL
                .into_iter()
                .filter(|k| k.is_set(&now) != k.is_set(&status))
                .collect();
            if !changed.is_empty() {
                let serial = &fleet.generation_at(self.meter, at)?.serial;
                for k in changed {
                    out.push(alarm_message(prefix, serial, k, k.is_set(&now), at));
                }
            }
            status = now;
        }
        out.push(reading_message(fleet, prefix, self.meter, t)?);
        self.last = Some((t, status));
        Ok(out)
    }
}

/// Counts of a publisher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MqttStats {
    /// Distinct messages handed to the broker.
    pub published: u64,
    /// PUBACKs received.
    pub acked: u64,
    /// Messages published again because the broker lost the session.
    pub republished: u64,
    /// Connections made (1 without reconnects).
    pub connects: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Link {
    acked: u64,
    connects: u64,
    sessions_lost: u64,
    error: Option<std::io::ErrorKind>,
}

/// A QoS 1 publisher with a persistent session that confirms every message.
pub struct Publisher {
    client: AsyncClient,
    link: watch::Receiver<Link>,
    stop: Option<oneshot::Sender<()>>,
    driver: tokio::task::JoinHandle<()>,
    published: u64,
    republished: u64,
    /// Where to connect again to forget the session when done.
    options: MqttOptions,
}

impl Publisher {
    /// Connects to `url` (`mqtt://host:port`) as `client_id`; fails if the first connection
    /// does not succeed within 10 s. Later connection losses are retried every second.
    pub async fn connect(url: &str, client_id: &str) -> Result<Self, SimError> {
        Self::connect_as(url, client_id, None).await
    }

    /// [`Publisher::connect`] logging in with a user name and password.
    pub async fn connect_as(
        url: &str,
        client_id: &str,
        login: Option<(&str, &str)>,
    ) -> Result<Self, SimError> {
        let (host, port) = parse_url(url)?;
        let mut opts = MqttOptions::new(client_id, host, port);
        if let Some((user, password)) = login {
            opts.set_credentials(user, password);
        }
        opts.set_clean_session(false)
            .set_keep_alive(std::time::Duration::from_secs(15))
            .set_inflight(WINDOW as u16);
        let options = opts.clone();
        let (client, mut eventloop) = AsyncClient::new(opts, 2 * WINDOW);
        let (link_tx, mut link) = watch::channel(Link::default());
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let driver = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    ev = eventloop.poll() => match ev {
                        Ok(Event::Incoming(Packet::ConnAck(c))) => link_tx.send_modify(|l| {
                            if !c.session_present && l.connects > 0 {
                                l.sessions_lost += 1;
                            }
                            l.connects += 1;
                            l.error = None;
                        }),
                        Ok(Event::Incoming(Packet::PubAck(_))) => link_tx.send_modify(|l| l.acked += 1),
                        Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "mqtt connection lost; reconnecting");
                            let kind = match &e {
                                rumqttc::ConnectionError::Io(io) => io.kind(),
                                _ => std::io::ErrorKind::Other,
                            };
                            link_tx.send_modify(|l| l.error = Some(kind));
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                    },
                }
            }
        });
        let first = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            link.wait_for(|l| l.connects > 0 || l.error.is_some()),
        )
        .await
        .map(|r| r.map(|l| *l));
        let failure = match first {
            Err(_) => Some("no answer within 10 s".to_string()),
            Ok(Err(_)) => Some("event loop stopped".to_string()),
            Ok(Ok(l)) if l.connects == 0 => {
                Some(l.error.map(|k| k.to_string()).unwrap_or_default())
            }
            Ok(Ok(_)) => None,
        };
        if let Some(why) = failure {
            let _ = stop_tx.send(());
            driver.abort();
            return Err(mqtt_err(format!("cannot connect to {url}: {why}")));
        }
        Ok(Publisher {
            client,
            link,
            stop: Some(stop_tx),
            driver,
            published: 0,
            republished: 0,
            options,
        })
    }

    /// Publishes `messages` with QoS 1 in order and returns when the broker has acknowledged
    /// every one (waiting through reconnects; a window whose session the broker lost is
    /// published again).
    pub async fn publish_all(&mut self, messages: &[Message]) -> Result<(), SimError> {
        for window in messages.chunks(WINDOW) {
            let mut again = false;
            loop {
                let before = *self.link.borrow();
                for m in window {
                    self.client
                        .publish(m.topic.as_str(), QoS::AtLeastOnce, false, m.payload.clone())
                        .await
                        .map_err(mqtt_err)?;
                }
                if again {
                    self.republished += window.len() as u64;
                }
                let target = before.acked + window.len() as u64;
                let link = self
                    .link
                    .wait_for(|l| l.acked >= target || l.sessions_lost != before.sessions_lost)
                    .await
                    .map_err(|_| mqtt_err("event loop stopped"))?;
                if link.acked >= target {
                    break;
                }
                drop(link);
                tracing::warn!(
                    messages = window.len(),
                    "mqtt broker lost the session; publishing again"
                );
                again = true;
            }
            self.published += window.len() as u64;
        }
        Ok(())
    }

    /// Counts so far.
    pub fn stats(&self) -> MqttStats {
        let l = *self.link.borrow();
        MqttStats {
            published: self.published,
            acked: l.acked,
            republished: self.republished,
            connects: l.connects,
        }
    }

    /// Disconnects cleanly, lets the broker forget the session (everything in it is
    /// acknowledged) and returns the final counts.
    pub async fn close(mut self) -> MqttStats {
        let stats = self.stats();
        if self.client.disconnect().await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.driver).await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.driver.abort();
        let mut opts = self.options.clone();
        opts.set_clean_session(true);
        let forget = async move {
            let (client, mut eventloop) = AsyncClient::new(opts, 1);
            while let Ok(ev) = eventloop.poll().await {
                match ev {
                    Event::Incoming(Packet::ConnAck(_)) => {
                        let _ = client.disconnect().await;
                    }
                    Event::Outgoing(Outgoing::Disconnect) => break,
                    _ => {}
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), forget).await;
        stats
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
