//! A stand-in OpenTelemetry collector: OTLP/HTTP on a loopback port (HTTP/1.1, keep-alive),
//! every request kept with the moment it arrived, its body decoded (gzip too) with the
//! official protobuf definitions, and answered then or after a delay; and the decoding of
//! `xray-otlp` datagrams.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// The X-Ray daemon header every `xray-otlp` datagram starts with.
pub const DAEMON_HEADER: &[u8] = b"{\"format\":\"json\",\"version\":1}\n";

/// One export a collector received.
#[derive(Clone, Debug)]
pub struct Export {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub received_at: Instant,
    pub request: ExportTraceServiceRequest,
}

impl Export {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn spans(&self) -> Vec<Span> {
        spans_of(&self.request)
    }
}

/// Receives OTLP/HTTP exports on `127.0.0.1`.
pub struct OtlpCollector {
    addr: SocketAddr,
    exports: Arc<Mutex<Vec<Export>>>,
}

impl OtlpCollector {
    pub fn start() -> Self {
        Self::answering_after(Duration::ZERO)
    }

    /// A collector that answers each export `delay` after receiving it (a slow one).
    pub fn answering_after(delay: Duration) -> Self {
        Self::answering_with(delay, "200 OK", Vec::new())
    }

    /// A collector that answers each export `delay` after receiving it with `status` (e.g.
    /// `"503 Service Unavailable"`) and `body` (e.g. an encoded `ExportTraceServiceResponse`).
    pub fn answering_with(delay: Duration, status: &'static str, body: Vec<u8>) -> Self {
        Self::serving(delay, status, body, Connections::KeptAlive)
    }

    /// A collector that answers one export per connection and closes a kept-alive connection
    /// as the next request arrives on it, unanswered: an HTTP server's idle timeout firing at
    /// that moment (after a Lambda freeze, the collector's timers fire as the process thaws).
    pub fn closing_kept_alive_connections() -> Self {
        Self::serving(
            Duration::ZERO,
            "200 OK",
            Vec::new(),
            Connections::OneExportEach,
        )
    }

    fn serving(
        delay: Duration,
        status: &'static str,
        body: Vec<u8>,
        connections: Connections,
    ) -> Self {
        let body = Arc::new(body);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let exports = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&exports);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let kept = Arc::clone(&kept);
                let body = Arc::clone(&body);
                std::thread::spawn(move || {
                    serve(stream, &kept, delay, status, &body, connections);
                });
            }
        });
        Self { addr, exports }
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The traces endpoint, for `PerfLayer::builder().otlp_endpoint(..)`.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.base_url())
    }

    pub fn exports(&self) -> Vec<Export> {
        self.exports.lock().unwrap().clone()
    }

    /// The exports that hold spans of `trace_id` (hex).
    pub fn exports_of(&self, trace_id: &str) -> Vec<Export> {
        self.exports()
            .into_iter()
            .filter(|export| export.spans().iter().any(|s| hex(&s.trace_id) == trace_id))
            .collect()
    }

    /// Waits until an export holds spans of `trace_id`.
    pub fn wait_for(&self, trace_id: &str, timeout: Duration) -> Vec<Span> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans: Vec<Span> = self
                .exports_of(trace_id)
                .iter()
                .flat_map(Export::spans)
                .filter(|s| hex(&s.trace_id) == trace_id)
                .collect();
            if !spans.is_empty() || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// How long a collector keeps a connection.
#[derive(Clone, Copy)]
enum Connections {
    KeptAlive,
    /// Closed, unanswered, as the second request arrives on it.
    OneExportEach,
}

fn serve(
    stream: TcpStream,
    kept: &Mutex<Vec<Export>>,
    delay: Duration,
    status: &str,
    body: &[u8],
    connections: Connections,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for served in 0.. {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if served > 0 && matches!(connections, Connections::OneExportEach) {
            // Dropped with the request unread: the client gets a reset or an end of stream.
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v): &(String, String)| v.clone())
        };
        let length: usize = find("content-length").map_or(0, |v| v.parse().unwrap());
        let mut received = vec![0; length];
        if reader.read_exact(&mut received).is_err() {
            return;
        }
        let received_at = Instant::now();
        assert_eq!(
            find("content-type").as_deref(),
            Some("application/x-protobuf")
        );
        if find("content-encoding").as_deref() == Some("gzip") {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&*received)
                .read_to_end(&mut plain)
                .unwrap();
            received = plain;
        }
        let request = ExportTraceServiceRequest::decode(&*received).unwrap();
        kept.lock().unwrap().push(Export {
            path,
            headers,
            received_at,
            request,
        });
        std::thread::sleep(delay);
        let mut answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(body);
        if writer.write_all(&answer).is_err() {
            return;
        }
    }
}

/// Every span of a request.
pub fn spans_of(request: &ExportTraceServiceRequest) -> Vec<Span> {
    request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| scope.spans.clone())
        .collect()
}

/// An `xray-otlp` datagram: the daemon header, `T1S` or `T1U`, the base64 of a request.
pub fn decode_datagram(raw: &[u8]) -> (String, ExportTraceServiceRequest) {
    assert!(
        raw.starts_with(DAEMON_HEADER),
        "not a daemon datagram: {:?}",
        String::from_utf8_lossy(raw)
    );
    let rest = &raw[DAEMON_HEADER.len()..];
    let prefix = String::from_utf8(rest[..3].to_vec()).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&rest[3..])
        .unwrap();
    (prefix, ExportTraceServiceRequest::decode(&*bytes).unwrap())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The trace of `header` as OpenTelemetry ids are written ([`hex`]):
/// `1-5759e988-bd862e3fe1be46a994272793` → `5759e988bd862e3fe1be46a994272793`.
pub fn trace_id(header: &lambda_perf_local::emulator::TraceHeader) -> String {
    header.root[2..].replace('-', "")
}

/// (name, id, parent id) of every span, sorted: to compare with [`document_tree`].
pub fn span_tree(spans: &[Span]) -> Vec<(String, String, String)> {
    let mut tree: Vec<_> = spans
        .iter()
        .map(|s| (s.name.clone(), hex(&s.span_id), hex(&s.parent_span_id)))
        .collect();
    tree.sort();
    tree
}

/// (name, id, parent id) of every X-Ray document, sorted.
pub fn document_tree(documents: &[serde_json::Value]) -> Vec<(String, String, String)> {
    let mut tree: Vec<_> = documents
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_owned(),
                d["id"].as_str().unwrap().to_owned(),
                d["parent_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    tree.sort();
    tree
}

/// The value of attribute `key`.
pub fn attribute(attributes: &[KeyValue], key: &str) -> Option<any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
        .and_then(|value| value.value)
}

/// The string value of attribute `key`.
pub fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key) {
        Some(any_value::Value::StringValue(text)) => Some(text),
        _ => None,
    }
}

/// The span named `name`.
pub fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|span| span.name == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
            panic!("no span {name:?} in {names:?}")
        })
}

/// The span of X-Ray document `document`: the one whose id is the document's.
pub fn span_of<'a>(spans: &'a [Span], document: &serde_json::Value) -> &'a Span {
    let id = document["id"].as_str().unwrap();
    spans
        .iter()
        .find(|span| hex(&span.span_id) == id)
        .unwrap_or_else(|| panic!("no span with the id of {document}"))
}
