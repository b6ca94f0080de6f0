//! A warm `TimedLazy` access costs what `OnceLock::get` costs: nothing is recorded on a hit.

use std::hint::black_box;
use std::sync::OnceLock;

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_perf_core::lazy::TimedLazy;

fn make() -> u64 {
    42
}

static PLAIN: OnceLock<u64> = OnceLock::new();
static TIMED: TimedLazy<u64> = TimedLazy::new("bench", make);

fn warm_access(c: &mut Criterion) {
    let mut group = c.benchmark_group("warm");
    PLAIN.get_or_init(make);
    TIMED.init_now();
    group.bench_function("OnceLock::get", |b| {
        b.iter(|| *black_box(&PLAIN).get().unwrap())
    });
    group.bench_function("TimedLazy::get", |b| b.iter(|| *black_box(&TIMED).get()));
    group.finish();
}

criterion_group!(benches, warm_access);
criterion_main!(benches);
