//! `lambda-perf run --memory MB`: the size imposes Lambda's limits on a real function.
//! CPU follows memory, an allocation past the cap is an out-of-memory kill reported as Lambda
//! reports one, and the function sees its size.

mod support;

use lambda_perf_local::sizing::CPU_PERIOD;
use support::*;

/// 40 ms of CPU time, on every machine however fast: about 40 ms at 1,769 MB.
const CPU_EVENT: &str = r#"{"cpu_ms": 40}"#;

#[test]
fn cpu_follows_memory() {
    require_sizing("cpu_follows_memory");
    let function = workload_function();
    let event = file_with(CPU_EVENT);
    let logs = tempfile::tempdir().unwrap();
    let run = |memory: &str, invocations: &str| {
        let log = temp_path(&logs, &format!("{memory}.log"));
        let output = lambda_perf(&[
            "run",
            "--json",
            "--no-progress",
            "-n",
            invocations,
            "--memory",
            memory,
            "--log-out",
            &log,
            "--event",
            event.path().to_str().unwrap(),
            "--env",
            "POWERTOOLS_METRICS_NAMESPACE=Sizing",
            "--",
            &function,
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        (json(&output), std::fs::read_to_string(log).unwrap())
    };
    let (small, small_log) = run("128", "4");
    let (large, large_log) = run("1769", "6");

    // The fastest warm invocation of each size: what the work costs there when nothing
    // else on the machine takes the CPU (the quota at 128 MB bounds it from below, other
    // processes only slow a run down).
    let fastest = |report: &serde_json::Value| {
        warm(report, "duration_ms")
            .into_iter()
            .reduce(f64::min)
            .expect("warm invocations")
    };
    let (small_warm, large_warm) = (fastest(&small), fastest(&large));
    assert!(
        small_warm >= 5.0 * large_warm,
        "warm duration at 128 MB {small_warm:.1} ms is not 5 times the one at 1769 MB \
         {large_warm:.1} ms"
    );

    // The report says how the size was imposed, and the function saw its size.
    for (report, log, mb, cores) in [
        (&small, &small_log, 128, 128.0 / 1769.0),
        (&large, &large_log, 1769, 1.0),
    ] {
        let resources = &report["resources"];
        assert_eq!(resources["memory_size_mb"], mb);
        assert!(
            ["v1", "v2"].contains(&resources["sizing"]["cgroup"].as_str().unwrap()),
            "{resources}"
        );
        let reported_cores = resources["sizing"]["cpu_cores"].as_f64().unwrap();
        assert!((reported_cores - cores).abs() < 1e-9, "{reported_cores}");
        let peak = resources["peak_memory_mb"].as_f64().unwrap();
        assert!(peak > 0.5 && peak < f64::from(mb), "peak {peak} MB");
        let process = &report["processes"][0];
        assert_eq!(process["memory_limit_mb"].as_f64(), Some(f64::from(mb)));
        assert_eq!(process["out_of_memory"], false);
        assert!(
            log.contains(&format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE={mb}\n")),
            "{log}"
        );
        assert!(log.contains(&format!("Memory Size: {mb} MB")), "{log}");
        // The binary's size, beside init.
        let binary = std::fs::metadata(&function).unwrap().len();
        assert_eq!(resources["binary"]["bytes"], binary);
    }
}

#[test]
fn an_allocation_past_the_limit_is_an_out_of_memory_kill() {
    require_sizing("an_allocation_past_the_limit_is_an_out_of_memory_kill");
    let event = file_with(r#"{"allocate_mb": 256}"#);
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "oom.log");
    let output = lambda_perf(&[
        "run",
        "--json",
        "--no-progress",
        "-n",
        "2",
        "--memory",
        "128",
        "--log-out",
        &log,
        "--event",
        event.path().to_str().unwrap(),
        "--",
        &workload_function(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("2 invocation(s) ran out of memory at 128 MB (Runtime.OutOfMemory)"),
        "{}",
        stderr(&output)
    );
    let report = json(&output);
    let invocations = report["invocations"].as_array().unwrap();
    for invocation in invocations {
        assert_eq!(invocation["status"], "out-of-memory", "{invocation}");
        assert_eq!(
            invocation["error"],
            "Runtime.OutOfMemory: Runtime exited with error: signal: killed"
        );
        assert!(invocation["duration_ms"].as_f64().unwrap() > 0.0);
    }
    // As on Lambda, the runtime starts again in the same environment: a restart.
    assert_eq!(invocations[0]["start_kind"], "cold");
    assert_eq!(invocations[1]["start_kind"], "restart");
    assert_eq!(invocations[1]["environment"], 0);
    assert_eq!(report["resources"]["out_of_memory"], 2);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
    for process in report["processes"].as_array().unwrap() {
        assert_eq!(process["out_of_memory"], true, "{process}");
        let peak = process["peak_memory_mb"].as_f64().unwrap();
        assert!(
            peak > 120.0 && peak <= 128.0,
            "peak {peak} MB at the 128 MB cap"
        );
    }
    let log = std::fs::read_to_string(log).unwrap();
    let request_id = invocations[0]["request_id"].as_str().unwrap();
    assert!(
        log.contains(&format!(
            "RequestId: {request_id} Error: Runtime exited with error: signal: killed\n"
        )),
        "{log}"
    );
    assert_eq!(
        log.matches("Status: error\tError Type: Runtime.OutOfMemory\n")
            .count(),
        2,
        "{log}"
    );
}

#[test]
fn memory_within_the_limit_is_measured() {
    require_sizing("memory_within_the_limit_is_measured");
    let event = file_with(r#"{"allocate_mb": 64}"#);
    // A zip's first bytes are all the check reads; the report states the size.
    let package = file_with("PK\u{3}\u{4} the rest of a deployment package");
    let output = lambda_perf(&[
        "run",
        "--json",
        "--no-progress",
        "-n",
        "2",
        "--memory",
        "256",
        "--package",
        package.path().to_str().unwrap(),
        "--event",
        event.path().to_str().unwrap(),
        "--",
        &workload_function(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    let peak = report["resources"]["peak_memory_mb"].as_f64().unwrap();
    assert!((64.0..256.0).contains(&peak), "peak {peak} MB");
    let used = report["invocations"][1]["max_memory_used_mb"]
        .as_f64()
        .unwrap();
    assert!(used >= 64.0, "max memory used {used} MB");
    let package_bytes = std::fs::metadata(package.path()).unwrap().len();
    assert_eq!(report["resources"]["package"]["bytes"], package_bytes);
}

/// A program that cannot start is the same one line with a size as without: the kernel's
/// refusal reaches the harness (it is no init failure of the function), and a text file is not
/// handed to a shell.
#[test]
fn a_program_that_cannot_start_is_named_in_a_sized_run_too() {
    require_sizing("a_program_that_cannot_start_is_named_in_a_sized_run_too");
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    // This machine's `true`, marked as built for the other common architecture.
    let (machine, architecture): (u16, &str) = if std::env::consts::ARCH == "aarch64" {
        (62, "x86_64")
    } else {
        (183, "aarch64")
    };
    let mut elf = std::fs::read("/bin/true").unwrap();
    elf[18..20].copy_from_slice(&machine.to_le_bytes());
    let foreign = dir.path().join("bootstrap");
    std::fs::write(&foreign, &elf).unwrap();
    let text = dir.path().join("notes");
    std::fs::write(&text, "echo hello\n").unwrap();
    for program in [&foreign, &text] {
        std::fs::set_permissions(program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (program, reason) in [
        (&foreign, format!("it is a binary for {architecture}")),
        (
            &text,
            "neither a binary for this machine nor a script".to_owned(),
        ),
    ] {
        let program = program.to_str().unwrap();
        let plain = lambda_perf(&["run", "--no-progress", "--", program]);
        let sized = lambda_perf(&["run", "--no-progress", "--memory", "128", "--", program]);
        assert_eq!(sized.status.code(), Some(2), "{}", stderr(&sized));
        assert!(sized.stdout.is_empty(), "no report: {}", stderr(&sized));
        assert!(
            stderr(&sized).starts_with(&format!("lambda-perf: error: cannot run {program}: "))
                && stderr(&sized).contains(&reason),
            "{}",
            stderr(&sized)
        );
        assert_eq!(stderr(&sized), stderr(&plain));
    }
}

/// A process the function started that outlived its parent (a daemon that forked twice, so
/// no longer its descendant) is still in its cgroup: it is killed with the function, and the
/// cgroup, empty, removed.
#[tokio::test]
async fn nothing_a_sized_function_started_outlives_it() {
    require_sizing("nothing_a_sized_function_started_outlives_it");
    use lambda_perf_local::emulator::{
        ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess, RuntimeApi,
    };
    use lambda_perf_local::sizing::{MemorySize, Sizing};
    let api = RuntimeApi::start().await.unwrap();
    let environment = ExecutionEnvironment::new().unwrap();
    let sizing = Sizing::new(MemorySize::new(128).unwrap()).unwrap();
    let sleep = unique_sleep(1);
    let script = format!(
        "(setsid {} {} </dev/null >/dev/null 2>&1 &); echo up; exec sleep 30",
        sleep[0], sleep[1]
    );
    let command = FunctionCommand::new("sh").args(["-c", &script]);
    let process = FunctionProcess::spawn_in_cgroup(
        &command,
        &FunctionConfig::new(),
        &environment,
        &api,
        sizing.create_cgroup().unwrap(),
    )
    .unwrap();
    let wait = std::time::Duration::from_secs(5);
    process
        .wait_for_line(|line| line.text == "up", wait)
        .await
        .unwrap();
    let sleep = [sleep[0].as_str(), sleep[1].as_str()];
    let deadline = std::time::Instant::now() + wait;
    while running(&sleep).is_empty() {
        assert!(std::time::Instant::now() < deadline, "never started");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let dirs = process.cgroup().unwrap().dirs().to_vec();
    process.kill().await.unwrap();
    drop(process);
    let left = left_running(&sleep);
    assert!(left.is_empty(), "left running: {left:?}");
    while dirs.iter().any(|dir| dir.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "not removed: {dirs:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[test]
fn a_size_lambda_does_not_offer_is_refused() {
    let output = lambda_perf(&["run", "--memory", "64", "--", "true"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("\"64\" is not a Lambda memory size: a number of MB from 128 to 10240"),
        "{text}"
    );
}

#[test]
fn a_package_that_is_not_a_zip_is_refused() {
    let package = file_with("not a zip");
    let output = lambda_perf(&[
        "run",
        "--package",
        package.path().to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("is not a zip file"),
        "{}",
        stderr(&output)
    );
}

/// The `lambda_perf` facts of the end-of-invocation EMF lines of a `--log-out` file.
fn end_facts(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|line| line.find('{').map(|brace| &line[brace..]))
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .map(|document| document["lambda_perf"].clone())
        .filter(|facts| facts.get("outcome").is_some())
        .collect()
}

/// In-function resource usage under a real size: a CPU-bound invocation at 128 MB uses all
/// of the 0.072 vCPU the size allots, so its CPU ratio is small and the share of its
/// allotment it used is near 1 (more memory would help); a waiting one uses next to none.
///
/// The waiting one runs at 1024 MB: what the (debug) function runs after its wait costs it
/// 4 to 21 ms of CPU on the shared test machines, whose processors run code several times
/// slower after a pause than in a loop, and at 128 MB that alone came to half or more of the
/// allotment of its whole 380 to 480 ms window (0.50 and 0.60, seen in CI).
#[test]
fn resource_usage_reads_cpu_bound_against_the_size() {
    require_sizing("resource_usage_reads_cpu_bound_against_the_size");
    let logs = tempfile::tempdir().unwrap();
    let facts = |memory: &str, event: &str| {
        let event = file_with(event);
        let log = temp_path(&logs, "usage.log");
        let output = lambda_perf(&[
            "run",
            "--json",
            "--no-progress",
            "-n",
            "3",
            "--memory",
            memory,
            "--env",
            "LAMBDA_PERF_RESOURCE_USAGE=true",
            "--env",
            "POWERTOOLS_METRICS_NAMESPACE=Sizing",
            "--log-out",
            &log,
            "--event",
            event.path().to_str().unwrap(),
            "--",
            &workload_function(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let facts = end_facts(&std::fs::read_to_string(&log).unwrap());
        assert_eq!(facts.len(), 3, "{facts:?}");
        facts
    };
    let number = |facts: &serde_json::Value, key: &str| {
        facts[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {facts}"))
    };
    let share = 128.0 / 1769.0;
    // 60 ms of CPU time: at 0.072 vCPU, a window of many CFS periods.
    for busy in facts("128", r#"{"cpu_ms": 60}"#).iter().skip(1) {
        let ratio = number(busy, "cpu_ratio");
        // The quota caps the ratio at the share; other processes can only lower it. The
        // quota is granted per CFS period, so a window of d ms can overlap the quotas of
        // d / period + 2 periods: the cap is looser the shorter the window.
        let periods = number(busy, "duration_ms") / CPU_PERIOD.as_secs_f64() / 1000.0;
        // Long enough for the cap to tell: without the quota the window would be 14 times
        // shorter, and this fails.
        assert!(
            periods >= 5.0,
            "too short a window to tell the quota: {busy}"
        );
        let cap = share * (periods + 2.0) / periods;
        assert!(ratio <= cap * 1.05, "above the cap {cap:.4}: {busy}");
        let used = number(busy, "cpu_allotment_used");
        assert!((used - ratio / share).abs() < 0.01, "{busy}");
        assert!(
            used > 0.6,
            "a CPU-bound invocation uses its allotment: {busy}"
        );
    }
    for idle in facts("1024", r#"{"sleep_ms": 300}"#).iter().skip(1) {
        let used = number(idle, "cpu_allotment_used");
        let ratio = number(idle, "cpu_ratio");
        assert!((used - ratio / (1024.0 / 1769.0)).abs() < 0.01, "{idle}");
        assert!(used < 0.3, "{idle}");
        assert!(number(idle, "duration_ms") >= 300.0, "{idle}");
    }
}
