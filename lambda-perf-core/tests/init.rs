//! `init` installs the process's global subscriber once; a second call gets a typed error
//! (never a panic) with the subscriber it built handed back, still usable in a scope.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use lambda_perf_core::{InitBuilder, InitError};
use tracing::Level;

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn messages(&self) -> Vec<String> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                value["message"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

#[test]
fn init_installs_once_then_hands_back_a_typed_error() {
    let global = Lines::default();
    InitBuilder::from_env()
        .log_level(Level::INFO)
        .log_writer(global.clone())
        .init()
        .unwrap();
    tracing::info!(step = 1, "installed");
    tracing::debug!("below the level");
    assert_eq!(global.messages(), ["installed"]);

    let scoped = Lines::default();
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
    assert_eq!(scoped.messages(), ["in a scope"]);
    assert_eq!(global.messages(), ["installed"]);

    assert!(matches!(
        lambda_perf_core::init(),
        Err(InitError::AlreadySet { .. })
    ));
}
