//! `init` after another global subscriber (lambda_runtime's `init_default_subscriber`, one of
//! the user's): a typed error, not the `SetGlobalDefaultError` panic of `.init()`.

use lambda_perf_core::InitError;
use tracing_subscriber::util::SubscriberInitExt;

#[test]
fn init_after_another_subscriber_is_a_typed_error() {
    tracing_subscriber::registry().try_init().unwrap();
    let error = lambda_perf_core::init().unwrap_err();
    assert!(matches!(error, InitError::AlreadySet { .. }), "{error:?}");
}
