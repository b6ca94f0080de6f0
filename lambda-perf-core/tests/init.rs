//! `init` installs the process's global subscriber once; a second call gets a typed error
//! (never a panic) with the subscriber it built handed back, still usable in a scope.

use lambda_perf_core::test_util::CapturedLines;
use lambda_perf_core::{InitBuilder, InitError};
use tracing::Level;

/// The messages of the JSON log lines `lines` captured.
fn messages(lines: &CapturedLines) -> Vec<String> {
    lines
        .lines()
        .iter()
        .map(|line| line["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn init_installs_once_then_hands_back_a_typed_error() {
    let global = CapturedLines::new();
    InitBuilder::from_env()
        .log_level(Level::INFO)
        .log_writer(global.clone())
        .init()
        .unwrap();
    tracing::info!(step = 1, "installed");
    tracing::debug!("below the level");
    assert_eq!(messages(&global), ["installed"]);

    let scoped = CapturedLines::new();
    let error = InitBuilder::from_env()
        .log_level(Level::INFO)
        .log_writer(scoped.clone())
        .init()
        .unwrap_err();
    assert!(
        error.to_string().contains("already set"),
        "{error}: says what happened"
    );
    let InitError::AlreadySet { subscriber } = error else {
        panic!("{error:?}");
    };
    tracing::dispatcher::with_default(&subscriber, || tracing::warn!("in a scope"));
    assert_eq!(messages(&scoped), ["in a scope"]);
    assert_eq!(messages(&global), ["installed"]);

    assert!(matches!(
        lambda_perf_core::init(),
        Err(InitError::AlreadySet { .. })
    ));
}
