//! Private brokers started by a test: a Mosquitto with a password file, a plain and a TLS
//! listener (certificates made with openssl for the test), and a NATS server with its MQTT
//! gateway. Each runs in its own directory on free loopback ports and stops when dropped.
#![allow(dead_code)]

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free loopback TCP port (bound once, then released for the broker).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
        .unwrap_or(false)
}

/// A fresh directory under the system's temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(super::broker::unique(tag));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A CA (`ca.pem`, `ca.key`) and a server certificate it signed for localhost/127.0.0.1.
pub struct Certs {
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// A self-signed CA named `name` in `dir`; returns (cert, key).
pub fn make_ca(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj"])
        .arg(format!("/CN={name}"))
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args([
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    (cert, key)
}

/// A CA and the broker's certificate.
pub fn make_certs(dir: &Path) -> Certs {
    let (ca, ca_key) = make_ca(dir, "ca");
    let (csr, server_cert, server_key, ext) = (
        dir.join("server.csr"),
        dir.join("server.pem"),
        dir.join("server.key"),
        dir.join("server.ext"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&server_key)
        .arg("-out")
        .arg(&csr));
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(&ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .args(["-CAcreateserial", "-out"])
        .arg(&server_cert)
        .arg("-extfile")
        .arg(&ext));
    Certs {
        ca,
        ca_key,
        server_cert,
        server_key,
    }
}

/// A client certificate `name` (for TLS client authentication) signed by `ca`/`ca_key`;
/// returns (cert, key).
pub fn make_client_cert(dir: &Path, ca: &Path, ca_key: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (csr, cert, key, ext) = (
        dir.join(format!("{name}.csr")),
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.ext")),
    );
    std::fs::write(
        &ext,
        "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-subj"])
        .arg(format!("/CN={name}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(ca)
        .arg("-CAkey")
        .arg(ca_key)
        .args(["-CAcreateserial", "-out"])
        .arg(&cert)
        .arg("-extfile")
        .arg(&ext));
    (cert, key)
}

/// A running broker process and its directory.
pub struct Broker {
    child: Child,
    pub dir: PathBuf,
    /// Plain MQTT listener.
    pub port: u16,
    /// TLS listener (Mosquitto) or 0.
    pub tls_port: u16,
    /// TLS listener that also requires a client certificate signed by the CA (Mosquitto) or 0.
    pub mtls_port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until something accepts TCP on `port`.
fn wait_listening(port: u16, child: &mut Child) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the broker exited: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "broker not listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Mosquitto that admits only `user`/`password`, on a plain and a TLS listener, and a third
/// TLS listener that also requires a client certificate signed by the test CA.
pub fn mosquitto_with_auth(user: &str, password: &str) -> (Broker, Certs) {
    let dir = scratch_dir("mosq");
    let certs = make_certs(&dir);
    let passwd = dir.join("passwd");
    run(Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwd)
        .args([user, password]));
    let (port, tls_port, mtls_port) = (free_port(), free_port(), free_port());
    let mut conf = format!(
        "per_listener_settings false\nallow_anonymous false\npassword_file {}\npersistence false\nlog_dest stderr\n\
         listener {port} 127.0.0.1\n\
         listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n\
         listener {mtls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate true\n",
        passwd.display(),
        ca = certs.ca.display(),
        cert = certs.server_cert.display(),
        key = certs.server_key.display(),
    );
    if is_root() {
        conf.push_str("user root\n");
    }
    let conf_path = dir.join("mosquitto.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto (apt-get install mosquitto)");
    wait_listening(port, &mut child);
    wait_listening(tls_port, &mut child);
    wait_listening(mtls_port, &mut child);
    (
        Broker {
            child,
            dir,
            port,
            tls_port,
            mtls_port,
        },
        certs,
    )
}

/// nats-server with JetStream and its MQTT gateway (MQTT 3.1.1 only) on free ports.
pub fn nats_mqtt() -> Broker {
    let dir = scratch_dir("nats");
    let (client_port, port) = (free_port(), free_port());
    let conf = format!(
        "server_name: ewoda_test_{client_port}\nlisten: 127.0.0.1:{client_port}\n\
         jetstream {{ store_dir: \"{}\" }}\nmqtt {{ listen: 127.0.0.1:{port} }}\n",
        dir.join("js").display()
    );
    let conf_path = dir.join("nats.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut child = Command::new("nats-server")
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server (apt-get install nats-server)");
    wait_listening(port, &mut child);
    Broker {
        child,
        dir,
        port,
        tls_port: 0,
        mtls_port: 0,
    }
}

/// Publishes with QoS 1 over MQTT 3.1.1 to `host`:`port` (as `user` when given) and waits
/// for every PUBACK.
pub async fn publish_to(
    host: &str,
    port: u16,
    login: Option<(&str, &str)>,
    msgs: &[(String, Vec<u8>)],
) {
    let mut opts = MqttOptions::new(super::broker::unique("pub"), host, port);
    opts.set_inflight(100).set_max_packet_size(1 << 20, 1 << 20);
    if let Some((u, p)) = login {
        opts.set_credentials(u, p);
    }
    let (client, mut events) = AsyncClient::new(opts, msgs.len() + 10);
    for (t, p) in msgs {
        client
            .publish(t.clone(), QoS::AtLeastOnce, false, p.clone())
            .await
            .unwrap();
    }
    let mut acked = 0;
    while acked < msgs.len() {
        match tokio::time::timeout(Duration::from_secs(20), events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
            Ok(Ok(_)) => {}
            other => panic!("publisher: {other:?}"),
        }
    }
    client.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(1), events.poll()).await;
}
