"""Powertools for Python and for TypeScript on lambda-perf's scenario: a warm invocation with
one metric, one annotation and the handler subsegment, against the same bare handler.

    python3 peer.py OUT.json WORKDIR INVOCATIONS RUNS

Each (runtime, mode) runs RUNS times in a fresh process (stdout to a pipe that `cat` drains into
a file in WORKDIR, as Lambda reads a function's stdout through a pipe; X-Ray datagrams to a UDP
socket this script binds and drains); a figure is the median of the runs' means. Runtimes whose interpreter or packages are missing are reported as such and
skipped. Uses only the standard library; the packages are installed by bench/run.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT, WORKDIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
INVOCATIONS, RUNS = int(sys.argv[3]), int(sys.argv[4])
WARMUP = 500


class Receiver:
    """A UDP socket standing in for the X-Ray daemon: it drains and counts datagrams."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.count = 0
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        while True:
            self.sock.recv(65536)
            self.count += 1

    def settled_count(self, quiet_s=0.2, at_most_s=5.0):
        """The count once no datagram has come for `quiet_s` (at most `at_most_s`): the
        last process may exit before the drain has read what it sent."""
        deadline = time.monotonic() + at_most_s
        last = self.count
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            if self.count == last:
                break
            last = self.count
        return self.count

    @property
    def address(self):
        host, port = self.sock.getsockname()
        return f"{host}:{port}"


def run(command, receiver, label):
    env = dict(
        os.environ,
        AWS_LAMBDA_FUNCTION_NAME="bench-fn",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1769",
        AWS_REGION="us-east-1",
        LAMBDA_TASK_ROOT="/tmp",
        POWERTOOLS_SERVICE_NAME="bench",
        POWERTOOLS_METRICS_NAMESPACE="Bench",
        AWS_XRAY_DAEMON_ADDRESS=receiver.address,
        AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR",
        # Powertools for TypeScript traces only where this is set, as Lambda sets it.
        AWS_EXECUTION_ENV="AWS_Lambda_nodejs20.x",
        NODE_PATH=os.path.join(WORKDIR, "node", "node_modules"),
    )
    stdout_path = os.path.join(WORKDIR, f"{label}.stdout")
    with open(stdout_path, "wb") as stdout:
        reader = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=stdout)
        try:
            done = subprocess.run(
                command, env=env, stdout=reader.stdin, stderr=subprocess.PIPE, cwd=WORKDIR, check=False
            )
        finally:
            reader.stdin.close()
            reader.wait()
    if done.returncode != 0:
        raise RuntimeError(f"{label}: exit {done.returncode}: {done.stderr.decode()[-2000:]}")
    last = done.stderr.decode().strip().splitlines()[-1]
    return json.loads(last)


def measure(name, command_of):
    receiver = Receiver()
    result = {}
    for mode in ("bare", "instrumented"):
        runs = [
            run(command_of(mode), receiver, f"{name}-{mode}-{index}") for index in range(RUNS)
        ]
        result[mode] = {
            "mean_us": statistics.median(r["mean_us"] for r in runs),
            "median_us": statistics.median(r["median_us"] for r in runs),
            "runs": [r["mean_us"] for r in runs],
        }
    result["added_us"] = result["instrumented"]["mean_us"] - result["bare"]["mean_us"]
    result["added_median_us"] = result["instrumented"]["median_us"] - result["bare"]["median_us"]
    result["x_ray_datagrams"] = receiver.settled_count()
    result["datagrams_expected"] = RUNS * (WARMUP + INVOCATIONS)
    return result


report = {"invocations": INVOCATIONS, "warmup": WARMUP, "runs": RUNS}
python = os.path.join(WORKDIR, "py", "bin", "python")
if os.path.exists(python):
    try:
        report["python"] = measure(
            "python",
            lambda mode: [python, os.path.join(HERE, "handler_bench.py"), mode, str(INVOCATIONS), str(WARMUP)],
        )
        version = subprocess.run([python, "--version"], capture_output=True, text=True).stdout.strip()
        report["python"]["interpreter"] = version
    except Exception as error:  # noqa: BLE001 -- reported, and the rest goes on
        report["python"] = {"skipped": str(error)}
else:
    report["python"] = {"skipped": "no Python virtual environment with Powertools"}

node_modules = os.path.join(WORKDIR, "node", "node_modules", "@aws-lambda-powertools")
node = os.environ.get("NODE", "node")
if os.path.exists(node_modules):
    try:
        # ESM resolves packages from the script's directory upwards: run a copy inside WORKDIR.
        script = os.path.join(WORKDIR, "node", "handler_bench.mjs")
        with open(os.path.join(HERE, "handler_bench.mjs"), "rb") as source, open(script, "wb") as copy:
            copy.write(source.read())
        report["typescript"] = measure(
            "typescript", lambda mode: [node, script, mode, str(INVOCATIONS), str(WARMUP)]
        )
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
        report["typescript"]["interpreter"] = f"Node {version}"
    except Exception as error:  # noqa: BLE001
        report["typescript"] = {"skipped": str(error)}
else:
    report["typescript"] = {"skipped": "no Node.js installation with Powertools"}

with open(OUT, "w") as out:
    json.dump(report, out, indent=2)
print(json.dumps(report, indent=2))
