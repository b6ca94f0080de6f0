//! [`TimedCache`]: configuration and secrets fetched once per environment, reused while warm.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::record;
use crate::invocation::readiness;

/// A value fetched on first use (typically on the cold start) and reused by later
/// invocations of the environment, until its time-to-live runs out or it is
/// [`invalidate`](Self::invalidate)d — the "password rotated: refetch and retry" case.
///
/// Each fetch is recorded like a client initialization (`## init <name>`,
/// `ClientInitDuration`); each use counts as a hit or a miss in the invocation's
/// `lambda_perf` trace metadata (`cache.<name>.hits` / `.misses`). A fetch must not await
/// the value it is fetching (the same cache's `get_or_fetch`): that await waits for itself,
/// for ever.
///
/// ```
/// use std::time::Duration;
/// use lambda_perf_core::lazy::TimedCache;
///
/// static SECRET: TimedCache<String> = TimedCache::with_ttl("db-password", Duration::from_secs(300));
///
/// async fn fetch_secret() -> Result<String, std::io::Error> { Ok("hunter2".into()) }
///
/// async fn handler() -> Result<(), std::io::Error> {
///     let password = SECRET.get_or_fetch(fetch_secret).await?;
///     # let login_failed = false;
///     if login_failed {
///         SECRET.invalidate(); // the next use fetches again
///     }
///     # let _ = password;
///     Ok(())
/// }
/// ```
pub struct TimedCache<T> {
    name: &'static str,
    ttl: Option<Duration>,
    value: RwLock<Slot<T>>,
    fetching: tokio::sync::Mutex<()>,
}

/// The cached value, if any, with when it was fetched; and how many times the cache was
/// invalidated, so that a fetch that began before an invalidation does not refill it.
struct Slot<T> {
    value: Option<(Arc<T>, Fetched)>,
    invalidations: u64,
}

/// When a value was fetched: on the monotonic clock, and how many SnapStart restores the
/// process had seen then.
#[derive(Clone, Copy)]
struct Fetched {
    at: Instant,
    restores: u32,
}

impl Fetched {
    fn now() -> Self {
        Self {
            at: Instant::now(),
            restores: readiness::restores(),
        }
    }

    /// Whether `ttl` has run out since. A value fetched before a SnapStart snapshot has: the
    /// monotonic clock barely moved while the snapshot was kept (minutes or days), so its
    /// age is unknown after the restore.
    fn expired(self, ttl: Duration) -> bool {
        self.restores != readiness::restores() || self.at.elapsed() >= ttl
    }
}

impl<T> Slot<T> {
    const EMPTY: Self = Self {
        value: None,
        invalidations: 0,
    };
}

impl<T> TimedCache<T> {
    /// A value kept until invalidated.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            ttl: None,
            value: RwLock::new(Slot::EMPTY),
            fetching: tokio::sync::Mutex::const_new(()),
        }
    }

    /// A value kept for `ttl` after each fetch. A value fetched before a SnapStart snapshot
    /// is expired in every environment restored from it (the time the snapshot was kept
    /// does not show on the monotonic clock): the first use after the restore fetches again.
    pub const fn with_ttl(name: &'static str, ttl: Duration) -> Self {
        Self {
            name,
            ttl: Some(ttl),
            value: RwLock::new(Slot::EMPTY),
            fetching: tokio::sync::Mutex::const_new(()),
        }
    }

    /// The cached value, or a fresh one from `fetch` when there is none or it expired. One
    /// fetch runs at a time; callers arriving meanwhile wait for it. A failed fetch caches
    /// nothing, and neither does a fetch the cache was [`invalidate`](Self::invalidate)d
    /// during (it may have read what the invalidation is about): its caller gets its value,
    /// the next use fetches again.
    pub async fn get_or_fetch<F, Fut, E>(&self, fetch: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        if let Some(value) = self.fresh() {
            record::count_cache(self.name, true);
            return Ok(value);
        }
        let fetching = AtomicBool::new(false);
        record::slow_path_async(self.name, &fetching, async {
            let _one_fetch = self.fetching.lock().await;
            if let Some(value) = self.fresh() {
                record::count_cache(self.name, true);
                return Ok(value);
            }
            record::count_cache(self.name, false);
            fetching.store(true, Ordering::Relaxed);
            let invalidations = self.slot().invalidations;
            let fetched = record::time_async(self.name, fetch).await?;
            let value = Arc::new(fetched);
            // The value replaced (expired) is dropped after the lock is released, as in
            // `invalidate`.
            let _replaced = {
                let mut slot = self.value.write().unwrap_or_else(PoisonError::into_inner);
                (slot.invalidations == invalidations)
                    .then(|| slot.value.replace((Arc::clone(&value), Fetched::now())))
            };
            Ok(value)
        })
        .await
    }

    /// Forgets the value: the next use fetches again, also when a fetch is under way (its
    /// value, which may predate what made the value stale, is not kept).
    ///
    /// The value forgotten is dropped (if no caller holds it still) after the cache's lock is
    /// released: its `Drop` may take time, or use this cache, without holding up or
    /// deadlocking the cache's other users.
    pub fn invalidate(&self) {
        let _forgotten = {
            let mut slot = self.value.write().unwrap_or_else(PoisonError::into_inner);
            slot.invalidations = slot.invalidations.wrapping_add(1);
            slot.value.take()
        };
    }

    /// The value if it is cached and not expired.
    pub fn get_if_fresh(&self) -> Option<Arc<T>> {
        self.fresh()
    }

    fn slot(&self) -> std::sync::RwLockReadGuard<'_, Slot<T>> {
        self.value.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh(&self) -> Option<Arc<T>> {
        let slot = self.slot();
        let (value, fetched) = slot.value.as_ref()?;
        match self.ttl {
            Some(ttl) if fetched.expired(ttl) => None,
            _ => Some(Arc::clone(value)),
        }
    }
}

impl<T> fmt::Debug for TimedCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedCache")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
