"""The X-Ray scenario of `tests/src/bin/scenario-function.rs` (event `{"action":"trace"}`),
run with the official Python X-Ray SDK (`aws-xray-sdk`) in Lambda mode.

Usage: python reference.py [TRACE_HEADER]

TRACE_HEADER is the `_X_AMZN_TRACE_ID` value of the invocation (`Root=...;Parent=...;Sampled=1`);
without it a fresh sampled header is generated. The script binds its own "daemon" UDP socket on
127.0.0.1:0, points the SDK at it, runs the handler once, receives the SDK's datagrams, checks
that each starts with the header line `{"format":"json","version":1}` and prints one JSON array
of the parsed documents on stdout, in the order they arrived. Anything else goes to stderr; a
malformed or missing datagram exits non-zero.

Set up the interpreter with `tests/xray_reference/setup.sh`; `tests/tests/xray_reference.rs`
compares this output with the documents of our Rust SDK.
"""

import json
import os
import secrets
import socket
import sys
import time

# The four subsegments the scenario produces: `## orders-fn`, `work`, `lookup`, `nested_failure`.
EXPECTED_DATAGRAMS = 4
HEADER_LINE = b'{"format":"json","version":1}'

# The "daemon": bound before the SDK is imported, because the SDK reads
# AWS_XRAY_DAEMON_ADDRESS when its global recorder is created at import time.
daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
daemon.bind(("127.0.0.1", 0))
daemon_host, daemon_port = daemon.getsockname()

if len(sys.argv) > 1:
    trace_header = sys.argv[1]
else:
    trace_header = "Root=1-%08x-%s;Parent=%s;Sampled=1" % (
        int(time.time()),
        secrets.token_hex(12),
        secrets.token_hex(8),
    )

# Lambda mode: LAMBDA_TASK_ROOT makes the SDK use its LambdaContext, which
# builds a read-only facade segment from _X_AMZN_TRACE_ID and sends every subsegment on its own.
os.environ["LAMBDA_TASK_ROOT"] = os.path.dirname(os.path.abspath(__file__))
os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "orders-fn"
os.environ["_X_AMZN_TRACE_ID"] = trace_header
os.environ["AWS_XRAY_DAEMON_ADDRESS"] = "%s:%d" % (daemon_host, daemon_port)
os.environ["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"

from aws_xray_sdk.core import xray_recorder  # noqa: E402  (must follow the environment)


def handler(event, context):
    """What scenario-function.rs does for `{"action":"trace"}`, with the handler subsegment
    that PerfLayer (like Powertools' `capture_lambda_handler`) opens around it."""
    with xray_recorder.in_subsegment("## orders-fn") as subsegment:
        # What the layer adds on a cold start (Powertools: ColdStart and Service annotations).
        subsegment.put_annotation("ColdStart", True)
        subsegment.put_annotation("Service", "orders")
        # What the handler adds to the current subsegment.
        xray_recorder.put_annotation("customer_tier", "gold")
        xray_recorder.put_annotation("order_count", 3)
        xray_recorder.put_annotation("ratio", 0.75)
        xray_recorder.put_annotation("is_retry", False)
        xray_recorder.put_metadata("payload", {"items": [1, 2], "note": "hi"}, "demo_ns")
        with xray_recorder.in_subsegment("work"):
            # The Rust side is a `tracing` span with `annotation.table = "users"`,
            # `xray.namespace = "aws"` and the field `user = 21` (metadata `tracing.user`).
            with xray_recorder.in_subsegment("lookup", namespace="aws") as lookup:
                lookup.put_annotation("table", "users")
                lookup.put_metadata("user", 21, "tracing")
                time.sleep(0.002)
                doubled = 21 * 2
        failed = False
        try:
            with xray_recorder.in_subsegment("nested_failure"):
                raise ValueError("boom from nested subsegment")
        except ValueError:
            failed = True
        return {"done": "trace", "doubled": doubled, "failed": failed}


def receive(count):
    """The datagrams the SDK sent: `count` of them, then whatever else arrives shortly after."""
    datagrams = []
    daemon.settimeout(5.0)
    try:
        while len(datagrams) < count:
            datagrams.append(daemon.recv(65536))
        daemon.settimeout(0.2)
        while True:
            datagrams.append(daemon.recv(65536))
    except socket.timeout:
        pass
    return datagrams


def parse(datagram):
    header, newline, body = datagram.partition(b"\n")
    if not newline:
        sys.exit("datagram without a header line: %r" % datagram)
    if header != HEADER_LINE:
        sys.exit("unexpected header line %r (want %r)" % (header, HEADER_LINE))
    document = json.loads(body.decode("utf-8"))
    if not isinstance(document, dict):
        sys.exit("the document is not a JSON object: %r" % body)
    return document


def main():
    response = handler({"action": "trace"}, None)
    expected = {"done": "trace", "doubled": 42, "failed": True}
    if response != expected:
        sys.exit("handler responded %r, want %r" % (response, expected))
    documents = [parse(datagram) for datagram in receive(EXPECTED_DATAGRAMS)]
    if len(documents) < EXPECTED_DATAGRAMS:
        sys.exit(
            "received %d datagrams, want %d: %r"
            % (len(documents), EXPECTED_DATAGRAMS, documents)
        )
    json.dump(documents, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
