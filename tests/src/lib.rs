//! End-to-end tests of lambda-perf: function binaries run under the loopback Runtime API of
//! `lambda-perf-local`, their stdout checked line by line. The tests live in `tests/`; this
//! crate's binaries are functions written for the scenarios the examples do not cover.
