//! Tests of an invocation under the layer that need both the recorder ([`crate::test_util`])
//! and the crate's internals (the current invocation, the deferral window, the pool of ended
//! invocations): kept here, above both, so that no module of the layer imports the recorder.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tower::{Layer, Service};

use crate::formats::faas_trigger::FaasTrigger;
use crate::invocation::current::{self, Current, Unavailable};
use crate::invocation::deferral::Window;
use crate::invocation::just_failed;
use crate::invocation::lifecycle::Invocation;
use crate::test_util::{Recorder, event};

/// The state is refused to the thread holding it (not a deadlock), free again once it
/// let go, and waited for by another thread while held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_is_refused_to_its_holder_and_waited_for_elsewhere() {
    let handler = lambda_runtime::service_fn(|_: lambda_runtime::LambdaEvent<()>| async {
        let carried = current::carried().expect("in an invocation");
        let (nested, elsewhere) = current::with_state(|_, _| {
            let nested = current::with_state(|_, _| ());
            let elsewhere = std::thread::spawn(move || {
                current::sync_scope(&carried, || current::with_state(|_, _| ()))
            });
            // Still held: the other thread waits for it.
            std::thread::sleep(std::time::Duration::from_millis(20));
            (nested, elsewhere)
        })
        .expect("the state, once");
        assert_eq!(nested, Err(Unavailable::Reentrant));
        assert_eq!(elsewhere.join().expect("no panic"), Ok(()));
        assert_eq!(current::with_state(|_, _| ()), Ok(()), "free again");
        Ok::<_, lambda_runtime::Error>("done")
    });
    let recorder = Recorder::new();
    assert_eq!(recorder.run(handler, event(())).await.unwrap(), "done");
}

/// Under a runtime-level companion, a handler's future kept past its window (by a service
/// in between, say) still hands its invocation back for the next one: whichever of the
/// window's writes and the future lets go last recycles it.
#[tokio::test(flavor = "current_thread")]
async fn a_future_kept_past_its_window_still_recycles_its_invocation() {
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let recorder = Recorder::new();
    let mut service = recorder.layer().layer(lambda_runtime::service_fn(
        |_: lambda_runtime::LambdaEvent<()>| async {
            let carried = current::carried().expect("in an invocation");
            SEEN.store(Arc::as_ptr(carried.invocation()).addr(), Ordering::SeqCst);
            Ok::<_, lambda_runtime::Error>("done")
        },
    ));
    let event = event(());
    let window = Window::open(&event.context.request_id);
    let mut future = Box::pin(service.call(event));
    assert_eq!(future.as_mut().await.unwrap(), "done");
    assert!(
        recorder.xray().documents().is_empty(),
        "the trace deferred to the window"
    );
    // The writes run while the finished future still holds the invocation.
    window.close();
    assert!(
        !recorder.xray().documents().is_empty(),
        "the trace written once the window closed"
    );
    drop(future);
    let kept = Invocation::take_kept().map(|kept| Arc::as_ptr(&kept).addr());
    assert_eq!(
        kept,
        Some(SEEN.load(Ordering::SeqCst)),
        "the invocation is kept for the next one"
    );
}

/// An annotation or metadata gets the same answer in an unsampled invocation (answered without
/// its state) as in a sampled one: accepted while it runs, refused to the thread holding its
/// state and after its end, and checked first in every case; and only a sampled invocation
/// is recording while it runs.
#[tokio::test(flavor = "current_thread")]
async fn annotations_are_answered_alike_with_and_without_a_trace() {
    use crate::test_util::unsampled_event;
    use crate::xray::{self, XRayError};

    /// The answers to a valid and an invalid annotation, to valid and invalid metadata, and
    /// whether the invocation is recording.
    fn answers() -> ([Result<(), XRayError>; 4], bool) {
        let answers = [
            xray::try_annotate("tier", "gold"),
            xray::try_annotate("bad-key", 1),
            xray::try_add_metadata("orders", "order", 1),
            xray::try_add_metadata("AWS.mine", "order", 1),
        ];
        (answers, xray::is_recording())
    }

    // What the handler saw, and the invocation it worked for (kept past its end).
    type Answers = ([Result<(), XRayError>; 4], bool);
    type Seen = (Current, Answers, Answers);
    let seen: Arc<Mutex<Option<Seen>>> = Arc::default();
    let handler = lambda_runtime::service_fn(|_: lambda_runtime::LambdaEvent<()>| {
        let seen = Arc::clone(&seen);
        async move {
            let carried = current::carried().expect("in an invocation");
            let running = answers();
            let holding = current::with_state(|_, _| answers()).expect("the state");
            *seen.lock().unwrap() = Some((carried, running, holding));
            Ok::<_, lambda_runtime::Error>(())
        }
    });
    let refused = |why: XRayError| {
        [
            Err(why.clone()),
            Err(XRayError::InvalidAnnotationKey {
                key: "bad-key".to_owned(),
            }),
            Err(why),
            Err(XRayError::ReservedMetadataNamespace {
                namespace: "AWS.mine".to_owned(),
            }),
        ]
    };
    for sampled in [true, false] {
        let recorder = Recorder::new();
        let event = if sampled {
            event(())
        } else {
            unsampled_event(())
        };
        recorder.run(handler, event).await.unwrap();
        let (carried, running, holding) = seen.lock().unwrap().take().expect("seen");
        let mut accepted = refused(XRayError::Reentrant);
        accepted[0] = Ok(());
        accepted[2] = Ok(());
        assert_eq!(running, (accepted, sampled), "running, sampled: {sampled}");
        assert_eq!(
            holding,
            (refused(XRayError::Reentrant), false),
            "state held, sampled: {sampled}"
        );
        let ended = current::sync_scope(&carried, answers);
        assert_eq!(
            ended,
            (refused(XRayError::InvocationEnded), false),
            "ended, sampled: {sampled}"
        );
    }
}

/// An invocation handed back before it ended (nothing else holding it) is not kept: the next
/// one would find what it recorded still in its state.
#[test]
fn an_invocation_that_has_not_ended_is_not_kept() {
    let recorder = Recorder::new();
    let layer = recorder.layer();
    // No deadline: no watchdog holds it weakly, so nothing else holds it.
    let mut context = event(()).context;
    context.deadline = 0;
    let begun = Invocation::begin(&layer.instrumentation, &context, FaasTrigger::Other);
    Invocation::recycle(begun);
    assert!(Invocation::take_kept().is_none(), "not kept before its end");

    let begun = Invocation::begin(&layer.instrumentation, &context, FaasTrigger::Other);
    begun.finish(crate::invocation::outcome::Outcome::Success(None));
    let ended = Arc::as_ptr(&begun).addr();
    Invocation::recycle(begun);
    let kept = Invocation::take_kept().map(|kept| Arc::as_ptr(&kept).addr());
    assert_eq!(kept, Some(ended), "kept once ended");
}

/// The request id of the hold a line of the runtime's about a failure takes, if one does.
fn taken_by_a_failure_line() -> Option<String> {
    just_failed::take_for_line("lambda_runtime::layers::panic", |invocation| {
        invocation.facts().request_id().to_owned()
    })
}

/// An invocation begun with `request_id`, for `just_failed` (no deadline: no watchdog holds
/// it), by a layer of its own.
fn begun(request_id: &str) -> Arc<Invocation> {
    begun_by(&Recorder::new().layer(), request_id)
}

/// An invocation begun with `request_id` by `layer`.
fn begun_by(layer: &crate::layer::PerfLayer, request_id: &str) -> Arc<Invocation> {
    let mut context = event(()).context;
    context.deadline = 0;
    context.request_id = request_id.to_owned();
    Invocation::begin(&layer.instrumentation, &context, FaasTrigger::Other)
}

/// A failure is held for the runtime's next line about a failure on its task, which takes
/// it; another crate's line, and the runtime's other lines (about the next event, a retried
/// `/next`), read nothing.
#[tokio::test]
async fn a_failure_is_held_until_the_runtimes_next_line_takes_it() {
    just_failed::read_by_a_log_layer();
    let failed = begun("failed-1");
    just_failed::hold(&failed);
    for target in [
        "my_crate",
        "lambda_runtime::layers::api_response",
        "lambda_runtime::runtime",
    ] {
        assert_eq!(
            just_failed::take_for_line(target, |i| i.facts().request_id().to_owned()),
            None,
            "{target} reads nothing"
        );
    }
    assert_eq!(taken_by_a_failure_line().as_deref(), Some("failed-1"));
    assert_eq!(
        just_failed::take_for_line("lambda_runtime::layers::panic", |_| ()),
        None,
        "the first line took it"
    );
    assert_eq!(just_failed::held_request_id(), None);
    assert_eq!(Arc::strong_count(&failed), 1, "let go of");
}

/// A line of another task reads nothing; a hold no line took is stale once another
/// invocation has begun, and the next line about a failure reads nothing either.
#[tokio::test]
async fn a_line_of_another_task_reads_nothing() {
    just_failed::read_by_a_log_layer();
    let layer = Recorder::new().layer();
    let failed = begun_by(&layer, "failed-2");
    just_failed::hold(&failed);
    let other = tokio::spawn(async {
        just_failed::take_for_line("lambda_runtime::layers::panic", |i| {
            i.facts().request_id().to_owned()
        })
    })
    .await
    .unwrap();
    assert_eq!(other, None);
    assert_eq!(
        just_failed::held_request_id().as_deref(),
        Some("failed-2"),
        "still held"
    );
    let _next = begun_by(&layer, "next");
    assert_eq!(taken_by_a_failure_line(), None, "stale");
    assert_eq!(just_failed::held_request_id(), None);
    assert_eq!(Arc::strong_count(&failed), 1, "let go of");
}

/// A second failure takes the place of a first no line took, which is let go of.
#[tokio::test]
async fn the_next_failure_takes_the_place_of_one_no_line_took() {
    just_failed::read_by_a_log_layer();
    let first = begun("failed-3");
    let second = begun("failed-4");
    just_failed::hold(&first);
    just_failed::hold(&second);
    assert_eq!(Arc::strong_count(&first), 1, "let go of");
    assert_eq!(just_failed::held_request_id().as_deref(), Some("failed-4"));
}

/// Failed outside any task (a runtime's `block_on`, where `#[tokio::main]` runs
/// `lambda_runtime::run`): a line there takes it, a task's reads nothing.
#[test]
fn outside_a_task_a_line_outside_one_takes_the_hold() {
    just_failed::read_by_a_log_layer();
    let failed = begun("failed-5");
    just_failed::hold(&failed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let on_a_task = runtime
        .block_on(async {
            tokio::spawn(async {
                just_failed::take_for_line("lambda_runtime::layers::panic", |_| ())
            })
            .await
        })
        .unwrap();
    assert_eq!(on_a_task, None, "a task's line is no part of it");
    assert_eq!(taken_by_a_failure_line().as_deref(), Some("failed-5"));
    assert_eq!(Arc::strong_count(&failed), 1);
}

/// A handler that panics as its future is created (a `Service::call` of its own, or a
/// `service_fn` closure before its `async` block) is held too: the runtime's
/// `user handler panicked` comes after the panic left lambda-perf.
#[test]
fn a_panic_while_the_handlers_future_is_created_is_held() {
    /// Panics in `call`, before any future exists.
    struct PanicsInCall;
    impl Service<lambda_runtime::LambdaEvent<()>> for PanicsInCall {
        type Response = ();
        type Error = lambda_runtime::Error;
        type Future = std::future::Ready<Result<(), lambda_runtime::Error>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: lambda_runtime::LambdaEvent<()>) -> Self::Future {
            panic!("the handler panicked before its future existed (expected by the test)")
        }
    }
    just_failed::read_by_a_log_layer();
    let recorder = Recorder::new();
    let mut service = recorder.layer().layer(PanicsInCall);
    let mut called = event(());
    called.context.request_id = "panicked-in-call".to_owned();
    let panicked =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(service.call(called))));
    assert!(panicked.is_err());
    assert_eq!(
        just_failed::held_request_id().as_deref(),
        Some("panicked-in-call")
    );
}
