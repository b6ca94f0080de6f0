"""One Powertools for Python process: N warm invocations of a handler, timed one by one.

Run by bench/powertools/peer.py in a Lambda-like environment (LAMBDA_TASK_ROOT set, a sampled
_X_AMZN_TRACE_ID rotated before every invocation as the runtime does, AWS_XRAY_DAEMON_ADDRESS
pointing at a real UDP receiver, stdout a pipe that is read, flushed at every write as the
runtime flushes it). Prints one JSON object on stderr.

    python3 handler_bench.py MODE INVOCATIONS WARMUP     (MODE: bare | instrumented)
"""

import json
import os
import secrets
import sys
import time

MODE, INVOCATIONS, WARMUP = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


class Unbuffered:
    """stdout as Lambda's Python runtime (awslambdaric's bootstrap) sets it: every write
    flushed, so that each EMF line Metrics prints reaches the file descriptor in the invocation
    that printed it, as lambda-perf's does. Left block-buffered (stdout not a terminal), the lines
    wait in an 8 KiB buffer, and many invocations share one write(2)."""

    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def writelines(self, lines):
        self.stream.writelines(lines)
        self.stream.flush()


sys.stdout = Unbuffered(sys.stdout)


class Context:
    function_name = "bench-fn"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-fn"
    memory_limit_in_mb = 1769
    aws_request_id = "req"
    log_group_name = "/aws/lambda/bench-fn"
    log_stream_name = "stream"

    @staticmethod
    def get_remaining_time_in_millis():
        return 30000


if MODE == "instrumented":
    from aws_lambda_powertools import Metrics, Tracer
    from aws_lambda_powertools.metrics import MetricUnit

    tracer = Tracer(service="bench")
    metrics = Metrics(namespace="Bench", service="bench")

    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event, context):
        metrics.add_metric(name="Orders", unit=MetricUnit.Count, value=1)
        tracer.put_annotation(key="tier", value="gold")
        return {"ok": True}

else:

    def handler(event, context):
        return {"ok": True}


def new_trace_header():
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=1"


context = Context()
samples = []
for index in range(WARMUP + INVOCATIONS):
    os.environ["_X_AMZN_TRACE_ID"] = new_trace_header()
    start = time.perf_counter_ns()
    handler({"index": index}, context)
    elapsed = time.perf_counter_ns() - start
    if index >= WARMUP:
        samples.append(elapsed)

samples.sort()
json.dump(
    {
        "mode": MODE,
        "invocations": len(samples),
        "mean_us": sum(samples) / len(samples) / 1000,
        "median_us": samples[len(samples) // 2] / 1000,
    },
    sys.stderr,
)
