"""Every benchmark, one after another, then one table of all their figures (what ``make bench`` runs).

    .venv/bin/python bench/table.py [--quick] [--only requests timeline ...] [--json FILE]

Each bench runs as a process of its own (so one's memory, threads and caches cannot colour the
next), prints its own output as it goes, and hands its figures back as JSON. The table lists each
figure with its value, the baseline measured in the same run, their ratio, the target and whether
it is met. ``--quick`` runs every bench with smaller sizes and shorter runs: rates are still judged,
targets that hold only at the full sizes are shown as "(quick)". The machine's load average before
and after is printed: on a busy machine the figures are indicative. The exit status is 1 when a
bench failed, else 0 (missed targets are results, not failures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from bench.common import Figure, format_table  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
BENCHES = ("signatures", "provision", "inbox_ingest", "fanout", "requests", "timeline", "memory")


def run_bench(name: str, quick: bool) -> tuple[list[Figure], str | None]:
    """Run ``bench/<name>.py`` in its own process; its figures, or the reason it gave none."""
    with tempfile.TemporaryDirectory(prefix="fedi-bench-table-") as directory:
        output = Path(directory) / "figures.json"
        command = [sys.executable, str(BENCH_DIR / f"{name}.py"), "--json", str(output), *(["--quick"] if quick else [])]
        print(f"\n=== {name}: {' '.join(command[1:2] + command[4:])}", flush=True)
        status = subprocess.run(command, check=False).returncode
        if status != 0:
            return [], f"exit status {status}"
        try:
            return [Figure.from_json(item) for item in json.loads(output.read_text(encoding="utf-8"))], None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            return [], f"unreadable figures: {exc}"


def load() -> str:
    """The load averages over 1, 5 and 15 minutes."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    """Run the benches and print the table; 1 if a bench failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs, to try the harness")
    parser.add_argument("--only", nargs="+", choices=BENCHES, metavar="BENCH", help=f"run only these: {', '.join(BENCHES)}")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE as JSON")
    args = parser.parse_args()
    names = [name for name in BENCHES if not args.only or name in args.only]
    started, load_before = time.monotonic(), load()
    figures: list[Figure] = []
    failures: list[str] = []
    for name in names:
        made, failure = run_bench(name, args.quick)
        figures += made
        if failure:
            failures.append(f"{name}: {failure}")
    minutes = (time.monotonic() - started) / 60
    print(f"\n=== all figures ({'quick run' if args.quick else 'full sizes'}; {len(names)} benches in {minutes:.1f} min; "
          f"{os.cpu_count()} CPUs; load average before {load_before}, after {load()})\n")
    print(format_table(figures))
    met = sum(1 for f in figures if f.met)
    judged = sum(1 for f in figures if f.met is not None)
    print(f"\ntargets met: {met} of {judged} judged")
    for failure in failures:
        print(f"FAILED {failure}")
    if args.json:
        args.json.write_text(json.dumps([f.to_json() for f in figures], indent=1), encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
