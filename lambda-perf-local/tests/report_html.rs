//! The HTML report of a small run, rendered by headless Chromium: the waterfall bars must
//! show up in the screenshot.
//!
//! The run is real harness traffic: invocations through the embedded Runtime API answered by
//! a client standing in for the function, X-Ray datagrams sent over UDP to the collector.
//! Chromium is required: on first use the test installs it with the workspace's
//! `tests/tools/chromium.sh` (Debian's `chromium`, with apt-get as root); when that is
//! impossible the test fails and says why. Set `LAMBDA_PERF_CHROMIUM` to use another binary.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_perf_local::emulator::{
    InvokeRequest, OutputLine, OutputStream, RuntimeApi, TraceHeader, XRayCollector,
};
use lambda_perf_local::report::{
    RecordedInvocation, RecordedProcess, Report, RunRecord, render_html,
};
use serde_json::{Value, json};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// How long Chromium may take to write the screenshot.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(120);

async fn call(
    client: &HttpClient,
    api: &RuntimeApi,
    method: Method,
    path: &str,
) -> (String, Bytes) {
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{}/2018-06-01/runtime/{path}", api.addr()))
        .body(Full::new(Bytes::from_static(b"{\"ok\":true}")))
        .expect("request");
    let response = client.request(request).await.expect("HTTP exchange");
    let id = response
        .headers()
        .get("lambda-runtime-aws-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (id, body)
}

/// Plays the function for one invocation: takes it from `/next`, waits `work`, responds.
async fn serve_one(client: &HttpClient, api: &RuntimeApi, work: Duration) {
    let (id, _) = call(client, api, Method::GET, "invocation/next").await;
    tokio::time::sleep(work).await;
    call(
        client,
        api,
        Method::POST,
        &format!("invocation/{id}/response"),
    )
    .await;
}

fn emf_line(request_id: &str, kind: &str, invocation: u64) -> String {
    json!({
        "_aws": {"Timestamp": 1_760_000_000_000_u64, "CloudWatchMetrics": [{
            "Namespace": "Shop", "Dimensions": [["service"]],
            "Metrics": [{"Name": "OrdersPlaced", "Unit": "Count"}]}]},
        "service": "orders", "OrdersPlaced": [1.0],
        "lambda_perf": {"start_kind": kind, "invocation": invocation, "request_id": request_id,
            "environment_age_ms": 10.0, "init_duration_ms": 42.0, "duration_ms": 80.0,
            "outcome": "success"},
    })
    .to_string()
}

/// The handler subsegment and two nested ones of an invocation's trace.
fn trace_documents(header: &TraceHeader, n: u64) -> Vec<Value> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64();
    let handler_id = format!("{:016x}", 0x1000 + n);
    let doc = |id: String, name: &str, parent: &str, start: f64, end: f64| {
        json!({"name": name, "id": id, "trace_id": header.root, "parent_id": parent,
               "type": "subsegment", "start_time": now + start, "end_time": now + end})
    };
    vec![
        doc(handler_id.clone(), "## orders-fn", &header.parent, 0.0, 0.1),
        doc(
            format!("{:016x}", 0x2000 + n),
            "load order",
            &handler_id,
            0.01,
            0.06,
        ),
        doc(
            format!("{:016x}", 0x3000 + n),
            "save order",
            &handler_id,
            0.06,
            0.095,
        ),
    ]
}

async fn small_run() -> RunRecord {
    let api = RuntimeApi::start().await.expect("Runtime API");
    let collector = XRayCollector::start().await.expect("collector");
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("UDP socket");
    let mut record = RunRecord {
        function: "lambda-perf demo".into(),
        ..RunRecord::default()
    };
    let mut output = Vec::new();
    let mut sent = 0;
    for (index, work_ms) in [(0_usize, 60_u64), (1, 15)] {
        let (result, ()) = tokio::join!(
            api.invoke(InvokeRequest::json(json!({"order": index}))),
            serve_one(&client, &api, Duration::from_millis(work_ms)),
        );
        let result = result.expect("invocation resolves");
        let header_text = result
            .trace_header
            .clone()
            .expect("a generated trace header");
        let header = TraceHeader::parse(&header_text).expect("valid header");
        for document in trace_documents(&header, index as u64) {
            let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{document}");
            socket
                .send_to(datagram.as_bytes(), collector.addr())
                .expect("send");
            sent += 1;
        }
        let (kind, position) = if index == 0 { ("cold", 1) } else { ("warm", 2) };
        output.push(OutputLine::new(
            OutputStream::Stdout,
            emf_line(&result.request_id, kind, position),
            Instant::now(),
        ));
        record.invocations.push(RecordedInvocation {
            index,
            process: 0,
            environment: 0,
            trace_header: Some(header_text),
            request_id: result.request_id.clone(),
            handed_out_at: result.handed_out_at,
            ended_at: Some(result.resolved_at),
            released_at: None,
            max_memory_used_bytes: None,
            reply: Ok(result.into()),
        });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while collector.datagrams().len() < sent {
        assert!(
            Instant::now() < deadline,
            "the collector got every datagram"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    record.processes.push(RecordedProcess {
        index: 0,
        environment: 0,
        output,
        exit: None,
        stopped_by_harness: None,
        ..RecordedProcess::default()
    });
    record.datagrams = collector.datagrams();
    record
}

/// The Chromium binary, installed on first use by `tests/tools/chromium.sh` (idempotent,
/// under a lock); the test fails with the installer's reason when it cannot be had.
fn chromium() -> PathBuf {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("tools")
        .join("chromium.sh");
    let mut command = Command::new("bash");
    command.arg(&script);
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        if let Some(target) = option_env!("CARGO_TARGET_DIR") {
            command.env("CARGO_TARGET_DIR", target);
        }
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("running bash {}: {error}", script.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the screenshot test needs Chromium, which is not installed and could not be: {}",
        stderr.trim()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
}

/// Screenshots `html` (a file) into `png` with headless Chromium, 1200×900.
fn screenshot(chromium: &Path, html: &Path, png: &Path, profile: &Path, logs: &Path) {
    let log = |name: &str| File::create(logs.join(name)).expect("log file");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // Draw everything before the screenshot, even on a loaded machine.
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--window-size=1200,900")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(log("stdout.log"))
        .stderr(log("stderr.log"))
        .spawn()
        .unwrap_or_else(|error| panic!("starting {}: {error}", chromium.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for Chromium") {
            break status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "Chromium took more than {CHROMIUM_TIMEOUT:?}; stderr:\n{}",
                std::fs::read_to_string(logs.join("stderr.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success() && png.is_file(),
        "Chromium failed ({status}) to write {}; stderr:\n{}",
        png.display(),
        std::fs::read_to_string(logs.join("stderr.log")).unwrap_or_default()
    );
}

/// The image as 8-bit RGBA rows: (width, height, pixels).
fn decode(png_path: &Path) -> (u32, u32, Vec<u8>) {
    let file = File::open(png_path).expect("the screenshot");
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a buffer size")];
    let info = reader.next_frame(&mut buffer).expect("a frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    assert_eq!(info.color_type, png::ColorType::Rgba, "{info:?}");
    buffer.truncate(info.buffer_size());
    (info.width, info.height, buffer)
}

/// The `#rrggbb` color that follows `key` in `text`.
fn color_after<'a>(text: &'a str, key: &str) -> &'a str {
    let start = text
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in the page"))
        + key.len();
    let color = text[start..].get(..7).unwrap_or_default();
    assert!(
        color.starts_with('#') && color[1..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{key} is followed by {color:?}, not a #rrggbb color"
    );
    color
}

/// The background the page's stylesheet gives waterfall bars: its `.wf-bar` rule.
fn waterfall_bar_color(html: &str) -> &str {
    let rule = &html[html.find(".wf-bar {").expect("a .wf-bar rule in the page")..];
    color_after(
        &rule[..rule.find('}').expect("the rule ends")],
        "background: ",
    )
}

/// The color of cold starts in the duration chart, as its legend shows it.
fn cold_start_color(html: &str) -> &str {
    let legend = &html[..html.find("</span>cold start").expect("the chart's legend")];
    color_after(
        &legend[legend.rfind("background:").expect("a swatch")..],
        "background:",
    )
}

fn rgb(hex: &str) -> [u8; 3] {
    let hex = hex.trim_start_matches('#');
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex color");
    [channel(0), channel(2), channel(4)]
}

/// How many pixels are within a few levels of `color` on every channel.
fn count(pixels: &[u8], color: [u8; 3]) -> usize {
    pixels
        .chunks_exact(4)
        .filter(|p| (0..3).all(|c| p[c].abs_diff(color[c]) <= 6))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waterfall_shows_in_a_chromium_screenshot() {
    let record = small_run().await;
    let report = Report::build(&record);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    let kinds: Vec<Option<&str>> = report
        .invocations
        .iter()
        .map(|i| i.start_kind.as_deref())
        .collect();
    assert_eq!(kinds, [Some("cold"), Some("warm")]);
    for invocation in &report.invocations {
        let handler = &invocation.subsegments[0];
        assert_eq!(handler.name, "## orders-fn");
        assert_eq!(handler.children.len(), 2);
        assert!(invocation.duration_ms.is_some());
    }
    assert_eq!(report.metrics[0].values, [1.0, 1.0]);

    let html = render_html(&report);
    assert_eq!(html.matches("class=\"wf-bar").count(), 6);
    for external in ["<script", "http://", "https://", "<link", "url("] {
        assert!(!html.contains(external), "{external} in the page");
    }

    let chromium = chromium();
    let dir = tempfile::tempdir().expect("temp dir");
    let html_path = dir.path().join("report.html");
    let png_path = dir.path().join("report.png");
    let profile = dir.path().join("profile");
    std::fs::write(&html_path, &html).expect("write the page");
    screenshot(&chromium, &html_path, &png_path, &profile, dir.path());

    let (width, height, pixels) = decode(&png_path);
    assert_eq!((width, height), (1200, 900));
    let (bar_color, cold_color) = (waterfall_bar_color(&html), cold_start_color(&html));
    assert!(
        html.contains(&format!("fill=\"{cold_color}\"")),
        "the chart draws its cold start in the color of its legend, {cold_color}"
    );
    let bar_pixels = count(&pixels, rgb(bar_color));
    let cold_pixels = count(&pixels, rgb(cold_color));
    assert!(
        bar_pixels >= 2_000,
        "only {bar_pixels} pixels of the waterfall color {bar_color}: the waterfall \
         did not render (page kept in {})",
        dir.keep().display()
    );
    assert!(
        cold_pixels >= 200,
        "only {cold_pixels} pixels of the cold-start chart color {cold_color}"
    );
}
