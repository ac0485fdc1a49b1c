"""Run every benchmark in turn (each in its own process) and print a summary table.

    .venv/bin/python tests/bench/run_all.py [--quick]

Each benchmark prints its figures and saves them to bench-results/<name>.json; this
reads those files back for the summary. Targets that are not met do not fail the run;
a benchmark that crashes does (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[1] / "bench-results"
BENCHMARKS = ["throughput", "memory", "fidelity"]  # bench_<name>.py, shortest first
BENCHMARKS += ["health"]  # pitwall health: CPU and memory at its shipped interval
BENCHMARKS += ["http", "live"]  # the API: pitwall api as its own process
BENCHMARKS += ["endurance"]  # a 6-hour, 30-team endurance race through both
BENCHMARKS += ["cluster_live"]  # 2,000 spectators on 3 replicas behind HAProxy vs 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (smoke test)")
    args = parser.parse_args()

    rows, failed = [], []
    started = time.monotonic()
    for name in BENCHMARKS:
        result = RESULTS / f"{name}.json"
        result.unlink(missing_ok=True)
        cmd = [sys.executable, str(HERE / f"bench_{name}.py")] + (["--quick"] if args.quick else [])
        t = time.monotonic()
        code = subprocess.call(cmd)
        print(f"  ({name}: {time.monotonic() - t:.0f} s)\n", flush=True)
        if code != 0 or not result.exists():
            failed.append(name)
            rows.append((name, "benchmark failed", "", "", "FAILED"))
            continue
        for tg in json.loads(result.read_text())["targets"]:
            rows.append((name, tg["what"], f"{tg['value']:,.6g}{tg['unit']}",
                         f"{tg['op']} {tg['goal']:g}{tg['unit']}",
                         "met" if tg["met"] else "NOT met"))

    header = ("benchmark", "figure", "measured", "target", "")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"Summary{' (--quick)' if args.quick else ''}, "
          f"{time.monotonic() - started:.0f} s in all; JSON in {RESULTS}")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
