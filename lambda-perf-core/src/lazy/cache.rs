//! [`TimedCache`]: configuration and secrets fetched once per environment, reused while warm.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::record;

/// A value fetched on first use (typically on the cold start) and reused by later
/// invocations of the environment, until its time-to-live runs out or it is
/// [`invalidate`](Self::invalidate)d — the "password rotated: refetch and retry" case.
///
/// Each fetch is recorded like a client initialization (`## init <name>`,
/// `ClientInitDuration`); each use counts as a hit or a miss in the invocation's
/// `lambda_perf` trace metadata (`cache.<name>.hits` / `.misses`).
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
    value: RwLock<Option<(Arc<T>, Instant)>>,
    fetching: tokio::sync::Mutex<()>,
}

impl<T> TimedCache<T> {
    /// A value kept until invalidated.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            ttl: None,
            value: RwLock::new(None),
            fetching: tokio::sync::Mutex::const_new(()),
        }
    }

    /// A value kept for `ttl` after each fetch.
    pub const fn with_ttl(name: &'static str, ttl: Duration) -> Self {
        Self {
            name,
            ttl: Some(ttl),
            value: RwLock::new(None),
            fetching: tokio::sync::Mutex::const_new(()),
        }
    }

    /// The cached value, or a fresh one from `fetch` when there is none or it expired. One
    /// fetch runs at a time; callers arriving meanwhile wait for it. A failed fetch caches
    /// nothing.
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
        record::slow_path_async(self.name, async {
            let _one_fetch = self.fetching.lock().await;
            if let Some(value) = self.fresh() {
                record::count_cache(self.name, true);
                return (Ok(value), false);
            }
            record::count_cache(self.name, false);
            let fetched = match record::time_async(self.name, fetch).await {
                Ok(fetched) => fetched,
                Err(error) => return (Err(error), true),
            };
            let value = Arc::new(fetched);
            *self.value.write().unwrap_or_else(PoisonError::into_inner) =
                Some((Arc::clone(&value), Instant::now()));
            (Ok(value), true)
        })
        .await
    }

    /// Forgets the value: the next use fetches again.
    pub fn invalidate(&self) {
        *self.value.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The value if it is cached and not expired.
    pub fn get_if_fresh(&self) -> Option<Arc<T>> {
        self.fresh()
    }

    fn fresh(&self) -> Option<Arc<T>> {
        let guard = self.value.read().unwrap_or_else(PoisonError::into_inner);
        let (value, fetched) = guard.as_ref()?;
        match self.ttl {
            Some(ttl) if fetched.elapsed() >= ttl => None,
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
