//! `bench/report.py`, which writes `BENCHMARKS.md` from what `bench/run` measured, given
//! small results made up here: the figures it computes (added times, ratios against the
//! floor and the peers, the budget's verdicts, instruction counts per invocation, the
//! concurrency bench's quartiles, the client latency's verdict) are the ones the inputs give.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A results directory holding `files` (name, contents) beside a machine.txt.
fn results(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("machine.txt"),
        "mode=full\ncommit=abc1234\npython_powertools=3.37.0\nnode_powertools=2.36.0\n",
    )
    .unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// BENCHMARKS.md as report.py writes it from `dir`.
fn report(dir: &Path) -> String {
    let output = Command::new("python3")
        .arg(workspace().join("bench/report.py"))
        .arg(dir)
        .arg("0")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "report.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn case(group: &str, function: &str, mean_ns: f64) -> Value {
    json!({
        "group": group,
        "function": function,
        "id": format!("{group}/{function}"),
        "mean_ns": mean_ns,
        "mean_low_ns": mean_ns * 0.9,
        "mean_high_ns": mean_ns * 1.1,
        "median_ns": mean_ns,
    })
}

/// invocation_overhead's criterion results: `cases` (function, mean in ns) of group `warm`.
fn invocation_overhead(cases: &[(&str, f64)]) -> (&'static str, String) {
    let cases: Vec<Value> = cases
        .iter()
        .map(|(function, mean)| case("warm", function, *mean))
        .collect();
    (
        "criterion-invocation_overhead.json",
        json!({ "target": "invocation_overhead", "cases": cases }).to_string(),
    )
}

const BARE: (&str, f64) = ("bare handler", 1000.0);
const SAMPLED: (&str, f64) = ("PerfLayer, sampled", 2500.0);
const UNSAMPLED: (&str, f64) = ("PerfLayer, unsampled", 1300.0);
const FLOOR: (&str, f64) = ("floor: write(2) + send(2)", 1000.0);
const WRITE: (&str, f64) = ("floor: write(2) of the EMF line", 200.0);

fn line_with<'a>(report: &'a str, start: &str) -> &'a str {
    report
        .lines()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in\n{report}"))
}

#[test]
fn the_headline_is_each_case_less_the_bare_handler_against_its_floor_and_the_peers() {
    let peers = json!({
        "invocations": 100,
        "runs": 3,
        "python": {
            "bare": { "mean_us": 1.0, "median_us": 1.0 },
            "instrumented": { "mean_us": 151.0, "median_us": 140.0 },
            "added_us": 150.0,
            "added_median_us": 139.0,
        },
        "typescript": { "skipped": "no Node.js installation with Powertools" },
    });
    let dir = results(&[
        invocation_overhead(&[
            BARE,
            SAMPLED,
            UNSAMPLED,
            FLOOR,
            WRITE,
            ("PerfLayer, unsampled, resource usage", 9000.0),
        ]),
        ("peers.json", peers.to_string()),
    ]);
    let report = report(dir.path());
    // 2.5 - 1 = 1.5 µs over a 1 µs floor; 0.3 µs over a 0.2 µs write.
    assert_eq!(
        line_with(&report, "| lambda-perf, sampled |"),
        "| lambda-perf, sampled | 1.50 µs | 1.50x |"
    );
    assert_eq!(
        line_with(&report, "| lambda-perf, unsampled |"),
        "| lambda-perf, unsampled | 0.30 µs | 1.50x (of a lone `write(2)`) |"
    );
    assert!(
        report.contains(
            "This run, with these sinks: sampled 1.50x against at most 1.5x: met; unsampled \
             1.50x against at most 2x: met."
        ),
        "{report}"
    );
    assert!(
        report.contains("_Powertools for TypeScript: skipped — no Node.js installation"),
        "{report}"
    );
}

/// The `lambda_sinks` bench's results: medians in ns, the readers' wake-ups per invocation
/// (`wakes` for every case that writes or sends).
fn lambda_sinks(sampled_added: f64, write_send: f64, wakes: f64) -> (&'static str, String) {
    let woken = json!({ "pipe_reader": wakes, "daemon": wakes });
    (
        "lambda_sinks.json",
        json!({
            "rounds": 7,
            "iterations": 4000,
            "pause_us": 50.0,
            "bare_ns": 500.0,
            "clock_reads_ns": 30.0,
            "unsampled_added_ns": 4400.0,
            "sampled_added_ns": sampled_added,
            "write_ns": 4000.0,
            "write_send_ns": write_send,
            "write_in_place_ns": 4200.0,
            "write_send_in_place_ns": 8500.0,
            "write_dev_null_ns": 150.0,
            "sampled_beyond_floor_ns_per_round": [900.0, 1000.0, 1100.0],
            "unsampled_beyond_floor_ns_per_round": [150.0, 200.0, 250.0],
            "wake_ups_per_invocation": {
                "PerfLayer, unsampled": woken,
                "PerfLayer, sampled": woken,
                "floor: write(2)": woken,
                "floor: send(2) + write(2)": woken,
                "floor in place: write(2)": woken,
                "floor in place: send(2) + write(2)": woken,
            },
            "datagrams_sent": 84000,
            "datagrams_received": 84000,
        })
        .to_string(),
    )
}

#[test]
fn with_the_output_read_powertools_medians_are_compared_and_the_ratios_judge_nothing() {
    let peers = json!({
        "invocations": 100,
        "runs": 3,
        "python": {
            "bare": { "mean_us": 1.0, "median_us": 1.0 },
            "instrumented": { "mean_us": 251.0, "median_us": 191.0 },
            "added_us": 250.0,
            "added_median_us": 190.0,
        },
        "typescript": { "skipped": "no Node.js installation with Powertools" },
    });
    let dir = results(&[
        lambda_sinks(9500.0, 8000.0, 0.99),
        ("peers.json", peers.to_string()),
    ]);
    let report_text = report(dir.path());
    let text = &report_text[report_text
        .find("### The same invocation with its output read")
        .expect("the section")..];
    // Python's median, 190 µs, against lambda-perf's 9.5 µs: 20 times; its mean (250 µs)
    // is not compared with a median.
    assert_eq!(
        line_with(text, "| lambda-perf, sampled |"),
        "| lambda-perf, sampled | 9.50 µs | 1.19x | 1.12x | 20.00x | n/a |"
    );
    assert_eq!(
        line_with(text, "| Powertools for Python 3"),
        "| Powertools for Python 3.37.0 | 190.00 µs | 23.75x | | | |"
    );
    assert!(
        text.contains(
            "sampled 1.00 µs (0.90 µs to 1.10 µs over the rounds), where its ratio would allow \
             3.50 µs"
        ),
        "{text}"
    );
    assert!(text.contains("they are given for information"), "{text}");
    assert!(!text.contains("below 0.95"), "{text}");
    assert!(
        text.contains("woken by 0.99 of the invocations that write"),
        "{text}"
    );
    // Readers found awake are said to mix the figures.
    let dir = results(&[lambda_sinks(9500.0, 8000.0, 0.6)]);
    assert!(report(dir.path()).contains("below 0.95"));
}

#[test]
fn a_budget_over_its_limit_is_not_met() {
    let dir = results(&[invocation_overhead(&[
        BARE,
        ("PerfLayer, sampled", 2510.0),
        ("PerfLayer, unsampled", 1401.0),
        FLOOR,
        WRITE,
    ])]);
    let report = report(dir.path());
    assert!(
        report.contains(
            "This run, with these sinks: sampled 1.51x against at most 1.5x: not met; \
             unsampled 2.00x against at most 2x: not met."
        ),
        "{report}"
    );
}

/// The interleaved summary's JSON, for an added time and a floor each.
fn summary(sampled: f64, write_send: f64, unsampled: f64, write: f64) -> (&'static str, String) {
    (
        "invocation_overhead_summary.json",
        json!({
            "rounds": 7,
            "iterations": 20000,
            "unsampled_added_ns": unsampled,
            "sampled_added_ns": sampled,
            "write_ns": write,
            "write_send_ns": write_send,
            "write_in_place_ns": write,
            "write_send_in_place_ns": write_send,
        })
        .to_string(),
    )
}

#[test]
fn the_two_verdicts_are_compared_case_by_case() {
    // Criterion's means: both met. The summary: sampled not met.
    let dir = results(&[
        invocation_overhead(&[BARE, SAMPLED, UNSAMPLED, FLOOR, WRITE]),
        summary(1600.0, 1000.0, 300.0, 200.0),
    ]);
    let differing = report(dir.path());
    assert!(
        differing.contains(
            "The verdict by criterion's means and this one differ for sampled (1.50x by \
             criterion's means, 1.60x by the summary"
        ),
        "{differing}"
    );
    assert!(!differing.contains("differ for unsampled"), "{differing}");
    // Both met both ways.
    let dir = results(&[
        invocation_overhead(&[BARE, SAMPLED, UNSAMPLED, FLOOR, WRITE]),
        summary(1400.0, 1000.0, 300.0, 200.0),
    ]);
    let agreeing = report(dir.path());
    assert!(
        agreeing.contains("The verdict by criterion's means and this one agree."),
        "{agreeing}"
    );
}

#[test]
fn verdicts_are_not_said_to_agree_when_criterion_measured_no_floor() {
    // Criterion's run has no floor cases: its verdicts are n/a, so there is nothing for the
    // summary's to agree with.
    let dir = results(&[
        invocation_overhead(&[BARE, SAMPLED, UNSAMPLED]),
        summary(1400.0, 1000.0, 300.0, 200.0),
    ]);
    let report = report(dir.path());
    assert!(
        report.contains("sampled n/a; unsampled n/a."),
        "criterion's verdicts: {report}"
    );
    assert!(!report.contains("this one agree"), "{report}");
}

#[test]
fn instructions_per_invocation_are_the_growth_between_the_two_counts() {
    // bare: (3,000,000 - 1,000,000) / 1,000 = 2,000 per invocation; sampled: 5,000.
    let dir = results(&[(
        "instructions.txt",
        "fewer=1000\nmore=2000\nvalgrind=valgrind-3\nbare=1000000,3000000\n\
         sampled=9000000,14000000\n"
            .to_owned(),
    )]);
    let report = report(dir.path());
    let counted = &report[report
        .find("### The same invocation in instructions")
        .unwrap()..];
    assert_eq!(
        line_with(counted, "| lambda-perf, sampled |"),
        "| lambda-perf, sampled | 5,000 | 3,000 |"
    );
    assert_eq!(
        line_with(counted, "| lambda-perf, unsampled |"),
        "| lambda-perf, unsampled | n/a | n/a |"
    );
}

#[test]
fn instructions_under_inits_subscriber_are_against_the_bare_handler_under_it() {
    // bare_logged: 2,500 per invocation; sampled_logged: 8,000, added 5,500 over it (not
    // over the bare handler without the subscriber, 2,000).
    let dir = results(&[(
        "instructions.txt",
        "fewer=1000\nmore=2000\nvalgrind=valgrind-3\nbare=1000000,3000000\n\
         bare_logged=1000000,3500000\nsampled_logged=2000000,10000000\n"
            .to_owned(),
    )]);
    let report = report(dir.path());
    let counted = &report[report
        .find("### The same invocation in instructions")
        .unwrap()..];
    assert_eq!(
        line_with(
            counted,
            "| lambda-perf, sampled, under `init()`'s subscriber |"
        ),
        "| lambda-perf, sampled, under `init()`'s subscriber | 8,000 | 5,500 |"
    );
    assert_eq!(
        line_with(counted, "| bare handler, under `init()`'s subscriber |"),
        "| bare handler, under `init()`'s subscriber | 2,500 |  |"
    );
}

#[test]
fn the_concurrency_table_gives_each_settings_medians_and_quartiles() {
    let concurrency = json!({
        "rounds": 21,
        "invocations_per_round": 64000,
        "settings": [{
            "at_once": 8, "threads": 2, "pinned": true,
            "bare_wall_ns": 900.0, "bare_cpu_ns": 1000.0,
            "added_wall_ns": 1.0, "added_cpu_ns": 1500.0,
            "added_cpu_quartiles_ns": [1400.0, 1700.0],
            "floor_cpu_ns": 1000.0, "floor_cpu_quartiles_ns": [900.0, 1100.0],
        }],
    });
    let dir = results(&[("concurrency.json", concurrency.to_string())]);
    let report = report(dir.path());
    assert_eq!(
        line_with(&report, "| 8 | 2, pinned |"),
        "| 8 | 2, pinned | 1.00 µs | 1.50 µs (1.40 to 1.70 µs) | 1.00 µs (0.90 to 1.10 µs) | 1.50x |"
    );
}

/// Sharing alone (one invocation on each of two pinned threads against one on one thread) is
/// taken round by round, apart from the moves of the multi-thread runtime.
#[test]
fn sharing_alone_is_compared_round_by_round() {
    let rounds_on_one = [1300.0, 1310.0, 1320.0, 1330.0, 1340.0, 1350.0];
    // Each round 600 to 700 ns above the same round on one thread.
    let rounds_pinned = [1900.0, 1950.0, 2000.0, 2010.0, 2020.0, 2050.0];
    let concurrency = json!({
        "rounds": 6,
        "invocations_per_round": 64000,
        "settings": [
            concurrency_setting(1, 1, rounds_on_one, 800.0),
            pinned(concurrency_setting(2, 2, rounds_pinned, 800.0)),
        ],
    });
    let dir = results(&[("concurrency.json", concurrency.to_string())]);
    let report = report(dir.path());
    let sharing = line_with(&report, "Sharing alone,");
    assert!(
        sharing.contains(
            "changes by +0.68 µs (1.32 µs to 2.00 µs), the floor's own system calls by +0.00 µs"
        ),
        "{sharing}"
    );
    assert!(
        sharing.contains(
            "round by round, a median of +0.68 µs (a 97% confidence interval: +0.60 µs to \
             +0.70 µs, over 6 rounds): what `PerfLayer` adds rises."
        ),
        "{sharing}"
    );
}

#[test]
fn the_client_latency_verdict_reads_the_interval_over_the_processes() {
    let row = |median: f64, added: Option<(f64, f64, f64)>| {
        let mut row = json!({
            "samples": 100, "median_us": median, "p90_us": median, "p99_us": median,
            "mean_us": median, "replica_medians_us": [median, median],
        });
        if let Some((mean, low, high)) = added {
            row["added_vs_bare_over_replicas"] =
                json!({ "mean_us": mean, "low_us": low, "high_us": high });
            row["added_vs_bare"] = json!({ "median_us": 99.0, "low_us": 98.0, "high_us": 100.0 });
        }
        row
    };
    let latency = json!({
        "replicas": 2,
        "bare": row(100.0, None),
        "companion": row(101.0, Some((1.0, -2.0, 4.0))),
        "companion_unsampled": row(110.0, Some((10.0, 8.0, 12.0))),
    });
    let e2e = json!({ "client_latency": latency, "client_latency_quiet_sinks": {}, "init": {} });
    let dir = results(&[("end_to_end.json", e2e.to_string())]);
    let report = report(dir.path());
    assert!(
        report.contains(
            "By the interval over the processes: with the companion, sampled, the client's \
             latency shows no measurable difference from the bare handler's: the interval of \
             the added latency, -2.00 µs to 4.00 µs, includes zero (so this run cannot tell a \
             difference of less than about 3.00 µs either way from none). Unsampled, the \
             client's latency differs measurably from the bare handler's: the interval of the \
             added latency, 8.00 µs to 12.00 µs, excludes zero."
        ),
        "{report}"
    );
}

/// The companion's rows against the floor after the POST: each with its interval over the
/// processes and per invocation, judged by the first.
#[test]
fn the_companion_is_compared_with_the_floor_after_the_post() {
    let row = |median: f64| {
        json!({
            "samples": 100, "median_us": median, "p90_us": median, "p99_us": median,
            "mean_us": median, "replica_medians_us": [median, median],
            "added_vs_bare": { "median_us": 1.0, "low_us": 0.5, "high_us": 1.5 },
        })
    };
    let mut companion = row(110.0);
    companion["added_vs_floor"] = json!({ "median_us": 0.5, "low_us": -1.0, "high_us": 2.0 });
    companion["added_vs_floor_over_replicas"] =
        json!({ "mean_us": 0.25, "low_us": -3.0, "high_us": 3.5 });
    let mut unsampled = row(105.0);
    unsampled["added_vs_floor"] = json!({ "median_us": 4.0, "low_us": 3.0, "high_us": 5.0 });
    let latency = json!({
        "replicas": 1,
        "bare": row(100.0),
        "companion": companion,
        "companion_unsampled": unsampled,
        "floor_after_post": row(109.0),
        "floor_after_post_unsampled": row(101.0),
    });
    let e2e = json!({ "client_latency": latency, "client_latency_quiet_sinks": {}, "init": {} });
    let dir = results(&[("end_to_end.json", e2e.to_string())]);
    let report = report(dir.path());
    assert!(
        report.contains(
            "what the companion adds to the client's latency: sampled (against the line and \
             the datagram): per process 0.25 µs (-3.00 µs to 3.50 µs), per invocation 0.50 µs \
             (-1.00 µs to 2.00 µs): no measurable difference; unsampled (against the line \
             alone): per invocation 4.00 µs (3.00 µs to 5.00 µs): a measurable difference"
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "| floor after the POST: the same EMF line and datagram written by hand, no \
             lambda-perf | 109.00 µs |"
        ),
        "{report}"
    );
}

/// The words bench/run's loop `for … in <words>; do` that starts with `start` goes over.
fn bench_run_loop(start: &str) -> Vec<String> {
    let script = fs::read_to_string(workspace().join("bench/run")).unwrap();
    let at = script
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in bench/run"));
    let words = script[at..].split_once(" in ").unwrap().1;
    words
        .split_once("; do")
        .unwrap()
        .0
        .split_whitespace()
        .filter(|word| *word != "\\")
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_reproduction_list_names_every_mode_bench_run_counts() {
    let report = report(results(&[]).path());
    let reproduce = &report[report.find("## Reproduce").unwrap()..];
    let listed = |marker: &str| -> Vec<String> {
        let line = line_with(reproduce, marker);
        let (_, after) = line.split_once("COMPANION_MODE=").unwrap();
        after
            .split_whitespace()
            .next()
            .unwrap()
            .split('|')
            .map(str::to_owned)
            .collect()
    };
    // Instructions under the runtime loop: `for mode in …`.
    let counted = bench_run_loop("for mode in bare bare_threaded");
    assert_eq!(listed("- `lambda-perf run -n 201|2201"), counted);
    // Cache lines: `for subject in label:mode:sampling …`, each mode once.
    let mut simulated: Vec<String> = Vec::new();
    for subject in bench_run_loop("for subject in") {
        let mode = subject.split(':').nth(1).unwrap().to_owned();
        if !simulated.contains(&mode) {
            simulated.push(mode);
        }
    }
    assert_eq!(listed("- `lambda-perf run -n 101|601"), simulated);
}

#[test]
fn the_in_place_floor_is_compared_with_the_loops_one_case_by_case() {
    let in_place = |write: f64, write_send: f64| {
        invocation_overhead(&[
            BARE,
            SAMPLED,
            UNSAMPLED,
            FLOOR,
            WRITE,
            (
                "floor in place: bare handler writing the EMF line",
                1000.0 + write,
            ),
            (
                "floor in place: bare handler writing and sending",
                1000.0 + write_send,
            ),
        ])
    };
    // Both dearer in place.
    let both = report(results(&[in_place(250.0, 1100.0)]).path());
    assert!(
        both.contains("In this run they cost more in place (1.25x and 1.10x the loop's)."),
        "{both}"
    );
    // Neither.
    let neither = report(results(&[in_place(150.0, 900.0)]).path());
    assert!(
        neither.contains("In this run they did not cost more in place than in the loop."),
        "{neither}"
    );
    // The lone write(2) dearer in place, the pair not: neither sentence holds.
    let mixed = report(results(&[in_place(250.0, 900.0)]).path());
    assert!(!mixed.contains("did not cost more in place"), "{mixed}");
    assert!(!mixed.contains("they cost more in place"), "{mixed}");
    assert!(
        mixed.contains(
            "In this run a lone `write(2)` cost more in place (1.25x the loop's), \
             `write(2)` + `send(2)` did not (0.90x)."
        ),
        "{mixed}"
    );
}

/// `setting` with each invocation pinned to its thread.
fn pinned(mut setting: Value) -> Value {
    setting["pinned"] = json!(true);
    setting
}

/// A concurrency setting with its rounds: what `PerfLayer` adds, round by round, and the
/// floor's median.
fn concurrency_setting(at_once: u64, threads: u64, added: [f64; 6], floor: f64) -> Value {
    json!({
        "at_once": at_once, "threads": threads, "pinned": false,
        "bare_wall_ns": 200.0, "bare_cpu_ns": 200.0,
        "added_wall_ns": 1.0, "added_cpu_ns": added[2],
        "added_cpu_quartiles_ns": [added[1], added[4]],
        "floor_cpu_ns": floor, "floor_cpu_quartiles_ns": [floor, floor],
        "added_cpu_rounds_ns": added,
        "floor_cpu_rounds_ns": vec![floor; 6],
    })
}

/// Concurrency is measured from one invocation at a time on one thread: one at a time on the
/// 2-thread runtime costs the floor itself more, and a fall from it is the setting's, not
/// `PerfLayer`'s (found by review: the report said "falls" from it).
#[test]
fn concurrency_is_measured_from_one_at_a_time_on_one_thread() {
    let concurrency = json!({
        "rounds": 6,
        "invocations_per_round": 64000,
        "settings": [
            // One at a time on two workers: dear for everyone, the floor included.
            concurrency_setting(1, 2, [9000.0, 9000.0, 9000.0, 9000.0, 9000.0, 9000.0], 6000.0),
            concurrency_setting(8, 2, [1500.0, 1500.0, 1500.0, 1500.0, 1500.0, 1500.0], 1200.0),
            concurrency_setting(64, 1, [1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0], 1000.0),
            concurrency_setting(1, 1, [1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0], 1000.0),
        ],
    });
    let dir = results(&[("concurrency.json", concurrency.to_string())]);
    let report = report(dir.path());
    let alone = line_with(
        &report,
        "Concurrency alone, from 1 to 64 at once on one thread",
    );
    assert!(
        alone.contains("changes by +0.00 µs (1.00 µs to 1.00 µs)")
            && alone.ends_with("a change of what `PerfLayer` adds this run cannot tell from none."),
        "{alone}"
    );
    let eight = line_with(
        &report,
        "From 1 at once on one thread to 8 at once on the multi-thread runtime's 2 threads",
    );
    assert!(
        eight.contains(
            "changes by +0.50 µs (1.00 µs to 1.50 µs), the floor's own system calls by +0.20 µs"
        ) && eight.ends_with("what `PerfLayer` adds rises."),
        "{eight}"
    );
    assert!(
        !report.contains("what `PerfLayer` adds falls"),
        "no fall measured from the costly setting:\n{report}"
    );
    let setting = line_with(
        &report,
        "1 at once on the multi-thread runtime's 2 threads is no baseline",
    );
    assert!(
        setting.contains("the floor's own system calls change by +5.00 µs against one thread"),
        "{setting}"
    );
}

/// The OpenTelemetry table compares like with like: an unsampled backend with X-Ray
/// unsampled, never with X-Ray sampled (found by review).
#[test]
fn each_otel_backend_is_compared_with_x_ray_sampled_alike() {
    let cases = [
        case("otel warm", "xray, sampled", 10_000.0),
        case("otel warm", "otlp, sampled", 40_000.0),
        case("otel warm", "otlp, unsampled", 1_500.0),
        case("otel warm", "xray, unsampled", 1_000.0),
    ];
    let dir = results(&[(
        "criterion-otel_overhead.json",
        json!({ "target": "otel_overhead", "cases": cases }).to_string(),
    )]);
    let report = report(dir.path());
    assert_eq!(
        line_with(&report, "| otlp, unsampled |"),
        "| otlp, unsampled | 1.50 µs | 1.50x |"
    );
    assert_eq!(
        line_with(&report, "| otlp, sampled |"),
        "| otlp, sampled | 40.00 µs | 4.00x |"
    );
}

/// One build's starts as the end-to-end bench writes them: `rounds` (µs, one a round), their
/// upper median as the median and the mean, their largest as p90 and p99.
fn init_starts<const N: usize>(rounds: [f64; N]) -> Value {
    let mut sorted = rounds;
    sorted.sort_by(f64::total_cmp);
    let (median, largest) = (sorted[N / 2], sorted[N - 1]);
    json!({
        "samples": N, "median_us": median, "p90_us": largest, "p99_us": largest,
        "mean_us": median, "rounds_us": rounds.as_slice(),
    })
}

/// Init is compared round by round, each build started once a round, with an interval: the
/// budget is met only when the interval is below it (found by review: a difference of two
/// medians of separate blocks of starts, with no interval, was published).
#[test]
fn init_is_compared_round_by_round_with_an_interval() {
    let e2e = json!({
        "client_latency": {},
        "client_latency_quiet_sinks": {},
        "init": {
            "bare": init_starts([2000.0, 2500.0, 2100.0, 3000.0, 2200.0, 2300.0]),
            // 400 to 600 µs above each round's bare start.
            "perf": init_starts([2400.0, 3000.0, 2600.0, 3600.0, 2700.0, 2750.0]),
            // Below perf in some rounds, above in others.
            "otel": init_starts([2500.0, 2900.0, 2700.0, 3500.0, 2800.0, 2700.0]),
        },
    });
    let dir = results(&[("end_to_end.json", e2e.to_string())]);
    let report = report(dir.path());
    assert_eq!(
        line_with(&report, "| lambda-perf |"),
        "| lambda-perf | 2.750 ms | 3.600 ms | +0.500 ms (97% confidence interval +0.400 ms to \
         +0.600 ms, over 6 rounds) |"
    );
    assert!(
        report.contains(
            "6 starts per build. Budget: under 1 ms added: met (the interval is below it)."
        ),
        "{report}"
    );
    let otel = line_with(&report, "Its init, round by round");
    assert!(
        otel.contains("−0.100 ms to +0.100 ms, over 6 rounds"),
        "{otel}"
    );
}

/// The log line is compared with its own floor, one `write(2)` of the same line measured in
/// the same bench, when the bench measured it (found by review: the README said "measured
/// beside it" of another bench's `write(2)`).
#[test]
fn the_log_line_is_compared_with_its_own_write() {
    let cases = [
        case("log line", "JSON, inside an invocation", 2_000.0),
        case(
            "log line",
            "floor: one write(2) of the JSON line inside an invocation (250 bytes)",
            800.0,
        ),
    ];
    let dir = results(&[
        invocation_overhead(&[BARE, SAMPLED, UNSAMPLED, FLOOR, WRITE]),
        (
            "criterion-log_line.json",
            json!({ "target": "log_line", "cases": cases }).to_string(),
        ),
    ]);
    let report = report(dir.path());
    assert_eq!(
        line_with(&report, "| JSON, inside an invocation |"),
        "| JSON, inside an invocation | 2.00 µs | 2.50x |"
    );
}

/// The sentence on 1 at once on the 2-thread runtime draws its conclusion only from figures
/// that show it: where the floor costs less there, it gives the figures alone (found by
/// review: it said "dearer" whatever they were).
#[test]
fn the_two_thread_single_setting_is_judged_by_its_figures() {
    let concurrency = json!({
        "rounds": 6,
        "invocations_per_round": 64000,
        "settings": [
            concurrency_setting(1, 2, [800.0, 800.0, 800.0, 800.0, 800.0, 800.0], 700.0),
            concurrency_setting(64, 1, [1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0], 1000.0),
            concurrency_setting(1, 1, [1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0], 1000.0),
        ],
    });
    let dir = results(&[("concurrency.json", concurrency.to_string())]);
    let report = report(dir.path());
    assert!(!report.contains("is no baseline"), "{report}");
    assert_eq!(
        line_with(
            &report,
            "1 at once on the multi-thread runtime's 2 threads against"
        ),
        "1 at once on the multi-thread runtime's 2 threads against 1 on one thread: the \
         floor's own system calls change by −0.30 µs against one thread, what `PerfLayer` adds \
         by −0.20 µs."
    );
}

/// With too few rounds for a 95% interval (`LAMBDA_PERF_BENCH_STARTS` is taken down to 1),
/// neither the init budget nor a concurrency change gets a verdict (found by review: one
/// round's difference was declared within the budget).
#[test]
fn too_few_rounds_give_no_verdict() {
    let e2e = json!({
        "client_latency": {},
        "client_latency_quiet_sinks": {},
        "init": { "bare": init_starts([2000.0]), "perf": init_starts([2900.0]) },
    });
    let dir = results(&[("end_to_end.json", e2e.to_string())]);
    let init = report(dir.path());
    assert_eq!(
        line_with(&init, "1 starts per build."),
        "1 starts per build. Budget: under 1 ms added: no verdict (1 rounds are too few for a \
         95% interval)."
    );
    let few = |added: f64| {
        let mut setting = concurrency_setting(1, 1, [added; 6], 1000.0);
        setting["added_cpu_rounds_ns"] = json!([added, added, added]);
        setting
    };
    let mut alone = few(2000.0);
    alone["at_once"] = json!(64);
    let concurrency = json!({
        "rounds": 3,
        "invocations_per_round": 64000,
        "settings": [few(1000.0), alone],
    });
    let dir = results(&[("concurrency.json", concurrency.to_string())]);
    let report = report(dir.path());
    let line = line_with(&report, "Concurrency alone,");
    assert!(
        line.ends_with("too few rounds for a 95% interval, no verdict."),
        "{line}"
    );
}
