//! Timed lazy clients: see what init code and lazily created clients cost, per client.
//!
//! What runs before and during the first invocation — SDK clients, connection pools,
//! configuration and secrets fetched at start — is the biggest lever on cold starts. These
//! drop-in replacements for `LazyLock`, `tokio::sync::OnceCell` and a fetch-once cache record,
//! per named client, how long creation took and when it happened:
//!
//! - at **init** (before the first invocation, e.g. with `init_now()` in `main`): the records
//!   are kept and attached to the first invocation — a `ClientInitDuration` line per client
//!   (dimensions `service` and `client`, written after its `ColdStart` line, with its facts)
//!   and `lambda_perf.init_clients` metadata, with the phase `init`, on its handler subsegment
//!   (Lambda allows no trace data outside a handler);
//! - inside an **invocation** (lazily; the caller waited), also on a task that carries it
//!   ([`spawn`](fn@crate::spawn)): a `## init <name>` subsegment with the duration, phase and
//!   outcome, and a `ClientInitDuration` metric with the dimension `client`. An invocation
//!   that waited for another caller's initialization gets the `## init <name>` subsegment
//!   too, with its wait (`lambda_perf.client_wait`; with `"gave_up": true` when it stopped
//!   waiting before the value came: a timeout, a `select!`);
//! - in the **background** (after the process began serving, on a task that carries no
//!   invocation): a `ClientInitDuration` line of its own, marked `"phase":"background"`,
//!   charged to no invocation, written as the handler that served the process's first
//!   invocation writes (its namespace, `service` and output, given in code or by the
//!   environment).
//! - before a **SnapStart snapshot** (at init, in the process that Lambda snapshots): every
//!   environment restored from the snapshot starts with the client already created, and none
//!   paid for it. The first invocation after each restore lists it in its
//!   `lambda_perf.init_clients` metadata with the phase `snapshot`, and no
//!   `ClientInitDuration` value is written for it. A [`TimedCache`] value with a time-to-live
//!   fetched then is expired after the restore (the monotonic clock its time-to-live runs on
//!   barely moves while the snapshot is kept): the first use fetches it again.
//!
//! Warm uses of a [`TimedLazy`] or a [`TimedAsyncLazy`] record nothing and cost what
//! `OnceLock::get` costs; a warm [`TimedCache`] use reads its lock and counts a hit.
//!
//! Unlike `LazyLock`, a [`TimedLazy`] whose initializer panicked is not poisoned: the panic
//! reaches the caller, the initialization is recorded as panicked, and the next use runs the
//! initializer again (as `OnceLock::get_or_init` does).
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
pub use self::sync::TimedLazy;
pub use crate::invocation::client_init::{InitRecord, Phase};
