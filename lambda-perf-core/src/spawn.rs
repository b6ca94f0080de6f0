//! Work moved off the handler's task that stays in its invocation.
//!
//! Carrying the current invocation into other tasks: [`spawn`], [`spawn_blocking`] and
//! [`InCurrentInvocation`]. The model — what the current invocation is, and how it crosses
//! `spawn`, `spawn_blocking`, `JoinSet` and `select!` — is in the crate docs, "The current
//! invocation".
//!
//! ```
//! use lambda_perf_core::metrics::{self, Unit};
//! use lambda_perf_core::xray::Subsegment;
//! use lambda_perf_core::InCurrentInvocation;
//!
//! async fn price(item: u32) -> u32 { item * 2 }
//!
//! async fn handler() -> u32 {
//!     // Two downstream calls in parallel: two sibling subsegments of the handler's.
//!     let a = lambda_perf_core::spawn(Subsegment::new("price a").instrument(price(1)));
//!     let b = lambda_perf_core::spawn(Subsegment::new("price b").instrument(price(2)));
//!
//!     let mut set = tokio::task::JoinSet::new();
//!     set.spawn(async { metrics::add_metric("Lookups", Unit::Count, 1.0) }.in_current_invocation());
//!
//!     let total = a.await.unwrap_or(0) + b.await.unwrap_or(0);
//!     while set.join_next().await.is_some() {}
//!     total
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::task::JoinHandle;

use crate::invocation::current::{self, Scoped};

/// Spawns `future` on the tokio runtime carrying the current invocation: a drop-in for
/// `tokio::spawn`. Outside an invocation it is exactly `tokio::spawn`.
///
/// See [The current invocation](crate#the-current-invocation) for what the task records and
/// when.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_invocation())
}

/// Runs `f` on tokio's blocking pool carrying the current invocation: a drop-in for
/// `tokio::task::spawn_blocking`.
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let carried = current::carried();
    tokio::task::spawn_blocking(move || match carried {
        Some(carried) => current::sync_scope(&carried, f),
        None => f(),
    })
}

/// Carries the current invocation into a future, as `tracing`'s `Instrument::in_current_span`
/// carries the current span: for `tokio::spawn`, `JoinSet::spawn` or any executor.
pub trait InCurrentInvocation: Future + Sized {
    /// This future, carrying the invocation current where it is called (if any).
    fn in_current_invocation(self) -> InInvocation<Self> {
        let carrier = match current::carried() {
            Some(carried) => Carrier::Carried {
                future: current::scope(carried, self),
            },
            None => Carrier::Bare { future: self },
        };
        InInvocation { carrier }
    }
}

impl<F: Future> InCurrentInvocation for F {}

pin_project! {
    /// A future carrying an invocation: see [`InCurrentInvocation`].
    pub struct InInvocation<F: Future> {
        #[pin]
        carrier: Carrier<F>,
    }
}

pin_project! {
    #[project = CarrierProjection]
    enum Carrier<F: Future> {
        Carried { #[pin] future: Scoped<F> },
        Bare { #[pin] future: F },
    }
}

impl<F: Future> Future for InInvocation<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project().carrier.project() {
            CarrierProjection::Carried { future } => future.poll(cx),
            CarrierProjection::Bare { future } => future.poll(cx),
        }
    }
}

impl<F: Future> fmt::Debug for InInvocation<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let carried = matches!(self.carrier, Carrier::Carried { .. });
        f.debug_struct("InInvocation")
            .field("carried", &carried)
            .finish_non_exhaustive()
    }
}
