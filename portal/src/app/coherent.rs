//! Caches that PostgreSQL keeps coherent. Every request reads its session and its user's
//! standing (active flag, roles); both change rarely, and another process may change them
//! (`ewoda user`, a second portal, an administrator's SQL). Triggers notify `ewoda_session`
//! and `ewoda_auth` with the changed key (`*` after a truncate); the listener here evicts it.
//!
//! Three rules keep a cache from serving what the database no longer says:
//! - nothing is served or kept while the listener is not connected (a notification sent then
//!   would be lost); it is emptied whenever it (re)connects;
//! - a value read from the database is kept only if no eviction happened since the read began
//!   (a ticket taken before the read, checked when keeping it), so a read that raced a change
//!   cannot put the old value back after the change's notification was handled;
//! - every entry is dropped after `max_age` whatever happens.

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// The channel of session changes (payload: the session id as stored).
pub const SESSION_CHANNEL: &str = "ewoda_session";
/// The channel of users' standing (payload: the user id).
pub const AUTH_CHANNEL: &str = "ewoda_auth";
/// The payload that empties a cache (a truncate).
const EVERYTHING: &str = "*";
/// The channel of [`Caches::settle`]'s markers.
const SETTLE_CHANNEL: &str = "ewoda_cache_settle";

/// A bounded map from keys to values read from the database, evicted by notifications.
#[derive(Debug)]
pub struct Coherent<K, V> {
    inner: Mutex<Inner<K, V>>,
    max_entries: usize,
    max_age: Duration,
}

#[derive(Debug)]
struct Inner<K, V> {
    map: HashMap<K, (V, Instant)>,
    /// Counts evictions: a read's ticket.
    epoch: u64,
    /// The listener is connected.
    live: bool,
}

/// Taken before a database read; the value read is kept only if nothing was evicted since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(Option<u64>);

impl<K: Hash + Eq + Clone, V: Clone> Coherent<K, V> {
    pub fn new(max_entries: usize, max_age: Duration) -> Self {
        Coherent {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                epoch: 0,
                live: false,
            }),
            max_entries,
            max_age,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        // A panic while holding the lock leaves only a map behind: still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept value, if the listener is connected and the value is younger than `max_age`.
    pub fn get(&self, key: &K) -> Option<V> {
        let inner = self.lock();
        if !inner.live {
            return None;
        }
        inner
            .map
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.max_age)
            .map(|(v, _)| v.clone())
    }

    /// Take before reading the database.
    pub fn ticket(&self) -> Ticket {
        let inner = self.lock();
        Ticket(inner.live.then_some(inner.epoch))
    }

    /// Keeps `value` if nothing was evicted since `ticket` was taken. When full, entries
    /// past their age go first, then everything (a rare, cheap reset rather than an LRU).
    pub fn keep(&self, ticket: Ticket, key: K, value: V) {
        let mut inner = self.lock();
        if !inner.live || ticket.0 != Some(inner.epoch) {
            return;
        }
        if inner.map.len() >= self.max_entries && !inner.map.contains_key(&key) {
            let max_age = self.max_age;
            inner.map.retain(|_, (_, at)| at.elapsed() < max_age);
            if inner.map.len() >= self.max_entries {
                inner.map.clear();
            }
        }
        inner.map.insert(key, (value, Instant::now()));
    }

    /// Forgets `key`, and voids every ticket taken so far.
    pub fn evict(&self, key: &K) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.map.remove(key);
    }

    /// Forgets everything and voids every ticket; `live` says whether the listener is
    /// connected from now on.
    pub fn reset(&self, live: bool) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.map.clear();
        inner.live = live;
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The caches of the portal.
#[derive(Debug)]
pub struct Caches {
    /// Session records by id (`tower_sessions.session`).
    pub sessions: Coherent<tower_sessions::session::Id, tower_sessions::session::Record>,
    /// Users' standing by user id (`app_user`, `user_role`).
    pub standings: Coherent<i64, crate::auth::Standing>,
    /// The last [`Caches::settle`] marker the listener has seen, and the next one to send.
    settled: tokio::sync::watch::Sender<u64>,
    markers: AtomicU64,
}

impl Caches {
    /// Entries live at most a minute; some 100,000 sessions and users fit.
    pub fn new() -> Self {
        let age = Duration::from_secs(60);
        Caches {
            sessions: Coherent::new(100_000, age),
            standings: Coherent::new(100_000, age),
            settled: tokio::sync::watch::Sender::new(0),
            markers: AtomicU64::new(1),
        }
    }

    /// Whether the listener is connected (the caches are in use).
    pub fn is_live(&self) -> bool {
        self.sessions.lock().live
    }

    /// Returns once every change committed before the call has reached the caches: a
    /// notification is delivered after those committed before it, so when the listener sees
    /// the marker sent here, it has handled theirs. For a process that changed a standing or
    /// a session with SQL and must see it on its next request (tests do).
    pub async fn settle(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        if !self.is_live() {
            return Ok(()); // nothing is served from the caches meanwhile
        }
        let marker = self.markers.fetch_add(1, Ordering::Relaxed);
        let mut seen = self.settled.subscribe();
        sqlx::query("select pg_notify($1, $2)")
            .bind(SETTLE_CHANNEL)
            .bind(marker.to_string())
            .execute(pool)
            .await?;
        let reached = tokio::time::timeout(Duration::from_secs(10), async {
            seen.wait_for(|m| *m >= marker).await.is_ok()
        })
        .await;
        if reached != Ok(true) {
            // The listener stopped or is stuck: stop serving from the caches.
            self.reset(false);
        }
        Ok(())
    }

    fn reset(&self, live: bool) {
        self.sessions.reset(live);
        self.standings.reset(live);
    }

    /// One notification: the key it names is evicted (a payload that is not a key empties
    /// the cache, to be safe).
    fn notified(&self, channel: &str, payload: &str) {
        match channel {
            SESSION_CHANNEL | AUTH_CHANNEL if payload == EVERYTHING => {
                self.sessions.reset(true);
                self.standings.reset(true);
            }
            SESSION_CHANNEL => match payload.parse::<tower_sessions::session::Id>() {
                Ok(id) => self.sessions.evict(&id),
                Err(_) => self.sessions.reset(true),
            },
            AUTH_CHANNEL => match payload.parse::<i64>() {
                Ok(user_id) => self.standings.evict(&user_id),
                Err(_) => self.standings.reset(true),
            },
            SETTLE_CHANNEL => {
                if let Ok(marker) = payload.parse::<u64>() {
                    self.settled.send_modify(|m| *m = (*m).max(marker));
                }
            }
            _ => {}
        }
    }
}

impl Default for Caches {
    fn default() -> Self {
        Caches::new()
    }
}

/// Listens on the pool for as long as `caches` exists, reconnecting after a second when the
/// connection is lost; stops when the pool is closed.
pub async fn listen(pool: PgPool, caches: Weak<Caches>) {
    loop {
        match listen_once(&pool, &caches).await {
            Ok(Ended::Dropped) | Err(sqlx::Error::PoolClosed) => return,
            Ok(Ended::Lost) => tracing::warn!("cache listener: connection lost, reconnecting"),
            Err(e) => tracing::warn!(error = %e, "cache listener: reconnecting in 1 s"),
        }
        match caches.upgrade() {
            Some(c) => c.reset(false),
            None => return,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

enum Ended {
    /// The caches are gone: nothing to keep coherent.
    Dropped,
    /// The connection was lost (notifications may have been missed).
    Lost,
}

async fn listen_once(pool: &PgPool, caches: &Weak<Caches>) -> Result<Ended, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([SESSION_CHANNEL, AUTH_CHANNEL, SETTLE_CHANNEL])
        .await?;
    match caches.upgrade() {
        Some(c) => c.reset(true),
        None => return Ok(Ended::Dropped),
    }
    // Wakes every few seconds to notice that the caches were dropped.
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        let next = tokio::select! {
            n = listener.try_recv() => n?,
            _ = tick.tick() => {
                if caches.strong_count() == 0 {
                    return Ok(Ended::Dropped);
                }
                continue;
            }
        };
        let Some(n) = next else {
            return Ok(Ended::Lost);
        };
        match caches.upgrade() {
            Some(c) => c.notified(n.channel(), n.payload()),
            None => return Ok(Ended::Dropped),
        }
    }
}

/// Starts [`listen`] on the current Tokio runtime; without one (a synchronous caller) the
/// caches stay off, which is correct, only slower.
pub fn spawn_listener(pool: &PgPool, caches: &Arc<Caches>) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(listen(pool.clone(), Arc::downgrade(caches)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> Coherent<i64, &'static str> {
        let c = Coherent::new(2, Duration::from_secs(60));
        c.reset(true);
        c
    }

    #[test]
    fn a_read_that_raced_an_eviction_is_not_kept() {
        let c = cache();
        let before = c.ticket();
        c.evict(&1);
        c.keep(before, 1, "old");
        assert_eq!(c.get(&1), None);
        let after = c.ticket();
        c.keep(after, 1, "new");
        assert_eq!(c.get(&1), Some("new"));
    }

    #[test]
    fn nothing_is_served_or_kept_while_the_listener_is_away() {
        let c = cache();
        c.keep(c.ticket(), 1, "a");
        c.reset(false);
        assert_eq!(c.get(&1), None);
        c.keep(c.ticket(), 1, "a");
        c.reset(true);
        assert_eq!(c.get(&1), None, "a reconnect starts empty");
    }

    #[test]
    fn entries_expire_and_the_map_stays_bounded() {
        let c: Coherent<i64, i64> = Coherent::new(2, Duration::ZERO);
        c.reset(true);
        c.keep(c.ticket(), 1, 1);
        assert_eq!(c.get(&1), None, "older than max_age");
        c.keep(c.ticket(), 2, 2);
        c.keep(c.ticket(), 3, 3);
        assert!(c.len() <= 2);
    }

    #[test]
    fn a_notification_evicts_its_key_and_a_star_everything() {
        let caches = Caches::new();
        caches.reset(true);
        caches
            .standings
            .keep(caches.standings.ticket(), 7, standing());
        caches
            .standings
            .keep(caches.standings.ticket(), 8, standing());
        caches.notified(AUTH_CHANNEL, "7");
        assert!(caches.standings.get(&7).is_none());
        assert!(caches.standings.get(&8).is_some());
        caches.notified(AUTH_CHANNEL, EVERYTHING);
        assert!(caches.standings.is_empty());
    }

    fn standing() -> crate::auth::Standing {
        crate::auth::Standing {
            active: true,
            roles: vec![crate::auth::Role::Customer],
            customer_id: Some(1),
        }
    }
}
