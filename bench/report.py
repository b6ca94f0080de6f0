"""BENCHMARKS.md from the results bench/run collected (printed on stdout).

    python3 report.py RESULTS_DIR QUICK

Every figure comes from a file in RESULTS_DIR written by this run; a figure whose
measurement is missing is shown as "n/a" with the reason in the notes.
"""

import glob
import json
import math
import os
import sys

results, quick = sys.argv[1], sys.argv[2] == "1"


def load(name):
    path = os.path.join(results, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def key_values(name):
    """The `key=value` lines of a results file, as a dict (empty when the file is missing)."""
    pairs = {}
    if os.path.exists(os.path.join(results, name)):
        with open(os.path.join(results, name)) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                pairs[key] = value
    return pairs


machine = {}
with open(os.path.join(results, "machine.txt")) as f:
    for line in f:
        key, _, value = line.strip().partition("=")
        machine[key] = value
notes = []
if os.path.exists(os.path.join(results, "notes.txt")):
    with open(os.path.join(results, "notes.txt")) as f:
        notes = [line.strip() for line in f if line.strip()]

criterion = {}
for path in sorted(glob.glob(os.path.join(results, "criterion-*.json"))):
    with open(path) as f:
        data = json.load(f)
    criterion[data["target"]] = data["cases"]
peers = load("peers.json") or {}

instructions = key_values("instructions.txt")
runtime_instructions = key_values("runtime_instructions.txt")
runtime_cache_lines = key_values("runtime_cache_lines.txt")
rss = {}
if os.path.exists(os.path.join(results, "rss.txt")):
    with open(os.path.join(results, "rss.txt")) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key == "invocations":
                rss[key] = value
            elif value:
                done, _, kb = value.partition(":")
                rss.setdefault(key, {})[int(done)] = kb
e2e = load("end_to_end.json") or {}
concurrency = load("concurrency.json") or {}
sizes = {}
if os.path.exists(os.path.join(results, "sizes.txt")):
    with open(os.path.join(results, "sizes.txt")) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if value:
                sizes[key] = int(value)


def us(ns):
    return None if ns is None else ns / 1000


def fmt(value, unit="µs", digits=2):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f} {unit}".strip()


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def median_interval(diffs):
    """The median of paired differences, with a distribution-free confidence interval for it
    from their order statistics (at least 95% from 6 pairs on, the extremes below that):
    (median, low, high, coverage in %)."""
    diffs = sorted(diffs)
    n = len(diffs)

    def below(k):
        # P(Binomial(n, 1/2) < k): the chance that fewer than k differences fall below the
        # median.
        return sum(math.comb(n, i) for i in range(k)) / 2**n

    # [x_k, x_(n+1-k)] covers the median with probability 1 - 2 below(k): the largest k that
    # keeps it at least 95% (k = 1 when even the extremes do not).
    k = 1
    while k + 1 <= (n + 1) // 2 and below(k + 1) <= 0.025:
        k += 1
    middle = (diffs[(n - 1) // 2] + diffs[n // 2]) / 2
    return middle, diffs[k - 1], diffs[n - k], 100 * (1 - 2 * below(k))


def find(target, *words, exclude=()):
    """The mean (ns) of the first case of `target` whose name has every word and none of
    `exclude`."""
    for case in criterion.get(target, []):
        name = f"{case['group']}/{case['function']}".lower()
        if all(w in name for w in words) and not any(w in name for w in exclude):
            return case["mean_ns"]
    return None


out = []
w = out.append
w("# BENCHMARKS")
w("")
w(
    "What lambda-perf costs, measured by `bench/run` on the machine below, against the floor "
    "it is budgeted by (one `write(2)` of the EMF line plus one UDP `send(2)` of the "
    "subsegment, `ARCHITECTURE.md`) and against Powertools for AWS Lambda (Python and TypeScript) "
    "doing the same work. Every number on this page was measured in the one run described "
    "here; rerun `bench/run` to reproduce them (`bench/run --quick` for a shorter run)."
)
w("")
w("## Machine and run")
w("")
w("| | |")
w("|---|---|")
for key, label in [
    ("mode", "run"),
    ("date", "date (UTC)"),
    ("commit", "commit"),
    ("nproc", "`nproc`"),
    ("cpu", "CPU"),
    ("kernel", "kernel"),
    ("load", "load average"),
    ("rustc", "Rust"),
    ("python", "Python"),
    ("node", "Node.js"),
    ("python_powertools", "Powertools for Python"),
    ("node_powertools", "Powertools for TypeScript"),
]:
    w(f"| {label} | {machine.get(key, 'n/a')} |")
w("")
w(
    "The machine is shared and is not a Lambda sandbox: absolute numbers carry its noise; the "
    "ratios, measured side by side in one run, are what carries over."
)
w("")

# --- the headline -----------------------------------------------------------------------
bare = find("invocation_overhead", "warm/bare handler")
sampled = find("invocation_overhead", "warm/", "perflayer, sampled", exclude=("at once",))
unsampled = find("invocation_overhead", "warm/", "perflayer, unsampled", exclude=("resource", "at once"))
floor_sampled = find("invocation_overhead", "floor", "send", exclude=("in place",))
floor_unsampled = find("invocation_overhead", "floor", "write", exclude=("send", "in place"))
# The same system calls made by the bare handler itself.
in_place_write = find("invocation_overhead", "floor in place", "writing the emf line")
in_place_write_send = find("invocation_overhead", "floor in place", "writing and sending")


def less_bare(case):
    """What a case (ns) adds over the bare handler; None without either."""
    return None if case is None or bare is None else case - bare


added_sampled = less_bare(sampled)
added_unsampled = less_bare(unsampled)
py = peers.get("python", {})
ts = peers.get("typescript", {})
py_added = py.get("added_us")
ts_added = ts.get("added_us")

w("## Per warm invocation: one metric, one annotation, the handler subsegment")
w("")
w(
    "Added time over the same bare handler (instrumented mean minus bare mean): the "
    "`invocation_overhead` criterion bench, its output to the cheapest places there are: EMF "
    "lines written to an opened `/dev/null` (a `write(2)` that copies nothing), subsegments "
    "sent to a UDP socket on loopback that nobody reads (no reader to wake: once its buffer "
    "is full, each datagram is dropped at the receiving socket), the floor's `write(2)` and `send(2)` of the same sizes measured in the same "
    "run. This is the strictest reading of the budget: the floor is as small as it gets, so "
    "lambda-perf's own work weighs most. The next section measures the same invocation with "
    "its output read, as on Lambda, and compares it with Powertools there."
)
w("")
w("| | added per invocation | vs the floor |")
w("|---|---|---|")
fs = us(floor_sampled)
fu = us(floor_unsampled)
fs_place = us(less_bare(in_place_write_send))
fu_place = us(less_bare(in_place_write))
in_place_sampled = "" if fs_place is None else f" ({ratio(us(added_sampled), fs_place)} in place)"
in_place_unsampled = "" if fu_place is None else f"; {ratio(us(added_unsampled), fu_place)} in place"
w(f"| lambda-perf, sampled | {fmt(us(added_sampled))} | {ratio(us(added_sampled), fs)}{in_place_sampled} |")
w(
    f"| lambda-perf, unsampled | {fmt(us(added_unsampled))} | {ratio(us(added_unsampled), fu)} (of a lone `write(2)`"
    f"{in_place_unsampled}) |"
)
w(f"| floor: `write(2)` + `send(2)` | {fmt(fs)} | 1.00x |")
w(f"| floor: a lone `write(2)` | {fmt(fu)} | |")
if fs_place is not None:
    w(
        f"| floor in place: `write(2)` + `send(2)` by the bare handler itself | {fmt(fs_place)} "
        f"| {ratio(fs_place, fs)} |"
    )
if fu_place is not None:
    w(
        f"| floor in place: a lone `write(2)` by the bare handler itself | {fmt(fu_place)} "
        f"| {ratio(fu_place, fu)} (of a lone `write(2)`) |"
    )
clocks = find("invocation_overhead", "warm/", "clock reads")
w(
    f"| reference: the 2 clock reads of an invocation | {fmt(us(clocks))} "
    f"| {ratio(us(clocks), fu)} (of a lone `write(2)`) |"
)
w("")


def budget(added, floor, limit):
    if added is None or floor is None or floor == 0:
        return "n/a"
    verdict = "met" if added / floor <= limit else "not met"
    return f"{added / floor:.2f}x against at most {limit}x: {verdict}"


w(
    "The budget (`ARCHITECTURE.md`): sampled, at most 1.5 times its floor; unsampled, at most 2 "
    f"times a lone `write(2)`. This run, with these sinks: sampled {budget(us(added_sampled), fs, 1.5)}; "
    f"unsampled {budget(us(added_unsampled), fu, 2)}."
)
w("")
if fs_place is not None and fu_place is not None and fs and fu:
    costlier = fu_place > fu and fs_place > fs
    cheaper = fu_place <= fu and fs_place <= fs
    w(
        "The floor is measured twice: its system calls alone, in a loop of their own (the "
        "floor rows above, which the budget's verdict uses), and the same system calls made "
        "inside an invocation's `block_on` by the bare handler itself before it answers (the "
        "in-place rows: that case less the bare handler). "
        + (
            f"In this run they cost more in place ({ratio(fu_place, fu)} and {ratio(fs_place, fs)} "
            "the loop's). Our reading, from a separate C loop rather than from this bench: after "
            "the kernel returns, the processor mispredicts the returns up a stack as deep as the "
            "runtime's (about 7 ns a frame, up to about 12 frames), and finds again the code and "
            "data the kernel displaced; a loop of its own pays both over a shallow stack and a "
            "tiny working set. "
            if costlier
            else "In this run they did not cost more in place than in the loop. "
            if cheaper
            else (
                "In this run a lone `write(2)` cost "
                + ("more in place" if fu_place > fu else "no more in place")
                + f" ({ratio(fu_place, fu)} the loop's), `write(2)` + `send(2)` "
                + ("did" if fs_place > fs else "did not")
                + f" ({ratio(fs_place, fs)}). "
            )
        )
        + f"The ratios against the in-place floor: sampled {ratio(us(added_sampled), fs_place)}, "
        f"unsampled {ratio(us(added_unsampled), fu_place)} (the budget is judged against the "
        "loop's floor)."
    )
    w("")
interleaved = load("invocation_overhead_summary.json") or {}
SUMMARY_KEYS = (
    "rounds", "iterations", "unsampled_added_ns", "sampled_added_ns", "write_ns",
    "write_send_ns", "write_in_place_ns", "write_send_in_place_ns",
)
if all(isinstance(interleaved.get(key), (int, float)) for key in SUMMARY_KEYS):
    i_fu = interleaved["write_ns"]
    i_fs = interleaved["write_send_ns"]
    i_un = interleaved["unsampled_added_ns"]
    i_sa = interleaved["sampled_added_ns"]
    w(
        "The bench's own summary measures every case again after criterion: "
        f"{interleaved['rounds']} rounds of {interleaved['iterations']:,} invocations, each case "
        "in turn, so that a change of the machine's load falls on every case alike (criterion's "
        "means above measure each case in a block of its own); each case's fastest round is "
        "kept, on its own, and an added time is the difference of two fastest rounds. "
        f"Unsampled: added {fmt(i_un, 'ns', 0)}, {ratio(i_un, i_fu)} a lone `write(2)` "
        f"({fmt(i_fu, 'ns', 0)}; {ratio(i_un, interleaved['write_in_place_ns'])} the write in "
        f"place, {fmt(interleaved['write_in_place_ns'], 'ns', 0)}). Sampled: added "
        f"{fmt(i_sa, 'ns', 0)}, {ratio(i_sa, i_fs)} its floor ({fmt(i_fs, 'ns', 0)}; "
        f"{ratio(i_sa, interleaved['write_send_in_place_ns'])} in place, "
        f"{fmt(interleaved['write_send_in_place_ns'], 'ns', 0)}). The budget by these figures: "
        f"sampled {budget(i_sa, i_fs, 1.5)}; unsampled {budget(i_un, i_fu, 2)}."
    )
    # Where the two verdicts part, what differs: the added time or the floor.
    # The cases both verdicts were reached for: without criterion's floor (or added time) its
    # verdict is n/a, and there is nothing to agree with.
    compared = []
    differing = []
    for case, added, floor, i_added, i_floor, limit in (
        ("sampled", added_sampled, floor_sampled, i_sa, i_fs, 1.5),
        ("unsampled", added_unsampled, floor_unsampled, i_un, i_fu, 2),
    ):
        if added is None or not floor or not i_floor:
            continue
        compared.append(case)
        if (added / floor <= limit) != (i_added / i_floor <= limit):
            differing.append(
                f"for {case} ({ratio(added, floor)} by criterion's means, "
                f"{ratio(i_added, i_floor)} by the summary: the added times "
                f"{fmt(added, 'ns', 0)} and {fmt(i_added, 'ns', 0)}, the floors "
                f"{fmt(floor, 'ns', 0)} (a mean) and {fmt(i_floor, 'ns', 0)} (a fastest round))"
            )
    if differing:
        w(
            "The verdict by criterion's means and this one differ "
            + "; and ".join(differing)
            + ": this run does not settle that budget."
        )
    elif len(compared) == 2:
        w("The verdict by criterion's means and this one agree.")
    elif compared:
        w(
            f"The verdict by criterion's means and this one agree for {compared[0]} "
            "(criterion's has none for the other)."
        )
    w("")
if clocks is not None and fu:
    left = fu - us(clocks)
    w(
        "For scale: the two clock reads every recorded invocation makes (its beginning and its "
        "end, by the monotonic clock) take "
        f"{fmt(clocks, 'ns', 0)}, {ratio(us(clocks), fu)} a lone `write(2)`. The unsampled "
        "budget is twice a `write(2)`; after the line's own `write(2)` it leaves one more, "
        f"{fmt(fu * 1000, 'ns', 0)}, for everything else an invocation does (classifying its "
        "start, its facts, the metric, formatting the line), and the clock reads take "
        + (
            f"{fmt(clocks, 'ns', 0)} of it, leaving {fmt(left * 1000, 'ns', 0)}."
            if left >= 0
            else "more than all of it."
        )
    )
    w("")
if floor_sampled is None:
    w(
        "_The `invocation_overhead` bench of this commit measures no floor case (a case named "
        "`floor: …`), so the ratios against the floor are n/a; they appear as soon as the "
        "bench measures it._"
    )
    w("")
# --- the output read -------------------------------------------------------------------------
read = load("lambda_sinks.json") or {}
READ_KEYS = (
    "rounds", "iterations", "pause_us", "unsampled_added_ns", "sampled_added_ns", "write_ns",
    "write_send_ns", "write_in_place_ns", "write_send_in_place_ns", "write_dev_null_ns",
    "datagrams_sent", "datagrams_received",
)
# Powertools' added time as a median of single invocations (the `lambda_sinks` figures are
# medians too).
py_median = py.get("added_median_us")
ts_median = ts.get("added_median_us")


def spread_of(values):
    """`median (lowest to highest)` of per-round figures in ns, shown in µs."""
    ordered = sorted(values)
    return (
        f"{fmt(us(ordered[len(ordered) // 2]))} ({fmt(us(ordered[0]))} to "
        f"{fmt(us(ordered[-1]))} over the rounds)"
    )


def wake_share(wakes, kinds, reader):
    """The lowest and highest share of invocations that woke `reader`, over `kinds`."""
    shares = [wakes[kind][reader] for kind in kinds if kind in wakes]
    if not shares:
        return None
    low, high = min(shares), max(shares)
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f} to {high:.2f}"


w("### The same invocation with its output read; against Powertools")
w("")
complete = all(isinstance(read.get(key), (int, float)) for key in READ_KEYS)


def read_us(key):
    """A figure of the `lambda_sinks` results in µs; None when the bench wrote none."""
    return us(read[key]) if complete else None


r_sa, r_un = read_us("sampled_added_ns"), read_us("unsampled_added_ns")
r_fs, r_fu = read_us("write_send_ns"), read_us("write_ns")
r_fs_place, r_fu_place = read_us("write_send_in_place_ns"), read_us("write_in_place_ns")
pause = f"{read['pause_us']:.0f} µs" if complete else "n/a"
rounds_text = (
    f"{read['rounds']} interleaved rounds of {read['iterations']:,} invocations per case"
    if complete
    else "interleaved rounds"
)
w(
    "On Lambda a function's stdout is a pipe that Lambda reads, and the X-Ray daemon "
    "receives every datagram: a `write(2)` or `send(2)` hands its bytes to a reader, and "
    "wakes it when it waits. The `lambda_sinks` bench measures the same invocation with its "
    "output read: EMF lines to a pipe that `cat` (a process of its own) drains, datagrams "
    "to a UDP socket a thread of the bench receives from; each invocation alone, after a "
    f"pause of {pause} (spent spinning) in which both readers can go back to waiting; each "
    "timed on its own, the floor's system calls to the same pipe and socket too (the "
    f"datagram first, as an invocation sends it); medians of {rounds_text}; the floor in a "
    "loop of its own less the two clock reads that time it. Where the scheduler runs the "
    "readers is left to it. Powertools: a fresh process per run, stdout to a pipe that `cat` "
    "drains (Python's flushed at every write, as Lambda's Python runtime flushes it), the "
    "X-Ray datagram to a UDP receiver, a new sampled trace id before each invocation, "
    f"{peers.get('invocations', 'n/a')} invocations after 500 warm-up ones, back to back "
    "(each takes long enough for the readers to wait again); its figure here is the median "
    "of single invocations less the bare handler's (the median over "
    f"{peers.get('runs', 'n/a')} runs; TypeScript: each invocation plus one event-loop turn, "
    "so that the UDP send happens)."
)
w("")
w("| | added per invocation (median) | vs the floor | vs the floor in place | Powertools Python / this | Powertools TypeScript / this |")
w("|---|---|---|---|---|---|")
w(
    f"| lambda-perf, sampled | {fmt(r_sa)} | {ratio(r_sa, r_fs)} | {ratio(r_sa, r_fs_place)} "
    f"| {ratio(py_median, r_sa)} | {ratio(ts_median, r_sa)} |"
)
w(
    f"| lambda-perf, unsampled | {fmt(r_un)} | {ratio(r_un, r_fu)} (of a lone `write(2)`) "
    f"| {ratio(r_un, r_fu_place)} | | |"
)
w(f"| floor: `send(2)` + `write(2)` | {fmt(r_fs)} | 1.00x | | | |")
w(f"| floor: a lone `write(2)` | {fmt(r_fu)} | | | | |")
w(f"| floor in place: `send(2)` + `write(2)` by the bare handler itself | {fmt(r_fs_place)} | {ratio(r_fs_place, r_fs)} | | | |")
w(f"| floor in place: a lone `write(2)` by the bare handler itself | {fmt(r_fu_place)} | {ratio(r_fu_place, r_fu)} (of a lone `write(2)`) | | | |")
w(f"| the same `write(2)` to `/dev/null`, in this run | {fmt(read_us('write_dev_null_ns'))} | | | | |")
w(f"| Powertools for Python {machine.get('python_powertools', '')} | {fmt(py_median)} | {ratio(py_median, r_fs)} | | | |")
w(f"| Powertools for TypeScript {machine.get('node_powertools', '')} | {fmt(ts_median)} | {ratio(ts_median, r_fs)} | | | |")
w("")
if complete:
    beyond = []
    for case, key, added, in_place, floor, limit in (
        ("sampled", "sampled_beyond_floor_ns_per_round", r_sa, r_fs_place, r_fs, 1.5),
        ("unsampled", "unsampled_beyond_floor_ns_per_round", r_un, r_fu_place, r_fu, 2),
    ):
        per_round = read.get(key)
        spread = spread_of(per_round) if per_round else fmt(added - in_place)
        beyond.append(
            f"{case} {spread}, where its ratio would allow {fmt(limit * floor - in_place)}"
        )
    w(
        "What lambda-perf does beyond the floor's system calls (a round's added time less its "
        "floor in place): " + "; ".join(beyond) + ". With the output read, a lone `write(2)` "
        f"costs {fmt(r_fu)}, against {fmt(read_us('write_dev_null_ns'))} to `/dev/null` in the "
        "same run: waking a reader costs more than everything else, so the ratios of this "
        "table near 1 whatever lambda-perf does, and they are given for information: the "
        "budget's verdict is the cheapest sinks' above, where lambda-perf's own work weighs "
        "most."
    )
    w("")
    peer_beyond = [
        f"Powertools for {name} {fmt(median - r_fs_place)}"
        for name, median in (("Python", py_median), ("TypeScript", ts_median))
        if median is not None
    ]
    if peer_beyond:
        w(
            "Powertools pays the same wake-ups inside its figure, so its ratio against "
            "lambda-perf here is that of everything each adds, system calls included. Less "
            f"the floor in place ({fmt(r_fs_place)}), what each does beyond them: "
            + ", ".join(peer_beyond)
            + f"; lambda-perf, sampled, {fmt(r_sa - r_fs_place)} by the medians above (its "
            "spread over the rounds is given above; with the cheapest sinks, where the floor "
            "moves less, "
            + (
                f"{fmt(us(added_sampled) - fs_place)}"
                if added_sampled is not None and fs_place is not None
                else "n/a"
            )
            + ")."
        )
        w("")
    wakes = read.get("wake_ups_per_invocation") or {}
    writers = ("PerfLayer, unsampled", "PerfLayer, sampled", "floor: write(2)",
               "floor: send(2) + write(2)", "floor in place: write(2)",
               "floor in place: send(2) + write(2)")
    senders = ("PerfLayer, sampled", "floor: send(2) + write(2)",
               "floor in place: send(2) + write(2)")
    pipe_share = wake_share(wakes, writers, "pipe_reader")
    daemon_share = wake_share(wakes, senders, "daemon")
    if pipe_share and daemon_share:
        low = min(
            [wakes[kind]["pipe_reader"] for kind in writers if kind in wakes]
            + [wakes[kind]["daemon"] for kind in senders if kind in wakes]
        )
        w(
            "Counted, not assumed (the readers' voluntary context switches, one per wake-up): "
            f"the pipe's reader was woken by {pipe_share} of the invocations that write, the "
            f"daemon's thread by {daemon_share} of those that send"
            + (
                "."
                if low >= 0.95
                else ": below 0.95, so some found their reader still awake, and cost less "
                "than a wake-up; this run's figures with the output read mix both."
            )
            + f" X-Ray datagrams received: {read['datagrams_received']:,} of "
            f"{read['datagrams_sent']:,} sent."
        )
        w("")
else:
    w("_The `lambda_sinks` bench wrote no results in this run: see the notes._")
    w("")
for name, peer in (("Python", py), ("TypeScript", ts)):
    if "skipped" in peer:
        w(f"_Powertools for {name}: skipped — {peer['skipped']}._")
        w("")
    elif peer:
        w(
            f"Powertools for {name} ({peer.get('interpreter', '')}): bare {fmt(peer['bare']['mean_us'])}, "
            f"instrumented {fmt(peer['instrumented']['mean_us'])} (medians of single invocations: "
            f"{fmt(peer['bare']['median_us'])} and {fmt(peer['instrumented']['median_us'])}; added "
            f"{fmt(peer.get('added_median_us'))}); X-Ray datagrams received "
            f"{peer.get('x_ray_datagrams')} of {peer.get('datagrams_expected')} invocations."
        )
        w("")

# The rows of `companion-function`'s runtime-loop subjects (latency and cache lines) that take
# the unsampled companion apart, each against the bare handler with a second thread that only
# waits, and the parts they are taken apart into, in order: the runtime layer alone, both
# layers around a handler that records nothing, and the unsampled companion itself.
DECOMPOSITION_ROWS = (
    ("runtime_layer_threaded", "`PerfRuntimeLayer` alone (nothing recorded), with a second thread that only waits"),
    ("companion_no_calls", "`PerfLayer` + `PerfRuntimeLayer`, unsampled, the handler recording nothing"),
)
DECOMPOSED = ("runtime_layer_threaded", "companion_no_calls", "companion_unsampled")

# The floor after the POST (latency only): the companion's telemetry written by hand, without
# lambda-perf, by a bare process with a second thread once it posted its response; and the
# companion's rows measured against it.
FLOOR_ROWS = (
    ("floor_after_post", "floor after the POST: the same EMF line and datagram written by hand, no lambda-perf"),
    ("floor_after_post_unsampled", "floor after the POST, unsampled: the same EMF line alone"),
)
FLOORED = (
    ("companion", "sampled", "the line and the datagram"),
    ("companion_unsampled", "unsampled", "the line alone"),
)

# The modes of the warm_invocations example, as the instruction and memory tables name them,
# each with the bare handler it is measured against.
WARM_MODES = (
    ("bare", "bare handler", None),
    ("unsampled", "lambda-perf, unsampled", "bare"),
    ("sampled", "lambda-perf, sampled", "bare"),
)
# The same handlers answering an object, which a sampled invocation captures (instructions only).
WARM_OBJECT_MODES = (
    ("bare_object", "bare handler, answering an object", None),
    ("sampled_object", "lambda-perf, sampled, the object captured as metadata", "bare_object"),
)

# The same invocations under init()'s `tracing` subscriber (instructions only).
WARM_LOGGED_MODES = (
    ("bare_logged", "bare handler, under `init()`'s subscriber", None),
    ("unsampled_logged", "lambda-perf, unsampled, under `init()`'s subscriber", "bare_logged"),
    ("sampled_logged", "lambda-perf, sampled, under `init()`'s subscriber", "bare_logged"),
)

# --- instructions -----------------------------------------------------------------------
def lengths(counts):
    """The two numbers of invocations a count file was counted at."""
    return int(counts.get("fewer", "0") or 0), int(counts.get("more", "0") or 0)


def per_counted_invocation(counts, key):
    """Instructions of one invocation: the growth of `key`'s count from the fewer invocations
    to the more, over the invocations between; None where a count is missing."""
    fewer, more = lengths(counts)
    totals = counts.get(key, "").split(",")
    if len(totals) != 2 or not all(totals) or more <= fewer:
        return None
    return (int(totals[1]) - int(totals[0])) / (more - fewer)


if instructions:
    fewer, more = lengths(instructions)

    def per_invocation(mode):
        return per_counted_invocation(instructions, mode)

    w("### The same invocation in instructions")
    w("")
    w(
        "Instructions executed in user space per warm invocation, counted by valgrind's "
        "callgrind (`lambda-perf-core/examples/warm_invocations.rs`, the scenario above: EMF to "
        f"`/dev/null`, datagrams to loopback): the count of {more:,} invocations less the count "
        f"of {fewer:,}, over the {more - fewer:,} between, so that the process's start and "
        "first invocations are left out; the bare handler's count subtracted. Built with one "
        "codegen unit (`CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1`): with the default 16, where the "
        "compiler splits the crate moves the count by about 300 instructions from one build of "
        "the same code to another. Unlike time, the count does not move with the machine's "
        "load; it leaves out what the kernel does for the `write(2)` and `send(2)`. The fourth "
        "and fifth rows are the same handlers answering an object (five fields, a list among "
        "them), which a sampled invocation captures as trace metadata, against the bare handler "
        "answering it; the last three, the first three under the `tracing` subscriber of "
        "`lambda_perf_core::init()` (log lines and X-Ray spans, as most functions run; the "
        "handler writes no line, and lambda-perf enters a span of the invocation's own around "
        "each poll of the handler, which that subscriber's layers are told of)."
    )
    w("")
    w("| | instructions per invocation | added over the bare handler |")
    w("|---|---|---|")
    for mode, label, baseline in WARM_MODES + WARM_OBJECT_MODES + WARM_LOGGED_MODES:
        per = per_invocation(mode)
        if per is None:
            w(f"| {label} | n/a | n/a |")
            continue
        base = per_invocation(baseline) if baseline else None
        added = f"{per - base:,.0f}" if base is not None else ""
        w(f"| {label} | {per:,.0f} | {added} |")
    w("")
    w(f"Counted with {instructions.get('valgrind', 'valgrind')}.")
    w("")

# --- instructions under the runtime loop ------------------------------------------------
if runtime_instructions:
    fewer, more = lengths(runtime_instructions)

    def per_runtime_invocation(key):
        return per_counted_invocation(runtime_instructions, key)

    bare = per_runtime_invocation("bare")
    w("### Before and after the response, under the runtime loop")
    w("")
    w(
        "The same count for `tests/src/bin/companion-function.rs` under the real `lambda_runtime` "
        "loop, run by `lambda-perf run` against the local Runtime API (one metric, one annotation, "
        "sampled; EMF to the harness's stdout pipe, datagrams to its X-Ray collector; one codegen "
        f"unit): {more:,} invocations less {fewer:,}, over the {more - fewer:,} between. The runtime "
        "loop itself (the HTTP client, the event's and the response's JSON) is the bare row. With "
        "`PerfRuntimeLayer`, what runs inside its window's close (the invocation's writes, and the "
        "window's own lock and `sched_yield`) comes after the response's POST; the rest of what "
        "lambda-perf adds is what the client waits for. These counts leave out the kernel's work and the cache misses of code run after a "
        "pause, which the client's latency (below) includes. The bare loop's own count moves by "
        "some tens of instructions from one run to the next. The totals include the allocator's "
        "work for the whole loop (the HTTP client's allocations), which moves with the heap's "
        "layout: a change that leaves lambda-perf's own count almost as it was can move glibc's "
        "`malloc` and `free` by thousands of instructions per invocation (seen: 3,500 less in the "
        "`PerfLayer` row from a watchdog change worth 129 in the warm count above). The counts "
        "of lambda-perf's own code are the warm counts above and the part after the POST."
    )
    w("")
    w("| | instructions per invocation | added over the bare loop | before the response | after it |")
    w("|---|---|---|---|---|")
    for mode, label in (
        ("bare", "bare handler (no lambda-perf)"),
        ("bare_threaded", "bare handler, with a second thread that only waits"),
        ("layer", "`PerfLayer`"),
        ("companion", "`PerfLayer` + `PerfRuntimeLayer`"),
    ):
        per = per_runtime_invocation(mode)
        if per is None:
            w(f"| {label} | n/a | n/a | n/a | n/a |")
            continue
        if mode == "bare":
            w(f"| {label} | {per:,.0f} | | | |")
            continue
        if bare is None:
            w(f"| {label} | {per:,.0f} | n/a | n/a | n/a |")
            continue
        if mode == "bare_threaded":
            w(f"| {label} | {per:,.0f} | {per - bare:,.0f} | | |")
            continue
        if bare is None:
            w(f"| {label} | {per:,.0f} | n/a | n/a | n/a |")
            continue
        added = per - bare
        if mode == "layer":
            w(f"| {label} | {per:,.0f} | {added:,.0f} | {added:,.0f} | 0 |")
            continue
        after = per_runtime_invocation("companion_after_post")
        if after is None:
            w(f"| {label} | {per:,.0f} | {added:,.0f} | n/a | n/a |")
        else:
            w(f"| {label} | {per:,.0f} | {added:,.0f} | {added - after:,.0f} | {after:,.0f} |")
    w("")
    threaded = per_runtime_invocation("bare_threaded")
    companion = per_runtime_invocation("companion")
    after = per_runtime_invocation("companion_after_post")
    if None not in (bare, threaded, companion, after):
        w(
            "lambda-perf's watchdog is a second thread, and a process's first extra thread moves "
            "glibc's `malloc`, `free` and cancellable system calls onto their multi-thread paths "
            "for good. The second row is that share alone: "
            f"{threaded - bare:,.0f} instructions per invocation, which a function on the default "
            "multi-thread `#[tokio::main]` runtime pays anyway (the bare rows here run a "
            "`current_thread` runtime). Against that row, the companion adds "
            f"{companion - threaded:,.0f}, of which {companion - threaded - after:,.0f} come "
            "before the response."
        )
        w("")

# --- cache lines under the runtime loop ------------------------------------------------
def cache_lines_per_invocation(label):
    """(code lines, data lines, code lines after the POST, data lines after it) one warm
    invocation of `label` fetched in the cache simulation; None where a count is missing."""
    fewer, more = lengths(runtime_cache_lines)
    runs = runtime_cache_lines.get(label, "").split(",")
    if len(runs) != 2 or not all(runs) or more <= fewer:
        return None
    first, last = ([int(n) for n in run.split(":")] for run in runs)
    return tuple((b - a) / (more - fewer) for a, b in zip(first, last))


def cache_lines_decomposition():
    """The code lines the unsampled companion adds before the response, taken apart against
    the bare handler with a second thread; None without those counts."""
    def before_response(label):
        per = cache_lines_per_invocation(label)
        return None if per is None else per[0] - per[2]

    threaded = before_response("bare_threaded")
    parts = [before_response(label) for label in DECOMPOSED]
    if threaded is None or None in parts:
        return None
    window, no_calls, unsampled = (part - threaded for part in parts)
    return (
        "Where the unsampled companion's code lines before the response come from, against the "
        "bare handler with a second thread that only waits: `PerfRuntimeLayer` alone, "
        f"{window:,.0f}; both layers around a handler that records nothing (an invocation's "
        f"beginning and end), {no_calls:,.0f}; the same with the handler's metric and "
        f"annotation, {unsampled:,.0f} (so {unsampled - no_calls:,.0f} for the two calls)."
    )


if runtime_cache_lines:
    fewer, more = lengths(runtime_cache_lines)
    w("### Cache lines fetched, under the runtime loop")
    w("")
    w(
        "The same function under the same loop, with every cache emptied after each invocation "
        "(`EVICT_CACHES=1`: the function writes over 8 MiB once its invocation is done), as after "
        "a pause in which other processes ran, or a thaw; counted by callgrind's cache "
        "simulation (32 KiB of instructions, 32 KiB of data, a last level of 512 KiB, this "
        "machine's L2 per core): the lines of code and of data one warm invocation fetches from "
        f"beyond the last level, {more:,} invocations less {fewer:,}, over the "
        f"{more - fewer:,} between (the eviction's own taken out). Each such fetch waits for a "
        "farther cache or for memory: the client's latency (below) includes them, the "
        "instruction counts above do not. What `Window::close` fetches comes after the POST."
    )
    w("")
    w(
        "| | code lines | data lines | added before the response: code | data "
        "| after the response: code | data |"
    )
    w("|---|---|---|---|---|---|---|")
    bare_lines = cache_lines_per_invocation("bare")
    for label, name in (
        ("bare", "bare handler (no lambda-perf)"),
        ("bare_threaded", "bare handler, with a second thread that only waits"),
        ("companion", "`PerfLayer` + `PerfRuntimeLayer`, sampled"),
        ("companion_unsampled", "`PerfLayer` + `PerfRuntimeLayer`, unsampled"),
        *DECOMPOSITION_ROWS,
    ):
        per = cache_lines_per_invocation(label)
        if per is None:
            w(f"| {name} | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        code, data, code_after, data_after = per
        if label == "bare":
            w(f"| {name} | {code:,.0f} | {data:,.0f} | | | | |")
            continue
        # Without the bare handler's count, what is added is unknown (n/a), not nothing.
        if bare_lines is None:
            added = "n/a | n/a"
        else:
            added_code = code - code_after - bare_lines[0]
            added_data = data - data_after - bare_lines[1]
            added = f"{added_code:,.0f} | {added_data:,.0f}"
        if label == "bare_threaded":
            w(f"| {name} | {code:,.0f} | {data:,.0f} | {added} | | |")
            continue
        w(f"| {name} | {code:,.0f} | {data:,.0f} | {added} | {code_after:,.0f} | {data_after:,.0f} |")
    w("")
    decomposed = cache_lines_decomposition()
    if decomposed:
        w(decomposed)
        w("")


# --- resident memory --------------------------------------------------------------------
if rss:
    count = int(rss.get("invocations", "0") or 0)
    w(f"### Memory over {count:,} invocations")
    w("")
    w(
        "The resident memory (`VmRSS`) of `lambda-perf-core/examples/warm_invocations.rs` after "
        f"1%, 10% and all of {count:,} warm invocations of the scenario above, one process per "
        "mode. Pools and buffers reach their size in the first invocations; the figures show "
        "whether anything grows after that."
    )
    w("")
    checkpoints = [count // 100, count // 10, count]
    w("| | " + " | ".join(f"after {n:,}" for n in checkpoints) + " | growth from the first to the last |")
    w("|---|" + "---|" * (len(checkpoints) + 1))
    for mode, label, _ in WARM_MODES:
        values = rss.get(mode, {}) if isinstance(rss.get(mode), dict) else {}
        cells = [f"{int(values[n]):,} kB" if values.get(n, "").isdigit() else "n/a" for n in checkpoints]
        first, last = values.get(checkpoints[0], ""), values.get(checkpoints[-1], "")
        growth = f"{int(last) - int(first):+,} kB" if first.isdigit() and last.isdigit() else "n/a"
        w(f"| {label} | " + " | ".join(cells) + f" | {growth} |")
    w("")

# --- invocations at once ---------------------------------------------------------------
w("## Invocations at once in one process (Lambda Managed Instances)")
w("")
settings = concurrency.get("settings", [])
if settings:
    w(
        "The `concurrency` bench: the sampled invocation above (one metric, one annotation; EMF "
        "to `/dev/null`, datagrams to loopback, one writer and one socket for all), with the "
        "layer set up as on Managed Instances, the only environment that runs invocations at "
        "once in one process (`InitializationType::ManagedInstances`: no timeout watchdog, "
        "since they do not stop an invocation at its deadline), in N slots, as "
        "`run_concurrent` runs N: N long-lived tasks, each with its own clone of the service, "
        "each handler waiting once (a yield to the runtime, where a real one would wait on a "
        "downstream call), so that the N invocations are in progress together. On a runtime with "
        "2 worker threads, and for 1 and 64 at once also on a single thread, where nothing is "
        "used by two threads at the same time; and, pinned, on two threads each driving a "
        "current-thread runtime of its own with half the slots, so that an invocation stays on "
        "the thread it began on (the multi-thread runtime's work stealing moves a waiting task "
        "to the other thread when that one is idle). Beside it, run the same way: the bare handler, and the "
        "floor (the bare handler, then one `write(2)` and one `send(2)` of the same sizes on one "
        f"shared file and socket). {concurrency.get('rounds')} rounds of "
        f"{concurrency.get('invocations_per_round', 0):,} invocations per handler, each handler "
        "first, second and last in turn. Per invocation, the process's CPU time (every thread, "
        "user and system; with 2 threads the wall time is shared between them and includes "
        "their waits); \"added\" is the median over the rounds of a handler minus the bare "
        "handler of the same round, with the quartiles of those differences. A change from one "
        "setting to another is also taken round by round (every round runs each setting once, "
        "one after the other, each setting first in turn from one round to the next, so each "
        "setting's round r is measured within seconds of the others' round r, and a drift of "
        "the machine within a round falls on each setting alike over the rounds): the median of "
        "those differences, with a confidence interval from their order statistics, which "
        "assumes nothing of how they are spread."
    )
    w("")
    w("| at once | worker threads | bare: CPU | `PerfLayer`: added CPU (quartiles) | floor: added CPU (quartiles) | `PerfLayer` / floor |")
    w("|---|---|---|---|---|---|")

    def quartiles(setting, key):
        low, high = setting[key]
        return f"{us(low):.2f} to {us(high):.2f} µs"

    def threads(setting):
        if setting.get("pinned"):
            return f"{setting['threads']}, pinned"
        return f"{setting['threads']}"

    for setting in settings:
        w(
            f"| {setting['at_once']} | {threads(setting)} | {fmt(us(setting['bare_cpu_ns']))} "
            f"| {fmt(us(setting['added_cpu_ns']))} ({quartiles(setting, 'added_cpu_quartiles_ns')}) "
            f"| {fmt(us(setting['floor_cpu_ns']))} ({quartiles(setting, 'floor_cpu_quartiles_ns')}) "
            f"| {ratio(setting['added_cpu_ns'], setting['floor_cpu_ns'])} |"
        )
    w("")

    def signed(ns):
        return "n/a" if ns is None else f"{'+' if ns >= 0 else '−'}{abs(ns) / 1000:,.2f} µs"

    def paired(before, after):
        """What `PerfLayer` adds in `after` less what it adds in `before`, round by round (a
        round runs every setting once, one after the other): the median of those differences,
        with a distribution-free confidence interval for it (order statistics of the
        differences; at least 95% from 6 rounds on, the extremes below that), as a clause."""
        a = before.get("added_cpu_rounds_ns")
        b = after.get("added_cpu_rounds_ns")
        if not a or not b or len(a) != len(b):
            return ""
        n = len(a)
        middle, low, high, coverage = median_interval([y - x for x, y in zip(a, b)])
        if coverage < 95:
            verdict = "too few rounds for a 95% interval, no verdict"
        elif low > 0:
            verdict = "what `PerfLayer` adds rises"
        elif high < 0:
            verdict = "what `PerfLayer` adds falls"
        else:
            verdict = "a change of what `PerfLayer` adds this run cannot tell from none"
        return (
            f"; round by round, a median of {signed(middle)} (a {coverage:.0f}% confidence "
            f"interval: {signed(low)} to {signed(high)}, over {n} rounds): {verdict}"
        )

    def cpu_change(before, after, ratios=False):
        """From setting `before` to `after`: how the CPU time `PerfLayer` adds per invocation
        changes, and the floor's own system calls; their ratios to the floor when asked; and
        the change round by round (`paired`)."""
        text = (
            "the CPU time `PerfLayer` adds per invocation changes by "
            f"{signed(after['added_cpu_ns'] - before['added_cpu_ns'])} "
            f"({fmt(us(before['added_cpu_ns']))} to {fmt(us(after['added_cpu_ns']))}), the "
            f"floor's own system calls by {signed(after['floor_cpu_ns'] - before['floor_cpu_ns'])}"
        )
        if ratios:
            text += (
                f"; as a ratio of the floor, {ratio(before['added_cpu_ns'], before['floor_cpu_ns'])} "
                f"to {ratio(after['added_cpu_ns'], after['floor_cpu_ns'])}"
            )
        return text + paired(before, after)

    by_key = {(s["at_once"], s["threads"]): s for s in settings if not s.get("pinned")}
    pinned = {s["at_once"]: s for s in settings if s.get("pinned") and s["threads"] == 2}
    one, alone = by_key.get((1, 2)), by_key.get((64, 1))
    single = by_key.get((1, 1))
    # The baseline is one invocation at a time on one thread: one at a time on the 2-thread
    # runtime makes every handler's work after its wait dearer, the floor's too.
    if single and alone:
        w(
            "Concurrency alone, from 1 to 64 at once on one thread (nothing used by two threads "
            f"at the same time, no task moving): {cpu_change(single, alone, ratios=True)}."
        )
    if single:
        for at_once in (8, 64):
            many = by_key.get((at_once, 2))
            if not many:
                continue
            w(
                f"From 1 at once on one thread to {at_once} at once on the multi-thread runtime's "
                "2 threads (concurrency, two cores sharing the writer, socket and counters, and "
                "tasks moving between them, together; taken apart below): "
                f"{cpu_change(single, many, ratios=True)}."
            )
    if one and single:
        floor_there = one["floor_cpu_ns"] - single["floor_cpu_ns"]
        changes = (
            f"the floor's own system calls change by {signed(floor_there)} against one thread, "
            f"what `PerfLayer` adds by {signed(one['added_cpu_ns'] - single['added_cpu_ns'])}"
        )
        if floor_there > 0.25 * single["floor_cpu_ns"]:
            w(
                "1 at once on the multi-thread runtime's 2 threads is no baseline for the "
                f"others: there {changes}: the setting itself (one task on a runtime of two "
                "workers) makes the work after the handler's wait dearer, whoever does it, and "
                "comparisons from it would credit `PerfLayer` with a fall that is the setting's."
            )
        else:
            w(f"1 at once on the multi-thread runtime's 2 threads against 1 on one thread: {changes}.")
    few, pinned_many = pinned.get(2), pinned.get(8)
    if single and few:
        w(
            "Sharing alone, 1 at once on one thread against 2 at once pinned on 2 threads (the "
            "same invocation on each thread, at the same time, on the one writer, socket and "
            f"start counters, none moving): {cpu_change(single, few)}."
        )
    if few and pinned_many:
        w(
            "Pinned, each invocation staying on the thread it began on, from 2 to 8 at once on 2 "
            f"threads, {cpu_change(few, pinned_many)}."
        )
    moving = by_key.get((8, 2))
    if moving and pinned_many:
        w(
            "8 at once on 2 threads, the tasks moved between the threads by the multi-thread "
            "runtime (as `run_concurrent`'s is) against each staying on its own: what `PerfLayer` "
            f"adds per invocation changes by {signed(moving['added_cpu_ns'] - pinned_many['added_cpu_ns'])} "
            "(an invocation's memory, written on one core, read on the other after its task "
            "moved), what the floor's system calls add by "
            f"{signed(moving['floor_cpu_ns'] - pinned_many['floor_cpu_ns'])}"
            f"{paired(pinned_many, moving)}."
        )
    many = by_key.get((64, 2))
    if many and alone:
        w(
            "64 at once on the multi-thread runtime's 2 threads against 64 on one thread, the "
            "sharing and the moves together: what `PerfLayer` adds per invocation changes by "
            f"{signed(many['added_cpu_ns'] - alone['added_cpu_ns'])} (its writer's lock, the "
            "socket, the pools and counters, the kernel's file and socket structures, and the "
            "memory of invocations whose task moved, each going from one core to the other), "
            "what the floor's system calls add by "
            f"{signed(many['floor_cpu_ns'] - alone['floor_cpu_ns'])}{paired(alone, many)}."
        )
    w("")
else:
    w("The `concurrency` bench did not run (see the notes).")
    w("")

# --- client latency ---------------------------------------------------------------------
latency = e2e.get("client_latency", {})
w("## What the client waits for: the runtime-level companion")
w("")
w(
    "From the local Runtime API handing out a warm invocation (`/next`) to the response "
    "reaching it, under the real `lambda_runtime` loop (`tests/src/bin/companion-function.rs`: "
    "one metric, one annotation; sampled, and for the companion also unsampled, as most "
    "invocations are under X-Ray's default rule of one request a second and 5% of the rest; "
    "where the telemetry goes, in two settings below; the last two rows, unsampled, record "
    "nothing and take the companion's cost apart). "
    "`PerfRuntimeLayer` moves the invocation's writes after the response's "
    "POST, before the next `/next`. The figures include the loopback HTTP round trips of the "
    "runtime and the emulator, the same for all."
)
w("")
w(
    "The processes run side by side and are invoked in turns (eleven invocations of each "
    "per round, the first not counted, in an order where each comes after each other equally "
    "often), so that the machine's other work and what one process leaves behind "
    "fall on all alike. Each row is several processes of the same build (replicas), each "
    "block of rounds going to the next of them for every row alike, so that what separates one "
    "process from another (where its memory and code land) averages over them instead of "
    "weighing on the whole row; the table gives each one's median. A pause of a millisecond comes before every invocation, so that each is "
    "handed out alike, to a process waiting in `/next` (back to back, the companion's `/next` "
    "came after its writes from a process still running, which then took its event faster than "
    "an idle one: it measured below the bare handler); "
    "\"added\" is measured two ways. Per process: each replica's median less the bare "
    "handler's replica that took the same rounds, one difference per replica, and their mean "
    "with a 95% confidence interval by Student's t over the replicas; the replicas are the "
    "independent units (every sample of one process shares where its code and memory landed), "
    "so the verdicts below use this interval whenever a run has it (two processes or more per "
    "row). Per invocation: the median of the "
    "differences from the bare handler's invocation at the same place of the same round, with "
    "a 95% confidence interval that takes every invocation as independent, and so is too narrow. "
    "A second bare row is "
    "the control: what it \"adds\" is what separates identical processes (where each one's "
    "memory and code land, which core it runs on), averaged over the replicas as every row's "
    "is, the smallest difference this method can tell apart."
)
w("")
placement = e2e.get("placement")
if isinstance(placement, dict):
    w(
        f"The harness (the Runtime API, its runtime's threads and the telemetry's readers) runs on "
        f"CPU {placement['harness_cpu']} and every function process on CPU {placement['function_cpu']}, "
        "so that each invocation crosses the same two CPUs whichever process it goes to (left to "
        "the scheduler, in the run of 2105ce8, the processes' medians fell into two groups 30 µs "
        "apart)."
    )
elif placement is not None:
    w("Fewer than two CPUs were available: the processes ran where the scheduler put them.")
if placement is not None:
    w("")
def companion_verdict(which, added):
    """Whether the interval of `added` (the companion's added latency) includes zero."""
    if added["low_us"] <= 0 <= added["high_us"]:
        half_width = (added["high_us"] - added["low_us"]) / 2
        return (
            f"{which}, the client's latency shows no measurable difference from the bare "
            f"handler's: the interval of the added latency, {fmt(added['low_us'])} to "
            f"{fmt(added['high_us'])}, includes zero (so this run cannot tell a difference of "
            f"less than about {fmt(half_width)} either way from none)."
        )
    return (
        f"{which}, the client's latency differs measurably from the bare handler's: the "
        f"interval of the added latency, {fmt(added['low_us'])} to {fmt(added['high_us'])}, "
        "excludes zero."
    )


def interval_cell(added, centre):
    if not added:
        return ""
    return f"{fmt(added[centre])} ({fmt(added['low_us'])} to {fmt(added['high_us'])})"


def latency_table(latency):
    w(
        "| | median | p90 | p99 | mean | added vs bare, per process (mean, 95% CI over the "
        "processes) | added vs bare, per invocation (median, 95% CI) | each process's median |"
    )
    w("|---|---|---|---|---|---|---|---|")
    for mode, label in (
        ("bare", "bare handler (no lambda-perf)"),
        ("bare_again", "a second bare handler (the control)"),
        ("bare_threaded", "the bare handler, with a second thread that only waits"),
        ("layer", "`PerfLayer`"),
        ("companion", "`PerfLayer` + `PerfRuntimeLayer`"),
        ("companion_unsampled", "`PerfLayer` + `PerfRuntimeLayer`, unsampled"),
        *DECOMPOSITION_ROWS,
        *FLOOR_ROWS,
    ):
        figures = latency.get(mode)
        if not figures:
            w(f"| {label} | n/a | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        per_process = interval_cell(figures.get("added_vs_bare_over_replicas"), "mean_us")
        per_invocation = interval_cell(figures.get("added_vs_bare"), "median_us")
        replicas_cell = ", ".join(fmt(m) for m in figures.get("replica_medians_us", []))
        w(
            f"| {label} | {fmt(figures['median_us'])} | {fmt(figures['p90_us'])} | {fmt(figures['p99_us'])} "
            f"| {fmt(figures['mean_us'])} | {per_process} | {per_invocation} | {replicas_cell} |"
        )
    if not latency:
        return
    replicas = latency.get("replicas", 1)
    w("")
    w(
        f"{latency.get('bare', {}).get('samples', 'n/a')} warm invocations per row, over "
        f"{replicas} process{'' if replicas == 1 else 'es'} (each after a cold invocation and 50 warm-up "
        "ones), in turns of 10, each turn after one more not counted, each invocation after a "
        "pause of a millisecond."
    )
    # The verdicts use the interval over the processes when the run has one (two replicas or
    # more), else the per-invocation one, and say which.
    key = (
        "added_vs_bare_over_replicas"
        if "added_vs_bare_over_replicas" in latency.get("companion", {})
        else "added_vs_bare"
    )
    centre = "mean_us" if key == "added_vs_bare_over_replicas" else "median_us"

    def added_of(mode):
        return latency.get(mode, {}).get(key)

    companion, control = added_of("companion"), added_of("bare_again")
    if companion:
        if key == "added_vs_bare_over_replicas":
            verdict = "By the interval over the processes: "
        elif latency.get("replicas", 1) < 2:
            verdict = "By the per-invocation interval (one process per row): "
        else:
            verdict = "By the per-invocation interval (this run's results have none over the processes): "
        verdict += companion_verdict("with the companion, sampled", companion)
        unsampled = added_of("companion_unsampled")
        if unsampled:
            verdict += " " + companion_verdict("Unsampled", unsampled)
        if control:
            verdict += (
                " Two identical bare rows differ by "
                f"{fmt(control[centre])} ({fmt(control['low_us'])} to {fmt(control['high_us'])}): "
                "differences of that size come from the processes, not from what runs in them."
            )
        threaded = added_of("bare_threaded")
        if threaded:
            verdict += (
                " The bare handler in a process with a second thread that only waits (as "
                "lambda-perf's watchdog does) differs by "
                f"{fmt(threaded[centre])} ({fmt(threaded['low_us'])} to {fmt(threaded['high_us'])}): "
                "the share of that thread alone, which a function on the default multi-thread "
                "runtime has anyway."
            )
        w(verdict)
    decomposition = latency_decomposition(latency)
    if decomposition:
        w("")
        w(decomposition)
    floors = floor_comparison(latency)
    if floors:
        w("")
        w(floors)


def floor_comparison(latency):
    """The companion's rows against the floor after the POST (the same telemetry written by
    hand once the response is posted, without lambda-perf); None without those figures."""
    parts = []
    for mode, which, what in FLOORED:
        figures = latency.get(mode, {})
        per_invocation = figures.get("added_vs_floor")
        if not per_invocation:
            continue
        per_process = figures.get("added_vs_floor_over_replicas")
        judged = per_process or per_invocation
        includes_zero = judged["low_us"] <= 0 <= judged["high_us"]
        text = (
            f"{which} (against {what}): per process {interval_cell(per_process, 'mean_us')}, "
            if per_process
            else f"{which} (against {what}): "
        )
        text += f"per invocation {interval_cell(per_invocation, 'median_us')}"
        text += (
            ": no measurable difference" if includes_zero else ": a measurable difference"
        )
        parts.append(text)
    if not parts:
        return None
    return (
        "Against the floor after the POST (the same EMF line and, sampled, the same datagram, "
        "of the same shape and size, written by hand by a bare process with a second thread "
        "once it posted its response: what the telemetry costs the client by being written "
        "and read at all, whoever writes it), what the companion adds to the client's latency: "
        + "; ".join(parts)
        + " (the verdict by the interval over the processes when the run has one)."
    )


def latency_decomposition(latency):
    """The unsampled companion's added latency taken apart, each part against the bare handler
    with a second thread (the watchdog thread's share set aside); None without those figures."""
    def against_threaded(mode):
        return latency.get(mode, {}).get("added_vs_bare_threaded_over_replicas")

    window, no_calls, unsampled = (against_threaded(mode) for mode in DECOMPOSED)
    if not (window and no_calls and unsampled):
        return None

    def cell(added):
        return interval_cell(added, "mean_us")

    return (
        "Where the unsampled companion's added latency comes from, each against the bare handler "
        "with a second thread that only waits (so that what a second thread costs by being there, "
        "glibc's multi-thread paths, is set aside; that thread never wakes, where the watchdog "
        "wakes at least every 250 ms; per process, mean and 95% CI over the processes): "
        "`PerfRuntimeLayer` alone, its window "
        f"opened and closed around the bare handler with nothing recorded, {cell(window)}; both "
        "layers around a handler that records nothing (an invocation's beginning and end: its "
        f"start classified, its end kept for after the POST), {cell(no_calls)}; the same with the "
        f"handler's metric and annotation (the unsampled row above), {cell(unsampled)}."
    )


w("**Telemetry read by the harness** (EMF lines parsed from the stdout pipe, datagrams parsed by "
  "the X-Ray collector, on the same two cores):")
w("")
latency_table(latency)
w("")
quiet = e2e.get("client_latency_quiet_sinks", {})
w("**Quiet sinks** (EMF lines to `/dev/null`, datagrams to a UDP socket nobody reads): what the "
  "function itself spends, without a reader's work.")
w("")
latency_table(quiet)
w("")

# --- init -------------------------------------------------------------------------------
init = e2e.get("init", {})
w("## Init: process start to first response")
w("")
w(
    "A fresh process in a fresh environment, from spawn to its first response reaching the "
    "local Runtime API (median of many starts), for the minimal function "
    "(`bench/minimal-function`) without lambda-perf, behind `PerfLayer`, and with the "
    "`opentelemetry` feature (traces to X-Ray, the default)."
)
w("")
def init_rounds(after, before):
    """`after`'s starts less `before`'s, round by round (a round starts each build once, one
    after the other): (median, low, high, coverage, rounds) in µs, or None when the run kept
    no rounds."""
    a = init.get(before, {}).get("rounds_us")
    b = init.get(after, {}).get("rounds_us")
    if not a or not b or len(a) != len(b):
        return None
    return (*median_interval([y - x for x, y in zip(a, b)]), len(a))


def ms_signed(us_value):
    return f"{'+' if us_value >= 0 else '−'}{abs(us_value) / 1000:,.3f} ms"


def init_clause(rounds):
    middle, low, high, coverage, n = rounds
    return (
        f"{ms_signed(middle)} ({coverage:.0f}% confidence interval {ms_signed(low)} to "
        f"{ms_signed(high)}, over {n} rounds)"
    )


if init_rounds("perf", "bare") is not None:
    w(
        "Each build is started once a round, each first in turn from one round to the next; "
        "\"added\" is the median over the rounds of a build's start less the build without "
        "lambda-perf's start of the same round, with a confidence interval from the order "
        "statistics of those differences."
    )
    w("")
w("| build | median | p90 | added, round by round |")
w("|---|---|---|---|")
base = init.get("bare", {}).get("median_us")
for variant, label in (("bare", "without lambda-perf"), ("perf", "lambda-perf"), ("otel", "lambda-perf, `opentelemetry` feature")):
    figures = init.get(variant)
    if not figures:
        w(f"| {label} | n/a | n/a | n/a |")
        continue
    if variant == "bare":
        added = ""
    else:
        rounds = init_rounds(variant, "bare")
        if rounds is not None:
            added = init_clause(rounds)
        elif base is not None:
            added = f"{fmt((figures['median_us'] - base) / 1000, 'ms', 3)} (difference of the medians; no rounds kept)"
        else:
            added = "n/a"
    w(
        f"| {label} | {fmt(figures['median_us'] / 1000, 'ms', 3)} | {fmt(figures['p90_us'] / 1000, 'ms', 3)} "
        f"| {added} |"
    )
if init:
    w("")
    budget = ""
    rounds = init_rounds("perf", "bare")
    if rounds is not None:
        _, low, high, coverage, n = rounds
        if coverage < 95:
            budget = f": no verdict ({n} rounds are too few for a 95% interval)"
        elif high < 1000:
            budget = ": met (the interval is below it)"
        elif low > 1000:
            budget = ": not met (the interval is above it)"
        else:
            budget = ": this run cannot tell (the interval spans it)"
    w(f"{init.get('bare', {}).get('samples', 'n/a')} starts per build. Budget: under 1 ms added{budget}.")
w("")

# --- size -------------------------------------------------------------------------------
w("## Binary size: the minimal function, stripped release build")
w("")
w("| build | bytes | added vs without |")
w("|---|---|---|")
for variant, label in (("bare", "without lambda-perf"), ("perf", "lambda-perf"), ("otel", "lambda-perf, `opentelemetry` feature")):
    size = sizes.get(variant)
    added = None if size is None or "bare" not in sizes else size - sizes["bare"]
    w(
        f"| {label} | {size if size is not None else 'n/a':,} | "
        f"{'' if variant == 'bare' else (fmt(added / 1000, 'KB', 1) if added is not None else 'n/a')} |"
        if isinstance(size, int)
        else f"| {label} | n/a | n/a |"
    )
w("")
w("Budget without the `opentelemetry` feature: under 500 KB added.")
w("")

# --- OpenTelemetry ----------------------------------------------------------------------
w("## The OpenTelemetry feature (issue 10): warm cost per exporter, size, init")
w("")
otel = criterion.get("otel_overhead", [])
if otel:
    xray = {
        "sampled": find("otel_overhead", "xray, sampled", exclude=("otlp",)),
        "unsampled": find("otel_overhead", "xray, unsampled", exclude=("otlp",)),
    }
    w(
        "The `otel_overhead` criterion bench: a warm invocation (one metric, one annotation, "
        "the EMF line to `/dev/null`) with each trace backend, built with the feature; \"vs "
        "xray\" is against the default X-Ray backend in the same group, sampled against "
        "sampled and unsampled against unsampled (an unsampled invocation sends no trace)."
    )
    w("")
    w("| backend | per invocation | vs xray |")
    w("|---|---|---|")
    for case in otel:
        like = xray["unsampled" if "unsampled" in case["function"] else "sampled"]
        w(f"| {case['function']} | {fmt(us(case['mean_ns']))} | {ratio(case['mean_ns'], like)} |")
else:
    w("The `otel_overhead` bench did not run (see the notes).")
w("")
if "otel" in sizes and "perf" in sizes:
    w(f"The feature adds {fmt((sizes['otel'] - sizes['perf']) / 1000, 'KB', 1)} to the minimal function over lambda-perf without it.")
if "otel" in init and "perf" in init:
    rounds = init_rounds("otel", "perf")
    if rounds is not None:
        w(f"Its init, round by round, over lambda-perf without it: {init_clause(rounds)}.")
    else:
        w(
            f"Its init: {fmt((init['otel']['median_us'] - init['perf']['median_us']) / 1000, 'ms', 3)} "
            "(difference of the medians, no rounds kept) over lambda-perf without it."
        )
w("")

# --- log line ---------------------------------------------------------------------------
w("## One log line (issue 11)")
w("")
logs = criterion.get("log_line", [])
if logs:
    line_floor = find("log_line", "floor")
    if line_floor is None:
        line_floor, floor_said = floor_unsampled, "the `invocation_overhead` bench's lone `write(2)` of an EMF line"
    else:
        floor_said = "its own floor, one `write(2)` of the line written inside an invocation, measured beside the lines"
    w(
        "The `log_line` criterion bench: one `tracing` event through `init()`'s log layer to "
        f"`/dev/null` opened as a file (one `write(2)` a line); \"vs the floor\" is against {floor_said}."
    )
    w("")
    w("| case | per line | vs the floor |")
    w("|---|---|---|")
    for case in logs:
        w(f"| {case['function']} | {fmt(us(case['mean_ns']))} | {ratio(case['mean_ns'], line_floor)} |")
else:
    w("The `log_line` bench did not run (see the notes).")
w("")

# --- everything -------------------------------------------------------------------------
w("## Every criterion case of this run")
w("")
w("Means with their 95% confidence interval, as criterion estimated them (`target/criterion/*/new/estimates.json`).")
w("")
w("| bench target | case | mean | interval | median |")
w("|---|---|---|---|---|")
for target, cases in sorted(criterion.items()):
    for case in cases:
        w(
            f"| {target} | {case['id']} | {fmt(us(case['mean_ns']), 'µs', 3)} "
            f"| {us(case['mean_low_ns']):,.3f}–{us(case['mean_high_ns']):,.3f} µs | {fmt(us(case['median_ns']), 'µs', 3)} |"
        )
w("")

w("## Notes")
w("")
if notes:
    for note in notes:
        w(f"- {note}")
else:
    w("- Every step ran.")
if quick:
    w("- This is a `--quick` run: shorter measurements, wider intervals.")
w("")
w("## Reproduce")
w("")
w("```")
w("bench/run            # everything above, then this file")
w("bench/run --quick    # the same, shorter")
w("```")
w("")
w(
    "`bench/run` needs the Rust toolchain and `python3`; it installs the pinned Powertools "
    "packages into `target/bench` (a Python virtual environment, `npm install --prefix`) and "
    "skips the TypeScript peer, saying so, where Node.js is missing. What it runs:"
)
w("")
w("- `cargo bench -p lambda-perf-core --bench <each target in lambda-perf-core/benches>` (the `opentelemetry` feature where the target requires it; `concurrency` writes `concurrency.json`, `lambda_sinks` `lambda_sinks.json`);")
w("- `python3 bench/powertools/peer.py` (`handler_bench.py`, `handler_bench.mjs`);")
w("- `cargo build --release -p minimal-function [--features perf|otel]`;")
w("- `cargo bench -p lambda-perf-tests --bench end_to_end` (client latency, init);")
w(
    "- `CARGO_TARGET_DIR=target/one-codegen-unit CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_STRIP=false cargo build --release -p lambda-perf-core --example warm_invocations`, and the same for `-p lambda-perf-tests --bin companion-function`;"
)
w(
    "- `valgrind --tool=callgrind target/one-codegen-unit/release/examples/warm_invocations bare|unsampled|sampled|bare_object|sampled_object|bare_logged|unsampled_logged|sampled_logged 2000|12000` "
    "(instruction counts; skipped, with a note, where valgrind is not installed);"
)
w(
    "- `lambda-perf run -n 201|2201 --env COMPANION_MODE=bare|bare_threaded|layer|companion --env EXIT_AFTER=<n> -- target/bench/results/under-callgrind.sh` "
    "(instructions under the runtime loop: the script runs `valgrind --tool=callgrind target/one-codegen-unit/release/companion-function` "
    "in a session of its own, so that the harness's stop does not cut its count short; `callgrind_annotate --inclusive=yes` for what runs after the POST);"
)
w(
    "- `lambda-perf run -n 101|601 --sampling 1|0 --env COMPANION_MODE=bare|bare_threaded|companion|runtime_layer_threaded|companion_no_calls --env EXIT_AFTER=<n> --env EVICT_CACHES=1 -- target/bench/results/under-cache-simulation.sh` "
    "(cache lines under the runtime loop: the same, under `valgrind --tool=callgrind --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=524288,8,64`; "
    "`callgrind_annotate --inclusive=yes --show=ILmr,DLmr,DLmw` for the eviction's share and what runs after the POST);"
)
w("- `target/one-codegen-unit/release/examples/warm_invocations bare|unsampled|sampled 1000000 rss` (resident memory).")
w("")
print("\n".join(out))
