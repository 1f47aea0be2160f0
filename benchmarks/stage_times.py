"""Time per stage and per study of a `make repro` or `dvc repro`, from a log whose lines carry a
timestamp.

    make repro 2>&1 | tee repro.log                                            # stamped lines
    dvc repro 2>&1 | python benchmarks/stage_times.py --stamp > repro.log      # time-stamps lines
    python benchmarks/stage_times.py repro.log                                 # the table

`make repro` (ganbench.repro, stages side by side) logs `done '<name>' in <s> s` per stage: that is
the stage's time. In a `dvc repro` log (one stage at a time) a stage runs from its
`Running stage '<name>'` line to the next stage's line (the last one to the end of the log). The
last row is the wall time from the first stamped line to the last. Stages are grouped by study (the name's last word before `@`: `search_<study>`,
`search_evaluate_<study>`, `select_<study>`, `train_<study>`, `evaluate_<study>`, `report_<study>`,
`baselines_<study>`) and the shared data stages.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict

RUNNING = re.compile(r"Running stage '([^']+)'")
DONE = re.compile(r"done '([^']+)' in ([\d.]+) s")


def stamp() -> None:
    for line in sys.stdin:
        print(f"{time.time():.3f} {line}", end="", flush=True)


def durations(lines: list[str]) -> list[tuple[str, float]]:
    done = [m.groups() for line in lines if (m := DONE.search(line))]
    if done:
        return [(name, float(seconds)) for name, seconds in done]
    starts = []
    for line in lines:
        ts, _, text = line.partition(" ")
        m = RUNNING.search(text)
        if m:
            starts.append((m.group(1), float(ts)))
    end = float(lines[-1].partition(" ")[0])
    bounds = [t for _, t in starts[1:]] + [end]
    return [(name, b - t) for (name, t), b in zip(starts, bounds, strict=True)]


def group(stage: str) -> str:
    kind = stage.split("@", 1)[0]
    return kind.rsplit("_", 1)[1] if "_" in kind else "shared data (prepare, classifier, refstats)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="?")
    parser.add_argument("--stamp", action="store_true", help="copy stdin, each line time-stamped")
    args = parser.parse_args()
    if args.stamp:
        return stamp()
    with open(args.log) as f:  # time-stamped lines only
        lines = [line for line in f if re.match(r"\d+\.\d+ ", line)]
    totals: dict[str, list[float]] = defaultdict(list)
    for name, seconds in durations(lines):
        totals[group(name)].append(seconds)
    print("| part | stages | stage time |\n|---|---|---|")
    for name, times in totals.items():
        print(f"| {name} | {len(times)} | {_minutes(sum(times))} |")
    everything = sum(sum(t) for t in totals.values())
    print(f"| all stages | {sum(map(len, totals.values()))} | {_minutes(everything)} |")
    wall = float(lines[-1].partition(" ")[0]) - float(lines[0].partition(" ")[0])
    print(f"| wall time, first to last line | | {_minutes(wall)} |")


def _minutes(seconds: float) -> str:
    return f"{seconds:,.0f} s ({seconds / 60:.1f} min)"


if __name__ == "__main__":
    main()
