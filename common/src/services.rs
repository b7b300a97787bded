//! The real components ewoda runs on: PostgreSQL and an MQTT broker. With `DATABASE_URL` /
//! `MQTT_URL` set, those are used; otherwise ewoda starts private instances — a PostgreSQL
//! cluster (initdb/pg_ctl from the installed server binaries) and a `mosquitto` — in its data
//! directory on free loopback ports, and stops them when dropped or on [`Services::stop`].
//!
//! As root, PostgreSQL refuses to run, so the private cluster runs as the `postgres` user
//! (`runuser`) on a data directory that user owns.
//!
//! Neither private instance trusts whoever connects: the cluster is initialised with
//! scram-sha-256 and a generated password kept in `<pg data dir>/ewoda-password`, the broker
//! requires user `ewoda` with a generated password kept in `<mqtt dir>/ewoda-password` (both
//! files mode 0600). A cluster initialised by an older ewoda (trust, no password file) is
//! still used, with a warning.

use crate::Error;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where to find or how to start the components.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub database_url: Option<String>,
    pub mqtt_url: Option<String>,
    /// Holds `pg/` and `mqtt/` for the private instances.
    pub data_dir: PathBuf,
    /// Install missing server packages with apt-get (only when running as root).
    pub install_missing: bool,
}

/// Running components; private ones stop when this is dropped. `Debug` blanks the passwords.
pub struct Services {
    pub database_url: String,
    pub mqtt_url: String,
    postgres: Option<PrivatePostgres>,
    mosquitto: Option<PrivateMosquitto>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field(
                "database_url",
                &crate::secret::redact_url(&self.database_url),
            )
            .field("mqtt_url", &crate::secret::redact_url(&self.mqtt_url))
            .field("postgres", &self.postgres)
            .field("mosquitto", &self.mosquitto)
            .finish()
    }
}

impl Services {
    /// Uses the given URLs or starts private instances. On failure nothing stays running.
    pub fn start(opts: &ServiceOptions) -> Result<Services, Error> {
        let (database_url, postgres) = match &opts.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let pg = PrivatePostgres::start(&opts.data_dir.join("pg"), opts.install_missing)?;
                (pg.url("ewoda"), Some(pg))
            }
        };
        // If the broker fails, `postgres` is dropped here and its cluster stopped.
        let (mqtt_url, mosquitto) = match &opts.mqtt_url {
            Some(url) => (url.clone(), None),
            None => {
                let m = PrivateMosquitto::start(&opts.data_dir.join("mqtt"), opts.install_missing)?;
                (m.url(), Some(m))
            }
        };
        Ok(Services {
            database_url,
            mqtt_url,
            postgres,
            mosquitto,
        })
    }

    pub fn private_postgres(&self) -> Option<&PrivatePostgres> {
        self.postgres.as_ref()
    }

    pub fn private_mosquitto(&self) -> Option<&PrivateMosquitto> {
        self.mosquitto.as_ref()
    }

    /// Stops the private instances now (dropping does the same).
    pub fn stop(mut self) {
        if let Some(m) = self.mosquitto.take() {
            m.stop();
        }
        if let Some(pg) = self.postgres.take() {
            pg.stop();
        }
    }
}

/// A PostgreSQL cluster owned by this process.
#[derive(Debug)]
pub struct PrivatePostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    run_as_postgres: bool,
    stopped: bool,
    /// The `postgres` user's password; None for an old trust-auth cluster.
    password: Option<crate::secret::Password>,
}

impl PrivatePostgres {
    /// Initialises `data_dir` when empty, starts the server on a free port and creates the
    /// `ewoda` database.
    pub fn start(data_dir: &Path, install_missing: bool) -> Result<Self, Error> {
        let bin_dir = postgres_bin_dir(install_missing)?;
        let run_as_postgres = is_root();
        let data_dir = usable_data_dir(data_dir, run_as_postgres)?;
        let mut pg = PrivatePostgres {
            bin_dir,
            data_dir,
            port: 0,
            run_as_postgres,
            stopped: true,
            password: None,
        };
        pg.init_if_needed()?;
        pg.password = pg.read_password()?;
        pg.port = free_port()?;
        pg.launch()?;
        pg.stopped = false;
        pg.create_database("ewoda")?;
        Ok(pg)
    }

    /// A URL for a database of this cluster (with the generated password in it).
    pub fn url(&self, database: &str) -> String {
        match &self.password {
            Some(p) => format!(
                "postgres://postgres:{}@127.0.0.1:{}/{database}",
                p.expose(),
                self.port
            ),
            None => format!("postgres://postgres@127.0.0.1:{}/{database}", self.port),
        }
    }

    /// The file holding the `postgres` user's generated password (mode 0600).
    pub fn password_file(&self) -> PathBuf {
        self.data_dir.join(PASSWORD_FILE)
    }

    /// The generated password, or None for a cluster an older ewoda set up with trust.
    fn read_password(&self) -> Result<Option<crate::secret::Password>, Error> {
        let path = self.password_file();
        match std::fs::read_to_string(&path) {
            Ok(p) => Ok(Some(crate::secret::Password::new(p.trim_end()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(dir = %self.data_dir.display(), "the private PostgreSQL was set up with trust authentication by an older ewoda: anyone on this machine can connect; remove the directory to start afresh with a password");
                Ok(None)
            }
            Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops and starts the server on the same port (used by the restart-mid-stream tests).
    pub fn restart(&mut self) -> Result<(), Error> {
        self.pg_ctl_stop()?;
        self.launch()
    }

    /// Stops the server, waiting for it to shut down.
    pub fn stop(mut self) {
        if let Err(e) = self.pg_ctl_stop() {
            tracing::warn!(error = %e, "stopping the private PostgreSQL failed");
        }
        self.stopped = true;
    }

    fn init_if_needed(&self) -> Result<(), Error> {
        let d = &self.data_dir;
        if d.join("PG_VERSION").exists() {
            if !d.join("global").join("pg_control").exists() {
                return Err(Error::DataDir {
                    path: d.clone(),
                    reason: "PG_VERSION is there but global/pg_control is missing (corrupt cluster): remove the directory to start afresh".into(),
                });
            }
            return Ok(());
        }
        let non_empty = std::fs::read_dir(d)
            .map(|mut it| it.next().is_some())
            .unwrap_or(false);
        if non_empty {
            return Err(Error::DataDir {
                path: d.clone(),
                reason: "it is not empty and holds no PostgreSQL cluster (no PG_VERSION): remove it or set EWODA_DATA_DIR elsewhere".into(),
            });
        }
        std::fs::create_dir_all(d).map_err(Error::io(format!("creating {}", d.display())))?;
        self.chown_to_postgres(d)?;
        let password = crate::secret::Password::generate()?;
        // initdb wants an empty directory, so its password file sits beside it meanwhile.
        let pwfile = d.with_extension("initdb-password");
        write_private(&pwfile, password.expose())?;
        self.chown_to_postgres(&pwfile)?;
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(d)
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ])
            .output()
            .map_err(Error::io("running initdb"));
        let _ = std::fs::remove_file(&pwfile);
        let out = out?;
        if !out.status.success() {
            return Err(Error::ServiceStart {
                service: "PostgreSQL (initdb)",
                reason: last_line(&out.stderr),
            });
        }
        write_private(&self.password_file(), password.expose())
    }

    fn launch(&self) -> Result<(), Error> {
        let status = self
            .command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(Error::io("running pg_ctl status"))?;
        if status.success() {
            return Err(Error::DataDir {
                path: self.data_dir.clone(),
                reason: "another PostgreSQL is already running on it (another `ewoda demo`?): stop it or use another EWODA_DATA_DIR".into(),
            });
        }
        let log = self.data_dir.join("server.log");
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200 -c shared_buffers=256MB -c fsync=on",
            self.port,
            self.data_dir.display()
        );
        let out = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(opts)
            .output()
            .map_err(Error::io("running pg_ctl start"))?;
        if !out.status.success() {
            let tail = std::fs::read_to_string(&log)
                .ok()
                .and_then(|l| {
                    l.lines()
                        .rev()
                        .find(|x| !x.trim().is_empty())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| last_line(&out.stderr));
            return Err(Error::ServiceStart {
                service: "PostgreSQL",
                reason: format!("{tail} (log: {})", log.display()),
            });
        }
        Ok(())
    }

    fn create_database(&self, name: &str) -> Result<(), Error> {
        let psql = self.bin_dir.join("psql");
        let sql = format!("select 1 from pg_database where datname = '{name}'");
        let exists = self
            .client(&psql)
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-p",
                &self.port.to_string(),
                "-tAc",
                &sql,
                "postgres",
            ])
            .output()
            .map_err(Error::io("running psql"))?;
        if String::from_utf8_lossy(&exists.stdout).trim() == "1" {
            return Ok(());
        }
        let out = self
            .client(&self.bin_dir.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-p",
                &self.port.to_string(),
                name,
            ])
            .output()
            .map_err(Error::io("running createdb"))?;
        if !out.status.success() {
            return Err(Error::ServiceStart {
                service: "PostgreSQL (createdb)",
                reason: last_line(&out.stderr),
            });
        }
        Ok(())
    }

    fn pg_ctl_stop(&self) -> Result<(), Error> {
        let out = self
            .command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-t", "60", "-D"])
            .arg(&self.data_dir)
            .output()
            .map_err(Error::io("running pg_ctl stop"))?;
        if !out.status.success() {
            return Err(Error::ServiceStart {
                service: "PostgreSQL (stop)",
                reason: last_line(&out.stderr),
            });
        }
        Ok(())
    }

    /// A client program (psql, createdb) with the password in its environment.
    fn client(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        if let Some(p) = &self.password {
            c.env("PGPASSWORD", p.expose());
        }
        c
    }

    /// A server binary, run as the `postgres` user when we are root.
    fn command(&self, program: &str) -> Command {
        let bin = self.bin_dir.join(program);
        if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            Command::new(bin)
        }
    }

    fn chown_to_postgres(&self, dir: &Path) -> Result<(), Error> {
        if !self.run_as_postgres {
            return Ok(());
        }
        let (uid, gid) = os_user("postgres").ok_or(Error::MissingBinary {
            program: "the `postgres` system user",
            package: "postgresql",
        })?;
        std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(Error::io(format!(
            "giving {} to the postgres user",
            dir.display()
        )))
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.pg_ctl_stop();
            self.stopped = true;
        }
    }
}

/// A Mosquitto broker owned by this process.
#[derive(Debug)]
pub struct PrivateMosquitto {
    child: Option<std::process::Child>,
    port: u16,
    dir: PathBuf,
    binary: PathBuf,
    /// The password of [`MQTT_USER`], kept in [`PrivateMosquitto::password_file`].
    password: crate::secret::Password,
}

/// The one user of the private broker.
pub const MQTT_USER: &str = "ewoda";

impl PrivateMosquitto {
    /// Starts `mosquitto` with a generated config on a free loopback port.
    pub fn start(dir: &Path, install_missing: bool) -> Result<Self, Error> {
        let binary = locate(
            "mosquitto",
            &["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"],
        )
        .or_else(|| {
            install_missing
                .then(|| apt_install("mosquitto").ok())
                .flatten()
                .and_then(|_| locate("mosquitto", &["/usr/sbin/mosquitto"]))
        })
        .ok_or(Error::MissingBinary {
            program: "mosquitto (MQTT broker)",
            package: "mosquitto",
        })?;
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let password = broker_password(dir)?;
        let mut m = PrivateMosquitto {
            child: None,
            port: free_port()?,
            dir: dir.to_path_buf(),
            binary,
            password,
        };
        m.launch()?;
        Ok(m)
    }

    /// The user clients log in as ([`MQTT_USER`]).
    pub fn username(&self) -> &str {
        MQTT_USER
    }

    /// The generated password of [`MQTT_USER`].
    pub fn password(&self) -> &crate::secret::Password {
        &self.password
    }

    /// The file holding that password (mode 0600), for a collector's `password_file`.
    pub fn password_file(&self) -> PathBuf {
        self.dir.join(PASSWORD_FILE)
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops and starts the broker on the same port, keeping its persistent sessions.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.kill();
        self.launch()
    }

    pub fn stop(mut self) {
        self.kill();
    }

    fn launch(&mut self) -> Result<(), Error> {
        let conf = self.dir.join("mosquitto.conf");
        let passwd = self.dir.join("mosquitto.passwd");
        let salt = crate::secret::random_bytes::<12>()?;
        write_private(
            &passwd,
            &mosquitto_password_line(MQTT_USER, self.password.expose(), &salt),
        )?;
        let mut text = format!(
            "listener {} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence true\npersistence_location {}/\nautosave_interval 1\nmax_queued_messages 100000\nlog_dest stderr\n",
            self.port,
            passwd.display(),
            self.dir.display()
        );
        if is_root() {
            // Stay root so the broker can write its persistence file in our directory.
            text.push_str("user root\n");
        }
        std::fs::write(&conf, text).map_err(Error::io(format!("writing {}", conf.display())))?;
        let log_path = self.dir.join("mosquitto.log");
        let log = std::fs::File::create(&log_path)
            .map_err(Error::io(format!("creating {}", log_path.display())))?;
        // Its own process group: a Ctrl-C in the terminal reaches ewoda, which drains its
        // clients and then stops the broker, rather than the broker dying first.
        let child = Command::new(&self.binary)
            .process_group(0)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(Error::io("starting mosquitto"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
                .is_some();
            if exited || Instant::now() > deadline {
                self.kill();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(Error::ServiceStart {
                    service: "mosquitto",
                    reason: log
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("no output")
                        .to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM via kill(1) lets mosquitto save its persistence file; fall back to SIGKILL.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateMosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Binds port 0 on loopback to learn a free port.
/// The broker password kept in `dir`, generated (and kept, 0600) on the first start.
fn broker_password(dir: &Path) -> Result<crate::secret::Password, Error> {
    let path = dir.join(PASSWORD_FILE);
    match std::fs::read_to_string(&path) {
        Ok(p) => Ok(crate::secret::Password::new(p.trim_end())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let p = crate::secret::Password::generate()?;
            write_private(&path, p.expose())?;
            Ok(p)
        }
        Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
    }
}

/// One line of a Mosquitto password file as `mosquitto_passwd` writes it (Mosquitto ≥ 2.0):
/// `user:$7$101$<salt>$<hash>`, the hash PBKDF2-HMAC-SHA512 over 101 iterations, both
/// standard base64. Generated here so no `mosquitto_passwd` is needed.
pub fn mosquitto_password_line(user: &str, password: &str, salt: &[u8]) -> String {
    use base64::Engine;
    const ITERATIONS: u32 = 101;
    let hash = pbkdf2_sha512(password.as_bytes(), salt, ITERATIONS);
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "{user}:$7${ITERATIONS}${}${}\n",
        b64.encode(salt),
        b64.encode(hash)
    )
}

/// PBKDF2 (RFC 8018) with HMAC-SHA512, one 64-byte block.
fn pbkdf2_sha512(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 64] {
    use hmac::{Hmac, Mac};
    type HmacSha512 = Hmac<sha2::Sha512>;
    let prf = HmacSha512::new_from_slice(password).expect("HMAC takes a key of any length");
    let mut mac = prf.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u = [0u8; 64];
    u.copy_from_slice(&mac.finalize().into_bytes());
    let mut out = u;
    for _ in 1..iterations {
        let mut mac = prf.clone();
        mac.update(&u);
        u.copy_from_slice(&mac.finalize().into_bytes());
        out.iter_mut().zip(u.iter()).for_each(|(o, x)| *o ^= x);
    }
    out
}

/// Name of the generated-password file in a private instance's directory.
pub const PASSWORD_FILE: &str = "ewoda-password";

/// Creates `path` readable by its owner only (0600) with `contents`; an existing file is
/// replaced.
fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io(format!("creating {}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(Error::io(format!("writing {}", path.display())))
}

pub fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(Error::io("finding a free port"))?;
    Ok(l.local_addr()
        .map_err(Error::io("finding a free port"))?
        .port())
}

/// Whether the effective user is root (from /proc, to avoid a libc dependency).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Finds a program on PATH or at one of the given paths.
pub fn locate(program: &str, extra: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .chain(extra.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// Installs a Debian package with apt-get (root only).
pub fn apt_install(package: &str) -> Result<(), Error> {
    if !is_root() {
        return Err(Error::Install {
            package: package.into(),
            reason: "not running as root: run `sudo apt-get install ".to_string() + package + "`",
        });
    }
    tracing::info!(package, "installing with apt-get");
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    let update = Command::new("apt-get").arg("update").envs(env).output();
    let install = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", package])
        .envs(env)
        .output();
    match (update, install) {
        (_, Ok(o)) if o.status.success() => Ok(()),
        (_, Ok(o)) => Err(Error::Install {
            package: package.into(),
            reason: last_line(&o.stderr),
        }),
        (_, Err(e)) => Err(Error::Install {
            package: package.into(),
            reason: e.to_string(),
        }),
    }
}

/// The directory holding initdb/pg_ctl/postgres: from PATH, else the newest
/// /usr/lib/postgresql/<version>/bin.
fn postgres_bin_dir(install_missing: bool) -> Result<PathBuf, Error> {
    let find = || {
        if let Some(p) = locate("pg_ctl", &[]) {
            let real = std::fs::canonicalize(&p).unwrap_or(p);
            if let Some(dir) = real.parent() {
                if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
                    return Some(dir.to_path_buf());
                }
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("pg_ctl").is_file().then_some((v, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, p)| p)
    };
    if let Some(d) = find() {
        return Ok(d);
    }
    if install_missing && is_root() {
        apt_install("postgresql")?;
        if let Some(d) = find() {
            return Ok(d);
        }
    }
    Err(Error::MissingBinary {
        program: "PostgreSQL server (initdb, pg_ctl)",
        package: "postgresql",
    })
}

/// The data directory to use: `wanted`, unless we are root and the `postgres` user cannot reach
/// it (e.g. the project lives under /root), in which case a directory under /var/tmp.
fn usable_data_dir(wanted: &Path, as_postgres: bool) -> Result<PathBuf, Error> {
    let parent = wanted.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(Error::io(format!("creating {}", parent.display())))?;
    let abs = std::fs::canonicalize(parent)
        .map_err(Error::io(format!("resolving {}", parent.display())))?
        .join(wanted.file_name().unwrap_or("pg".as_ref()));
    if !as_postgres {
        return Ok(abs);
    }
    let reachable = Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(abs.parent().unwrap_or(Path::new("/")))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if reachable {
        return Ok(abs);
    }
    let tag: u64 = abs
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
    let alt = PathBuf::from(format!("/var/tmp/ewoda-pg-{tag:016x}"));
    tracing::info!(wanted = %abs.display(), using = %alt.display(), "the postgres user cannot reach the data directory; using another");
    Ok(alt)
}

/// uid and gid of a system user, from /etc/passwd.
fn os_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mosquitto_password_lines_are_pbkdf2_sha512() {
        // Reference values from Python's hashlib.pbkdf2_hmac.
        assert_eq!(
            hex::encode(pbkdf2_sha512(b"password", b"salt", 1)),
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce"
        );
        let salt: Vec<u8> = (0..12).collect();
        assert_eq!(
            mosquitto_password_line("ewoda", "hunter2", &salt),
            "ewoda:$7$101$AAECAwQFBgcICQoL$VWxVANxkFeHCm5uOn8rOPTQDMK9mSE/ohhmzvuRzpMN2gHRxlNxYm7W8MbMYzkkdo0UinpiCpO1MXzUiHFrHig==\n"
        );
    }
}
