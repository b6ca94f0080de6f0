//! Timed lazy clients: see what init code and lazily created clients cost, per client.
//!
//! What runs before and during the first invocation — SDK clients, connection pools,
//! configuration and secrets fetched at start — is the biggest lever on cold starts. These
//! drop-in replacements for `LazyLock`, `tokio::sync::OnceCell` and a fetch-once cache record,
//! per named client, how long creation took and when it happened:
//!
//! - at **init** (before the first invocation, e.g. with `init_now()` in `main`): the records
//!   are kept and attached to the first invocation — `ClientInitDuration` values on its
//!   `ColdStart` line and `lambda_perf.init_clients` metadata on its handler subsegment (Lambda
//!   allows no trace data outside a handler);
//! - inside an **invocation** (lazily; the caller waited): a `## init <name>` subsegment with
//!   the duration, phase and outcome, and a `ClientInitDuration` metric with the dimension
//!   `client`.
//!
//! Warm uses record nothing and cost what `OnceLock::get` costs.
//!
//! | type | like | initializer |
//! |---|---|---|
//! | [`TimedLazy`] | `std::sync::LazyLock` | a function |
//! | [`TimedAsyncLazy`] | `tokio::sync::OnceCell` | a future returning `Result` (an `Err` is retried on the next use) |
//! | [`TimedCache`] | a cached value with a time-to-live and [`invalidate`](TimedCache::invalidate) | a future returning `Result`, per fetch |

mod asynchronous;
mod cache;
mod record;
mod sync;

pub use self::asynchronous::{InitFuture, TimedAsyncLazy};
pub use self::cache::TimedCache;
pub use self::record::{InitRecord, Phase};
pub(crate) use self::record::{metadata as init_metadata, take_pending};
pub use self::sync::TimedLazy;
