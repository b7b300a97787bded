//! One MQTT client API over the two protocol versions rumqttc implements separately: MQTT 5
//! (Receive Maximum, session expiry) and MQTT 3.1.1 (what NATS' MQTT gateway and older
//! brokers speak). Connection failures are sorted into what a retry can fix and what only the
//! configuration can (refused protocol, credentials, certificates).

use super::security::Resolved;
use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5 as p5;
use rumqttc::{TlsConfiguration, Transport};
use serde::Deserialize;
use std::time::Duration;

/// The MQTT version a source speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Protocol {
    /// MQTT 3.1.1.
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.
    #[serde(rename = "5")]
    V5,
    /// MQTT 5, falling back to 3.1.1 when the broker refuses it (and saying so).
    #[default]
    #[serde(rename = "auto")]
    Auto,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::V311 => "MQTT 3.1.1",
            Protocol::V5 => "MQTT 5",
            Protocol::Auto => "MQTT 5 or 3.1.1",
        })
    }
}

/// How to open a connection.
pub struct Options<'a> {
    pub client_id: String,
    /// Persistent session (acks after commit need it) or a throw-away one.
    pub persistent: bool,
    pub keep_alive: Duration,
    /// MQTT 5 Receive Maximum (3.1.1 has none: the broker's inflight setting applies).
    pub receive_maximum: u16,
    /// Largest packet the client accepts (and, with MQTT 5, announces to the broker).
    pub max_packet_bytes: u32,
    pub resolved: &'a Resolved,
    /// Room in the request queue.
    pub capacity: usize,
}

/// The sending half.
#[derive(Clone)]
pub enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// The receiving half (drives the connection).
pub enum Connection {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

/// A received message, kept to acknowledge it.
pub enum Delivery {
    V4(rumqttc::Publish),
    V5(p5::Publish),
}

/// What the connection produced.
pub enum Ev {
    Connected {
        session_present: bool,
    },
    Message {
        topic: Result<String, Bytes>,
        payload: Bytes,
        delivery: Box<Delivery>,
    },
    /// A SUBACK; `Some` names the refusal.
    Subscribed(Option<String>),
    /// Our DISCONNECT went out.
    DisconnectSent,
    Other,
}

/// Why the connection failed.
#[derive(Debug)]
pub enum Failure {
    /// Network trouble or a restarting broker: retry.
    Transient(String),
    /// The broker closed the connection (before CONNACK this hints at a refused protocol).
    ClosedByPeer(String),
    /// CONNACK refused the protocol version.
    ProtocolRefused(String),
    /// CONNACK refused who we are (user name, password, authorisation).
    AuthRefused(String),
    /// The TLS handshake failed on certificates or names.
    Tls(String),
    /// The broker requires a client certificate and none is configured.
    ClientCertificateRequired,
    /// Any other refusal a retry will not change.
    Refused(String),
}

fn transport(r: &Resolved) -> Transport {
    match &r.tls {
        Some(c) => Transport::Tls(TlsConfiguration::Rustls(c.clone())),
        None => Transport::Tcp,
    }
}

/// Opens (lazily: the first poll connects) a client of `protocol` (3.1.1 or 5).
pub fn open(protocol: Protocol, o: &Options<'_>) -> (Client, Connection) {
    let (host, port) = (o.resolved.url.host.clone(), o.resolved.url.port);
    if protocol == Protocol::V311 {
        let mut m = rumqttc::MqttOptions::new(o.client_id.clone(), host, port);
        let max = o.max_packet_bytes as usize;
        m.set_clean_session(!o.persistent)
            .set_manual_acks(o.persistent)
            .set_keep_alive(o.keep_alive)
            .set_max_packet_size(max, max)
            .set_transport(transport(o.resolved));
        if let Some((u, p)) = &o.resolved.credentials {
            m.set_credentials(u.clone(), p.expose());
        }
        let (c, e) = rumqttc::AsyncClient::new(m, o.capacity);
        (Client::V4(c), Connection::V4(Box::new(e)))
    } else {
        let mut m = rumqttc::v5::MqttOptions::new(o.client_id.clone(), host, port);
        m.set_clean_start(!o.persistent)
            .set_manual_acks(o.persistent)
            .set_keep_alive(o.keep_alive)
            .set_max_packet_size(Some(o.max_packet_bytes))
            .set_transport(transport(o.resolved));
        m.set_receive_maximum(Some(o.receive_maximum.max(1)));
        if o.persistent {
            // The session (subscription and unacked messages) outlives disconnects for good,
            // as a persistent MQTT 3.1.1 session does.
            m.set_session_expiry_interval(Some(u32::MAX));
        }
        if let Some((u, p)) = &o.resolved.credentials {
            m.set_credentials(u.clone(), p.expose());
        }
        let (c, e) = rumqttc::v5::AsyncClient::new(m, o.capacity);
        (Client::V5(c), Connection::V5(Box::new(e)))
    }
}

impl Client {
    /// Queues the PUBACK of `d`.
    pub fn ack(&self, d: &Delivery) -> Result<(), String> {
        match (self, d) {
            (Client::V4(c), Delivery::V4(p)) => c.try_ack(p).map_err(|e| e.to_string()),
            (Client::V5(c), Delivery::V5(p)) => c.try_ack(p).map_err(|e| e.to_string()),
            _ => Err("a message acked on a client of the other protocol".into()),
        }
    }

    /// Queues a QoS `qos` (0 or 1) SUBSCRIBE.
    pub fn subscribe(&self, filter: &str, at_least_once: bool) -> Result<(), String> {
        match self {
            Client::V4(c) => {
                let q = if at_least_once {
                    rumqttc::QoS::AtLeastOnce
                } else {
                    rumqttc::QoS::AtMostOnce
                };
                c.try_subscribe(filter, q).map_err(|e| e.to_string())
            }
            Client::V5(c) => {
                let q = if at_least_once {
                    rumqttc::v5::mqttbytes::QoS::AtLeastOnce
                } else {
                    rumqttc::v5::mqttbytes::QoS::AtMostOnce
                };
                c.try_subscribe(filter, q).map_err(|e| e.to_string())
            }
        }
    }

    /// Queues a DISCONNECT.
    pub fn disconnect(&self) {
        let _ = match self {
            Client::V4(c) => c.try_disconnect().map_err(|e| e.to_string()),
            Client::V5(c) => c.try_disconnect().map_err(|e| e.to_string()),
        };
    }
}

impl Connection {
    /// The next event, or why the connection failed.
    pub async fn poll(&mut self) -> Result<Ev, Failure> {
        match self {
            Connection::V4(e) => match e.poll().await {
                Ok(ev) => Ok(v4_event(ev)),
                Err(err) => Err(v4_failure(err)),
            },
            Connection::V5(e) => match e.poll().await {
                Ok(ev) => Ok(v5_event(ev)),
                Err(err) => Err(v5_failure(err)),
            },
        }
    }
}

fn v4_event(ev: rumqttc::Event) -> Ev {
    use rumqttc::{Event, Outgoing, Packet};
    match ev {
        Event::Incoming(Packet::ConnAck(a)) => Ev::Connected {
            session_present: a.session_present,
        },
        Event::Incoming(Packet::Publish(p)) => Ev::Message {
            topic: Ok(p.topic.clone()),
            payload: p.payload.clone(),
            delivery: Box::new(Delivery::V4(p)),
        },
        Event::Incoming(Packet::SubAck(s)) => Ev::Subscribed(
            s.return_codes
                .iter()
                .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                .then(|| format!("{:?}", s.return_codes)),
        ),
        Event::Outgoing(Outgoing::Disconnect) => Ev::DisconnectSent,
        _ => Ev::Other,
    }
}

fn v5_event(ev: rumqttc::v5::Event) -> Ev {
    use rumqttc::v5::Event;
    use rumqttc::Outgoing;
    match ev {
        Event::Incoming(p5::Packet::ConnAck(a)) => Ev::Connected {
            session_present: a.session_present,
        },
        Event::Incoming(p5::Packet::Publish(p)) => Ev::Message {
            topic: String::from_utf8(p.topic.to_vec()).map_err(|_| p.topic.clone()),
            payload: p.payload.clone(),
            delivery: Box::new(Delivery::V5(p)),
        },
        Event::Incoming(p5::Packet::SubAck(s)) => Ev::Subscribed(
            s.return_codes
                .iter()
                .any(|c| !matches!(c, p5::SubscribeReasonCode::Success(_)))
                .then(|| format!("{:?}", s.return_codes)),
        ),
        Event::Outgoing(Outgoing::Disconnect) => Ev::DisconnectSent,
        _ => Ev::Other,
    }
}

/// Sorts an I/O-level failure: a peer closing the line is told apart from the network.
fn io_failure(kind: Option<std::io::ErrorKind>, text: String) -> Failure {
    use std::io::ErrorKind as K;
    match kind {
        Some(K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe)
        | None => Failure::ClosedByPeer(text),
        Some(_) => Failure::Transient(text),
    }
}

/// An I/O error; the TLS handshake reports certificate trouble as one wrapping rustls' error.
fn io_error(io: std::io::Error) -> Failure {
    use rustls::{AlertDescription, Error as TlsError};
    match io.get_ref().and_then(|e| e.downcast_ref::<TlsError>()) {
        Some(TlsError::AlertReceived(AlertDescription::CertificateRequired)) => {
            Failure::ClientCertificateRequired
        }
        Some(tls) => Failure::Tls(tls.to_string()),
        None => io_failure(Some(io.kind()), io.to_string()),
    }
}

fn tls_failure(e: rumqttc::TlsError) -> Failure {
    match e {
        rumqttc::TlsError::Io(io) => io_error(io),
        other => Failure::Tls(other.to_string()),
    }
}

fn v4_failure(e: rumqttc::ConnectionError) -> Failure {
    use rumqttc::ConnectReturnCode as C;
    use rumqttc::{ConnectionError as E, StateError as S};
    match e {
        E::ConnectionRefused(C::RefusedProtocolVersion) => {
            Failure::ProtocolRefused("CONNACK: unacceptable protocol version".into())
        }
        E::ConnectionRefused(c @ (C::BadUserNamePassword | C::NotAuthorized)) => {
            Failure::AuthRefused(format!("CONNACK: {c:?}"))
        }
        E::ConnectionRefused(C::ServiceUnavailable) => {
            Failure::Transient("CONNACK: service unavailable".into())
        }
        E::ConnectionRefused(c) => Failure::Refused(format!("CONNACK: {c:?}")),
        E::MqttState(S::ConnectionAborted) => io_failure(None, "connection closed by peer".into()),
        // A TLS 1.3 broker refuses a missing client certificate after the handshake: the
        // alert arrives as the first read's error.
        E::MqttState(S::Io(io) | S::Deserialization(rumqttc::mqttbytes::Error::Io(io)))
        | E::Io(io) => io_error(io),
        E::Tls(t) => tls_failure(t),
        other => Failure::Transient(other.to_string()),
    }
}

fn v5_failure(e: rumqttc::v5::ConnectionError) -> Failure {
    use p5::ConnectReturnCode as C;
    use rumqttc::v5::{ConnectionError as E, StateError as S};
    match e {
        E::ConnectionRefused(C::UnsupportedProtocolVersion | C::RefusedProtocolVersion) => {
            Failure::ProtocolRefused("CONNACK: unsupported protocol version".into())
        }
        E::ConnectionRefused(
            c
            @ (C::BadUserNamePassword | C::NotAuthorized | C::Banned | C::BadAuthenticationMethod),
        ) => Failure::AuthRefused(format!("CONNACK: {c:?}")),
        E::ConnectionRefused(
            c @ (C::ServerUnavailable | C::ServerBusy | C::ConnectionRateExceeded),
        ) => Failure::Transient(format!("CONNACK: {c:?}")),
        E::ConnectionRefused(c) => Failure::Refused(format!("CONNACK: {c:?}")),
        E::MqttState(S::ConnectionAborted) => io_failure(None, "connection closed by peer".into()),
        // As under 3.1.1: a refused client certificate is the first read's error.
        E::MqttState(S::Io(io) | S::Deserialization(rumqttc::v5::mqttbytes::Error::Io(io)))
        | E::Io(io) => io_error(io),
        E::Tls(t) => tls_failure(t),
        other => Failure::Transient(other.to_string()),
    }
}
