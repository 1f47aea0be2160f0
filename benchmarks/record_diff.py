"""How the committed results changed between two revisions: per study and variant, the mean and
std of the best-checkpoint FID over the seed re-runs at each revision, and the change.

    python benchmarks/record_diff.py OLD_REV [NEW_REV]     (NEW_REV: the working tree)

Reads the run records ``metrics/<study>/*.json`` (not the search trials under ``search/``) from
git at each revision; only runs whose status is ``ok`` count, and the number of them is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def records(rev: str | None) -> dict[tuple[str, str], list[float]]:
    """(study, variant) -> best FIDs of the ok seed re-runs at ``rev`` (None: the working tree)."""
    if rev is None:
        paths = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("metrics/*/*.json"))
        read = lambda path: (ROOT / path).read_text()  # noqa: E731
    else:
        listing = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "metrics/"],
                                 cwd=ROOT, check=True, capture_output=True, text=True).stdout  # fmt: skip
        paths = [p for p in listing.split() if p.count("/") == 2 and p.endswith(".json")]
        read = lambda path: subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT,  # noqa: E731
                                           check=True, capture_output=True, text=True).stdout  # fmt: skip
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for path in paths:
        rec = json.loads(read(path))
        if "variant" not in rec or rec.get("status") != "ok" or not rec.get("best"):
            continue  # classifier records, diverged runs
        out[(rec["study"], rec["variant"])].append(rec["best"]["fid"])
    return out


def summary(values: list[float]) -> str:
    if not values:
        return "—"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f} (n {len(values)})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new", nargs="?")
    args = p.parse_args()
    old, new = records(args.old), records(args.new)
    print(f"best FID, mean ± std over ok seed re-runs: {args.old} -> {args.new or 'working tree'}")
    print("| study | variant | before | after | change of the mean |")
    print("|---|---|---|---|---|")
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, []), new.get(key, [])
        change = f"{statistics.mean(b) - statistics.mean(a):+.1f}" if a and b else "—"
        print(f"| {key[0]} | {key[1]} | {summary(a)} | {summary(b)} | {change} |")


if __name__ == "__main__":
    main()
