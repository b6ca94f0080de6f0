"""The results criterion wrote since STAMP, as JSON: one entry per benchmark.

    python3 criterion.py CRITERION_DIR STAMP TARGET

Reads every `<...>/new/benchmark.json` and `estimates.json` newer than the file STAMP (so
only this run's results, whatever the cases are named) and prints
`{"target": TARGET, "cases": [{"group", "function", "id", "mean_ns", "median_ns", ...}]}`.
"""

import json
import os
import sys

root, stamp, target = sys.argv[1], sys.argv[2], sys.argv[3]
since = os.path.getmtime(stamp)
cases = []
for directory, _, files in os.walk(root):
    if os.path.basename(directory) != "new" or "estimates.json" not in files:
        continue
    estimates_path = os.path.join(directory, "estimates.json")
    if os.path.getmtime(estimates_path) < since:
        continue
    with open(estimates_path) as f:
        estimates = json.load(f)
    with open(os.path.join(directory, "benchmark.json")) as f:
        benchmark = json.load(f)
    cases.append(
        {
            "group": benchmark.get("group_id"),
            "function": benchmark.get("function_id") or benchmark.get("value_str"),
            "id": benchmark.get("full_id"),
            "mean_ns": estimates["mean"]["point_estimate"],
            "mean_low_ns": estimates["mean"]["confidence_interval"]["lower_bound"],
            "mean_high_ns": estimates["mean"]["confidence_interval"]["upper_bound"],
            "median_ns": estimates["median"]["point_estimate"],
        }
    )
cases.sort(key=lambda case: case["id"] or "")
json.dump({"target": target, "cases": cases}, sys.stdout, indent=2)
