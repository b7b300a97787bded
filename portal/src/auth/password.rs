//! Password hashing: argon2id (the argon2 crate's default parameters, PHC string), at most
//! one computation per core at a time ([`Slots`]).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hashes a password with a fresh random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether the password matches the stored hash (a malformed hash never matches).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Bounds how many argon2 computations run at once. Each holds 19 MiB and a core for tens of
/// milliseconds: 200 logins at once (the portal benchmark's start) took the process to 2 GB,
/// and more at once finish no sooner than in turn. The rest wait for a slot.
#[derive(Debug)]
pub struct Slots(tokio::sync::Semaphore);

impl Slots {
    pub fn new(at_once: usize) -> Slots {
        Slots(tokio::sync::Semaphore::new(at_once.max(1)))
    }

    /// One slot per core.
    pub fn per_core() -> Slots {
        Slots::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Runs `work` on the blocking pool once a slot is free; None if it panicked.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let _slot = self.0.acquire().await.ok()?;
        tokio::task::spawn_blocking(work).await.ok()
    }
}

/// A hash of a random password, to verify against when the login does not exist, so an
/// unknown login takes as long as a wrong password (computed once per process start).
pub fn dummy_hash() -> String {
    hash(&super::random_token()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_run_at_once_than_there_are_slots() {
        let slots = Arc::new(Slots::new(2));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut all = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let (slots, now, most) = (slots.clone(), now.clone(), most.clone());
            all.spawn(async move {
                slots
                    .run(move || {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            });
        }
        let mut done = 0;
        while let Some(r) = all.join_next().await {
            assert!(r.unwrap().is_some());
            done += 1;
        }
        assert_eq!(done, 12);
        assert_eq!(most.load(Ordering::SeqCst), 2, "two at a time, never more");
    }

    #[tokio::test]
    async fn a_password_verifies_through_a_slot() {
        let slots = Slots::new(1);
        let stored = hash("correct horse").unwrap();
        let (a, b) = (stored.clone(), stored);
        assert_eq!(
            slots.run(move || verify("correct horse", &a)).await,
            Some(true)
        );
        assert_eq!(slots.run(move || verify("wrong", &b)).await, Some(false));
    }
}
