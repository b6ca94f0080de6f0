//! Nested subsegments around a future or a closure.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use serde::Serialize;
use serde_json::Value;

use super::document::{Http, Namespace};
use super::trace::Trace;
use super::{panic_message, with_trace};

/// A nested subsegment to open around a future ([`instrument`](Self::instrument)) or a
/// closure ([`in_scope`](Self::in_scope)). Its parent is the subsegment current where it
/// runs (the `## handler` subsegment at the top level).
///
/// ```
/// use lambda_perf_core::xray::{Http, Namespace, Subsegment};
///
/// # async fn fetch() -> Result<u16, std::io::Error> { Ok(200) }
/// async fn handler() -> Result<(), std::io::Error> {
///     let status = Subsegment::new("users-api")
///         .namespace(Namespace::Remote)
///         .http(Http::request("GET", "https://users.example.com/u/1"))
///         .instrument_fallible(async {
///             let status = fetch().await?;
///             // Inside the subsegment: its response status.
///             lambda_perf_core::xray::set_http_status(status);
///             Ok::<_, std::io::Error>(status)
///         })
///         .await?;
///     # let _ = status;
///     Ok(())
/// }
/// ```
///
/// Outside a sampled invocation it costs one task-local lookup and records nothing.
#[derive(Clone, Debug)]
#[must_use = "a Subsegment records nothing until instrument() or in_scope() runs it"]
pub struct Subsegment {
    name: Cow<'static, str>,
    namespace: Option<Namespace>,
    http: Option<Http>,
    aws: Option<Value>,
}

impl Subsegment {
    /// A subsegment named `name`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            namespace: None,
            http: None,
            aws: None,
        }
    }

    /// Marks it as a call to AWS (`aws`) or to another downstream service (`remote`).
    pub fn namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// Records the HTTP request (and response, if known) of the call.
    pub fn http(mut self, http: Http) -> Self {
        self.http = Some(http);
        self
    }

    /// Records the `aws` object of an AWS call (`operation`, `region`, `table_name`, …).
    /// A value that does not serialize to a JSON object is ignored.
    pub fn aws(mut self, aws: impl Serialize) -> Self {
        self.aws = serde_json::to_value(aws).ok().filter(Value::is_object);
        self
    }

    /// Runs `future` inside the subsegment.
    pub fn instrument<F: Future>(self, future: F) -> Instrumented<F, AnyOutput> {
        Instrumented {
            inner: future,
            subsegment: Some(self),
            id: None,
            _policy: PhantomData,
        }
    }

    /// Runs a future returning `Result` inside the subsegment; an `Err` marks it faulted
    /// with the error's type and message as the cause.
    pub fn instrument_fallible<F, T, E>(self, future: F) -> Instrumented<F, FallibleOutput>
    where
        F: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        Instrumented {
            inner: future,
            subsegment: Some(self),
            id: None,
            _policy: PhantomData,
        }
    }

    /// Runs `f` inside the subsegment.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let opened = self.open();
        let result = catch_unwind(AssertUnwindSafe(|| run_entered(opened, f)));
        finish(
            opened,
            result.as_ref().err().map(|panic| panic_exception(&**panic)),
        );
        result.unwrap_or_else(|panic| resume_unwind(panic))
    }

    /// Runs a closure returning `Result` inside the subsegment; an `Err` marks it faulted.
    pub fn in_scope_fallible<T, E: fmt::Display>(
        self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let opened = self.open();
        let result = catch_unwind(AssertUnwindSafe(|| run_entered(opened, f)));
        let failure = match &result {
            Ok(Err(error)) => Some(error_exception(error)),
            Ok(Ok(_)) => None,
            Err(panic) => Some(panic_exception(&**panic)),
        };
        finish(opened, failure);
        result.unwrap_or_else(|panic| resume_unwind(panic))
    }

    /// Opens the subsegment in the current invocation's trace; `None` when not recording.
    fn open(self) -> Option<u64> {
        with_trace(|trace| {
            let id = trace.open(self.name, None);
            if let Some(record) = trace.nested_mut(id) {
                record.namespace = self.namespace;
                record.http = self.http;
                record.aws = self.aws;
            }
            id
        })
    }
}

fn run_entered<R>(opened: Option<u64>, f: impl FnOnce() -> R) -> R {
    let Some(id) = opened else {
        return f();
    };
    let previous = with_trace(|trace| trace.enter(id)).flatten();
    let _restore = Restore(previous);
    f()
}

/// Restores the previous current subsegment, also when unwinding.
struct Restore(Option<u64>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0;
        with_trace(|trace| trace.exit(previous));
    }
}

/// (type, message) of a failure.
type Failure = (String, String);

fn error_exception<E: fmt::Display + ?Sized>(error: &E) -> Failure {
    (short_type_name::<E>(), error.to_string())
}

fn panic_exception(panic: &(dyn std::any::Any + Send)) -> Failure {
    ("panic".to_owned(), panic_message(panic))
}

/// `my_crate::errors::PaymentError` → `PaymentError` (generic arguments kept).
pub(crate) fn short_type_name<T: ?Sized>() -> String {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    let short = base.rsplit("::").next().unwrap_or(base);
    format!("{short}{}", &full[base.len()..])
}

fn finish(opened: Option<u64>, failure: Option<Failure>) {
    let Some(id) = opened else {
        return;
    };
    with_trace(|trace: &mut Trace| {
        if let Some((kind, message)) = failure {
            trace.record_error(Some(id), &kind, &message);
        }
        trace.close(id);
    });
}

/// How an [`Instrumented`] future's output marks its subsegment.
pub trait OutputPolicy<O> {
    /// The failure `output` represents, as (type, message), if any.
    #[doc(hidden)]
    fn failure(output: &O) -> Option<(String, String)>;
}

/// Any output: the subsegment faults only on a panic.
#[derive(Debug)]
pub enum AnyOutput {}

/// `Result` output: an `Err` faults the subsegment.
#[derive(Debug)]
pub enum FallibleOutput {}

impl<O> OutputPolicy<O> for AnyOutput {
    fn failure(_: &O) -> Option<(String, String)> {
        None
    }
}

impl<T, E: fmt::Display> OutputPolicy<Result<T, E>> for FallibleOutput {
    fn failure(output: &Result<T, E>) -> Option<(String, String)> {
        output.as_ref().err().map(error_exception)
    }
}

pin_project! {
    /// A future running inside a nested subsegment: opened on the first poll, current while
    /// polled, closed and sent when the future completes, panics or is dropped.
    pub struct Instrumented<F, P> {
        #[pin]
        inner: F,
        subsegment: Option<Subsegment>,
        id: Option<u64>,
        _policy: PhantomData<fn() -> P>,
    }

    impl<F, P> PinnedDrop for Instrumented<F, P> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(id) = this.id.take() {
                with_trace(|trace| trace.close(id));
            }
        }
    }
}

impl<F: Future, P: OutputPolicy<F::Output>> Future for Instrumented<F, P> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(subsegment) = this.subsegment.take() {
            *this.id = subsegment.open();
        }
        let opened = *this.id;
        let mut inner = this.inner;
        let polled = catch_unwind(AssertUnwindSafe(|| {
            run_entered(opened, || inner.as_mut().poll(cx))
        }));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                finish(this.id.take(), P::failure(&output));
                Poll::Ready(output)
            }
            Err(panic) => {
                finish(this.id.take(), Some(panic_exception(&*panic)));
                resume_unwind(panic)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    struct PaymentError;

    #[test]
    fn type_names_are_shortened() {
        assert_eq!(short_type_name::<PaymentError>(), "PaymentError");
        assert_eq!(short_type_name::<std::io::Error>(), "Error");
        assert_eq!(
            short_type_name::<Box<dyn std::error::Error + Send + Sync>>(),
            "Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>"
        );
    }
}
