//! The current invocation, and how it travels with the work of a handler.
//!
//! **What "the current invocation" is.** Every instrumented handler call is one invocation:
//! its start facts, its metric buffer, its trace. Code reaches it through the calls of this
//! crate — [`metrics::add_metric`](crate::metrics::add_metric),
//! [`xray::annotate`](crate::xray::annotate), [`xray::Subsegment`](crate::xray::Subsegment),
//! the [`lazy`](crate::lazy) clients, [`InvocationFacts::current`](crate::InvocationFacts::current)
//! — and the invocation they reach is the one the running code *carries*. The handler's own
//! task carries it from the moment lambda-perf begins the invocation until the handler's
//! future completes (or is dropped). Several invocations at once (Lambda Managed Instances,
//! `run_concurrent`) each carry their own: nothing is shared but the start classifier.
//!
//! **How it crosses to other work.**
//!
//! | the work | carries the invocation? |
//! |---|---|
//! | code the handler awaits, `join!`, `select!` branches | yes: it runs on the handler's task |
//! | [`spawn(future)`](spawn), a drop-in for `tokio::spawn` | yes |
//! | `tokio::spawn(future.in_current_invocation())`, [`InCurrentInvocation`] | yes |
//! | `JoinSet::spawn(future.in_current_invocation())` | yes |
//! | [`spawn_blocking(f)`](spawn_blocking), a drop-in for `tokio::task::spawn_blocking` | yes |
//! | a future inside a `tracing` span created in the invocation (with [`XRayLayer`](crate::xray::XRayLayer)) | yes, while the span is entered |
//! | plain `tokio::spawn`, `std::thread::spawn` | no: calls fail with `NoInvocation` |
//!
//! Carried work stands where it was spawned: subsegments it opens nest under the subsegment
//! that was current at the spawn, so concurrent branches become siblings with their own
//! timings. A lazy client first created on carried work is charged to that invocation.
//!
//! **When the invocation ends first.** The handler's response does not wait for work it did
//! not await. Once the invocation has ended, its metrics are written and its trace is sent;
//! a call from work that outlived it fails with `InvocationEnded` (the plain forms warn once),
//! and a subsegment still open is closed with the invocation. Nothing is ever filed under a
//! later invocation.
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
/// See the [module docs](self) for what the task records and when.
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
        Some(carried) => current::sync_scope(carried, f),
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
