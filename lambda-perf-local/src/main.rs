//! `lambda-perf`: run a Lambda function locally and see its cold starts, traces and metrics.

fn main() {}
