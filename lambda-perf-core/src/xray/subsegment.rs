//! Nested subsegments around a future or a closure.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use serde::Serialize;
use serde_json::Value;

use crate::formats::failure::Failure;
use crate::formats::xray::document::aws_members_as_strings;
use crate::formats::xray::{Http, Namespace};
use crate::invocation::current::{self, Current, Unavailable};
use crate::invocation::lifecycle::Invocation;
use crate::invocation::panic;
use crate::invocation::trace::Target;
use crate::warn::WarnOnce;

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
/// In an invocation that is not sampled it costs one lookup of the current invocation and
/// records nothing. Where no invocation is current at all — init code, a task spawned with
/// plain `tokio::spawn` — it records nothing either, and that is counted (`xray.no_invocation`
/// in the next record's `lambda_perf.dropped`) with one warning, as [`annotate`](super::annotate)
/// reports it: spawn with [`lambda_perf_core::spawn`](fn@crate::spawn) to carry the
/// invocation. (A lazy client's `## init <name>` subsegment is not counted there: its
/// initialization outside an invocation is recorded as init or background work, see
/// [`lazy`](crate::lazy).) Still open when its invocation ends (on work that outlived it), it is closed and
/// sent with the invocation; a failure it ends with later (an `Err`, a panic) is lost with
/// it: counted (`xray.invocation_ended` in the next record's `lambda_perf.dropped`), with one
/// warning.
#[derive(Clone, Debug)]
#[must_use = "a Subsegment records nothing until instrument() or in_scope() runs it"]
pub struct Subsegment {
    name: Cow<'static, str>,
    namespace: Option<Namespace>,
    http: Option<Http>,
    aws: Option<Value>,
    /// Whether opening it where no invocation is current is reported (counted and warned
    /// about): yes, but for the subsegments of lazy clients, recorded otherwise there.
    report_no_invocation: bool,
}

impl Subsegment {
    /// A subsegment named `name`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            namespace: None,
            http: None,
            aws: None,
            report_no_invocation: true,
        }
    }

    /// The same subsegment, opened where no invocation is current without a report: for a
    /// lazy client's `## init <name>`, whose initialization there is recorded as init or
    /// background work.
    pub(crate) fn unreported_outside_invocations(mut self) -> Self {
        self.report_no_invocation = false;
        self
    }

    /// Marks it as a call to AWS (`aws`) or to another downstream service (`remote`).
    pub fn namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// Records the HTTP request (and response, if known) of the call: a response status
    /// marks the subsegment as [`set_http_status`](super::set_http_status) does (4xx
    /// `error`, 429 also `throttle`, 5xx `fault`). A method or URL longer than the 250
    /// characters X-Ray takes is cut there ([`Http::request`]): counted (`xray.http_value_cut`
    /// in the next record's `lambda_perf.dropped`), with one warning.
    pub fn http(mut self, http: Http) -> Self {
        if http.was_cut() {
            http_value_cut();
        }
        self.http = Some(http);
        self
    }

    /// Records the `aws` object of an AWS call (`operation`, `region`, `table_name`, …).
    /// A value that does not serialize to a JSON object is left out, counted as dropped
    /// (`xray.aws_not_an_object`), with one warning. X-Ray takes `operation`, `account_id`,
    /// `region`, `request_id`, `queue_url` and `table_name` as strings only: one that is
    /// `null` (an `Option` left `None`) is left out, one of another type (an account id kept
    /// as a number) is written as its JSON text, counted (`xray.aws_value_not_a_string`) with
    /// one warning.
    pub fn aws(mut self, aws: impl Serialize) -> Self {
        self.aws = match panic::to_json(&aws) {
            Ok(Value::Object(mut members)) => {
                let replaced = aws_members_as_strings(&mut members);
                if replaced > 0 {
                    aws_value_not_a_string(replaced);
                }
                Some(Value::Object(members))
            }
            _ => {
                aws_not_an_object();
                None
            }
        };
        self
    }

    /// Runs `future` inside the subsegment.
    pub fn instrument<F: Future>(self, future: F) -> Instrumented<F, AnyOutput> {
        Instrumented {
            inner: Some(future),
            subsegment: Some(self),
            opened: None,
            _policy: PhantomData,
        }
    }

    /// Runs a future returning `Result` inside the subsegment; an `Err` marks it faulted
    /// with the error's type and message as the cause. An error whose `Display` panics is
    /// recorded as an `unknown` one saying so, and returned as it is.
    pub fn instrument_fallible<F, T, E>(self, future: F) -> Instrumented<F, FallibleOutput>
    where
        F: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        Instrumented {
            inner: Some(future),
            subsegment: Some(self),
            opened: None,
            _policy: PhantomData,
        }
    }

    /// Runs `f` inside the subsegment.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let opened = self.open();
        let result = panic::catch(|| run_entered(opened.as_ref(), f));
        let failure = result
            .as_ref()
            .err()
            .map(|panic| Failure::from_panic(&**panic));
        finish(opened, failure.as_ref());
        result.unwrap_or_else(|panic| panic::resume(panic))
    }

    /// Runs a closure returning `Result` inside the subsegment; an `Err` marks it faulted
    /// (as [`instrument_fallible`](Self::instrument_fallible) describes it).
    pub fn in_scope_fallible<T, E: fmt::Display>(
        self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let opened = self.open();
        let result = panic::catch(|| run_entered(opened.as_ref(), f));
        let failure = match &result {
            Ok(Err(error)) => describe(|| Some(Failure::from_display(error))),
            Ok(Ok(_)) => None,
            Err(panic) => Some(Failure::from_panic(&**panic)),
        };
        finish(opened, failure.as_ref());
        result.unwrap_or_else(|panic| panic::resume(panic))
    }

    /// Opens the subsegment under the current one; `None` when not recording (see
    /// [`open_in`](super::open_in)). Where no invocation is current, that is reported as
    /// [`annotate`](super::annotate) reports it, unless this subsegment says not to.
    fn open(self) -> Option<Opened> {
        let report_no_invocation = self.report_no_invocation;
        let opened = current::with_current(|current| {
            let parent = current.subsegment();
            let id = super::open_in(current.invocation(), |state| {
                let trace = state.trace.as_mut()?;
                let id = trace.open(self.name, parent);
                if let Some(record) = trace.nested_mut(id) {
                    record.namespace = self.namespace;
                    record.set_http(self.http);
                    record.aws = self.aws;
                }
                Some(id)
            })?;
            Some(Opened {
                invocation: Arc::clone(current.invocation()),
                id,
            })
        });
        match opened {
            Ok(opened) => opened,
            Err(Unavailable::NoInvocation) if !report_no_invocation => None,
            Err(unavailable) => {
                super::report_error(super::unavailable(unavailable));
                None
            }
        }
    }
}

/// A subsegment opened in an invocation's trace.
#[derive(Debug)]
struct Opened {
    invocation: Arc<Invocation>,
    id: u64,
}

/// Runs `f` with the opened subsegment current: on a task of its invocation by making it
/// that task's current subsegment for the call, anywhere else by carrying the invocation
/// into the call.
fn run_entered<R>(opened: Option<&Opened>, f: impl FnOnce() -> R) -> R {
    let Some(opened) = opened else {
        return f();
    };
    let entered = current::with_current(|current| {
        Arc::ptr_eq(current.invocation(), &opened.invocation)
            .then(|| current.enter(Some(opened.id)))
    });
    match entered {
        Ok(Some(previous)) => {
            let _restore = Restore(previous);
            f()
        }
        _ => current::sync_scope(
            &Current::new(Arc::clone(&opened.invocation), Some(opened.id)),
            f,
        ),
    }
}

/// Restores the previous current subsegment, also when unwinding.
struct Restore(Option<u64>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0;
        let _ = current::with_current(|current| current.enter(previous));
    }
}

/// The failure `failure` describes, if any. The description is user code (an error's
/// `Display`): one that panics gives the description the handler's error gets when its own
/// panics, so that the output it describes still reaches the caller as it is.
fn describe(failure: impl FnOnce() -> Option<Failure>) -> Option<Failure> {
    panic::catch(failure).unwrap_or_else(|panic| Some(Failure::describing_panicked(&*panic)))
}

/// Closes the subsegment (faulted by `failure`, if any) and sends it.
fn finish(opened: Option<Opened>, failure: Option<&Failure>) {
    let Some(Opened { invocation, id }) = opened else {
        return;
    };
    let closed = invocation.with_state(|state| {
        if let (Some(trace), Some(failure)) = (&mut state.trace, failure) {
            trace.record_error(Target::Exactly(id), failure);
        }
        invocation.close_subsegment(state, id);
    });
    match closed {
        Ok(()) => {}
        // An invocation that ended first has already closed and sent it, as of its end.
        Err(Unavailable::Ended) if failure.is_none() => {}
        // What it could not record (the failure of work that outlived its invocation, say)
        // is counted, as the other X-Ray calls count it.
        Err(refused) => super::report_refused(refused),
    }
}

/// Closes and sends the subsegment when dropped, also when unwinding.
struct Closing(Option<Opened>);

impl Drop for Closing {
    fn drop(&mut self) {
        finish(self.0.take(), None);
    }
}

/// How an [`Instrumented`] future's output marks its subsegment.
pub trait OutputPolicy<O> {
    /// The failure `output` represents, if any.
    #[doc(hidden)]
    fn failure(output: &O) -> Option<Failure>;
}

/// Any output: the subsegment faults only on a panic.
#[derive(Debug)]
pub enum AnyOutput {}

/// `Result` output: an `Err` faults the subsegment.
#[derive(Debug)]
pub enum FallibleOutput {}

impl<O> OutputPolicy<O> for AnyOutput {
    fn failure(_: &O) -> Option<Failure> {
        None
    }
}

impl<T, E: fmt::Display> OutputPolicy<Result<T, E>> for FallibleOutput {
    fn failure(output: &Result<T, E>) -> Option<Failure> {
        output.as_ref().err().map(Failure::from_display)
    }
}

pin_project! {
    /// A future running inside a nested subsegment: opened on the first poll, current while
    /// polled, closed and sent when the future completes, panics or is dropped. Dropped
    /// unfinished, it drops the future inside the subsegment first, so that what the future
    /// records as it is dropped lands there.
    pub struct Instrumented<F, P> {
        // `None` once dropped (in `drop`, inside the subsegment).
        #[pin]
        inner: Option<F>,
        subsegment: Option<Subsegment>,
        opened: Option<Opened>,
        _policy: PhantomData<fn() -> P>,
    }

    impl<F, P> PinnedDrop for Instrumented<F, P> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // Closed also when the future's drop panics.
            let closing = Closing(this.opened.take());
            if closing.0.is_some() {
                run_entered(closing.0.as_ref(), || this.inner.set(None));
            }
        }
    }
}

impl<F: Future, P: OutputPolicy<F::Output>> Future for Instrumented<F, P> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(subsegment) = this.subsegment.take() {
            *this.opened = subsegment.open();
        }
        let Some(mut inner) = this.inner.as_pin_mut() else {
            unreachable!("an Instrumented future is only emptied as it is dropped")
        };
        let opened = this.opened.as_ref();
        match panic::catch(|| run_entered(opened, || inner.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                // Described before the subsegment is taken to be closed: a description that
                // panics leaves it closing now, not with its invocation.
                let failure = describe(|| P::failure(&output));
                finish(this.opened.take(), failure.as_ref());
                Poll::Ready(output)
            }
            Err(panic) => {
                finish(this.opened.take(), Some(&Failure::from_panic(&*panic)));
                panic::resume(panic)
            }
        }
    }
}

/// Counts an HTTP method or URL cut to X-Ray's 250 characters, and warns of the first.
#[cold]
fn http_value_cut() {
    static CUT: WarnOnce = WarnOnce::new();
    crate::drops::count("xray.http_value_cut");
    CUT.warn(format_args!(
        "an HTTP method or URL of a subsegment is longer than the 250 characters X-Ray takes \
         and was cut there (counted in lambda_perf.dropped)"
    ));
}

/// Counts an `aws` value that is no JSON object, left out, and warns of the first.
#[cold]
fn aws_not_an_object() {
    static NOT_AN_OBJECT: WarnOnce = WarnOnce::new();
    crate::drops::count("xray.aws_not_an_object");
    NOT_AN_OBJECT.warn(format_args!(
        "the aws value of a subsegment does not serialize to a JSON object and was left out \
         (counted in lambda_perf.dropped)"
    ));
}

/// Counts `replaced` members of an `aws` object X-Ray takes as strings that were not, written
/// as their JSON text, and warns of the first.
#[cold]
fn aws_value_not_a_string(replaced: usize) {
    static NOT_A_STRING: WarnOnce = WarnOnce::new();
    crate::drops::count_each("xray.aws_value_not_a_string", replaced);
    NOT_A_STRING.warn(format_args!(
        "an aws member X-Ray takes as a string (operation, account_id, region, request_id, \
         queue_url, table_name) is not one and was written as its JSON text (counted in \
         lambda_perf.dropped)"
    ));
}
