//! [`TimedAsyncLazy`]: an asynchronously initialized value whose initialization is recorded.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::OnceCell;

use super::record;

/// The future an asynchronous initializer returns (boxed, so the cell can be a `static`;
/// allocated once, on initialization).
pub type InitFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A value initialized by a future on first use, like `tokio::sync::OnceCell`, whose
/// initialization is recorded like [`TimedLazy`](super::TimedLazy)'s. The initializer returns
/// a `Result`: an `Err` leaves the cell empty, so the next use retries, and the failure is
/// recorded (the `## init <name>` subsegment faults). As with `tokio::sync::OnceCell`, an
/// initializer must not await the value it is creating: that await waits for itself, for
/// ever.
///
/// ```
/// use lambda_perf_core::lazy::TimedAsyncLazy;
///
/// struct Pool;
/// async fn connect() -> Result<Pool, std::io::Error> { Ok(Pool) }
///
/// static POOL: TimedAsyncLazy<Pool, std::io::Error> =
///     TimedAsyncLazy::new("postgres", || Box::pin(connect()));
///
/// async fn handler() -> Result<(), std::io::Error> {
///     let _pool: &Pool = POOL.get().await?;
///     Ok(())
/// }
/// ```
pub struct TimedAsyncLazy<T, E = Infallible> {
    name: &'static str,
    cell: OnceCell<T>,
    init: fn() -> InitFuture<Result<T, E>>,
}

impl<T, E: fmt::Display> TimedAsyncLazy<T, E> {
    /// A value named `name` (the `client` dimension) made by `init` on first use.
    pub const fn new(name: &'static str, init: fn() -> InitFuture<Result<T, E>>) -> Self {
        Self {
            name,
            cell: OnceCell::const_new(),
            init,
        }
    }

    /// The value, initializing it first if needed. Concurrent first uses initialize once;
    /// the others wait. After a failure the next use tries again.
    pub async fn get(&self) -> Result<&T, E> {
        if let Some(value) = self.cell.get() {
            return Ok(value);
        }
        let initializing = AtomicBool::new(false);
        record::slow_path_async(
            self.name,
            &initializing,
            self.cell.get_or_try_init(|| {
                initializing.store(true, Ordering::Relaxed);
                record::time_async(self.name, self.init)
            }),
        )
        .await
    }

    /// Initializes now (in `main`, before the runtime starts, for an eager client).
    pub async fn init_now(&self) -> Result<&T, E> {
        self.get().await
    }

    /// The value if it is initialized, without initializing it.
    pub fn get_if_initialized(&self) -> Option<&T> {
        self.cell.get()
    }

    /// The name given at creation.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<T: fmt::Debug, E> fmt::Debug for TimedAsyncLazy<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedAsyncLazy")
            .field("name", &self.name)
            .field("value", &self.cell.get())
            .finish()
    }
}
