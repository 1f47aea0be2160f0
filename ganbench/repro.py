"""Reproduce the pipeline on several cores: ``python -m ganbench.repro [targets] [--jobs N]``.

``dvc repro`` runs one stage at a time, and every stage here is one single-threaded process
(``pipeline.threads: 1``), so on an N-core machine N-1 cores sit idle. This runner does the same
work as ``dvc repro`` with up to N stages at once: it reads DVC's stage graph, takes the stages
that ``dvc status`` reports changed (and everything downstream of them), and runs each as
``dvc repro --single-item <stage>`` once every stage it depends on has finished. DVC itself
decides whether a stage runs and records it in ``dvc.lock`` (DVC 3 allows concurrent ``repro``
on disjoint stages: its per-output locks keep them apart), so the results, ``dvc.lock`` and the
run cache are the same as ``dvc repro``'s; only the order of independent stages differs, and no
stage reads another's output unless it depends on it. Every stage process is seeded and uses
``pipeline.threads`` torch threads, so its numbers do not depend on what runs beside it.

Ready stages start in order of their critical path (the longest chain of estimated stage costs
below them), so the long search -> select -> re-run chains start first. A failed stage stops
new starts; the running ones finish, its output is printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Relative cost of a stage by the first word of its name (train_lucic@... -> "train"): only the
# order of ready stages depends on it, never what runs.
COST = {"train": 10.0, "search": 10.0, "classifier": 10.0, "evaluate": 3.0}
RETRY_MARKERS = ("Unable to acquire lock", "is busy, it is being blocked by")
RETRIES = 20
DVC_CHATTER = (
    "To track the changes",
    "git add",
    "To enable auto staging",
    "dvc config core.autostage",
    "Use `dvc push`",
    "Running stage",
    "Updating lock file",
    "Generating lock file",
)


@dataclass
class Plan:
    """Stages to run (names), what each waits for, and the order ready ones start in."""

    stages: list[str]
    waits_for: dict[str, set[str]]
    priority: dict[str, float] = field(default_factory=dict)


def stage_cost(name: str) -> float:
    return COST.get(name.split("@")[0].split("_")[0], 1.0)


def make_plan(
    deps: dict[str, set[str]], changed: Iterable[str], targets: Iterable[str] = ()
) -> Plan:
    """The stages to run: ``changed`` and everything downstream of them, within the upstream
    closure of ``targets`` (all stages when none). ``deps`` maps each stage to those it reads."""
    users: dict[str, set[str]] = {s: set() for s in deps}
    for stage, ups in deps.items():
        for up in ups:
            users[up].add(stage)
    scope = _closure(targets, deps) if targets else set(deps)
    todo = _closure([s for s in changed if s in scope], users) & scope
    waits_for = {s: deps[s] & todo for s in todo}
    priority: dict[str, float] = {}
    for stage in reversed(_topological(waits_for)):
        below = [priority[u] for u in users[stage] if u in todo]
        priority[stage] = stage_cost(stage) + max(below, default=0.0)
    return Plan(_topological(waits_for), waits_for, priority)


def _closure(start: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    seen, stack = set(), list(start)
    while stack:
        s = stack.pop()
        if s not in seen:
            seen.add(s)
            stack.extend(edges[s])
    return seen


def _topological(waits_for: dict[str, set[str]]) -> list[str]:
    order, done = [], set()
    pending = sorted(waits_for)
    while pending:
        ready = [s for s in pending if waits_for[s] <= done]
        order += ready
        done |= set(ready)
        pending = [s for s in pending if s not in done]
    return order


def run_plan(
    plan: Plan, jobs: int, run_one: Callable[[str], tuple[int, str]], log=print
) -> tuple[list[str], list[str]]:
    """Run ``plan`` with ``jobs`` workers; return the failed stages and those never started."""
    done, running, failed = set(), set(), []
    lock = threading.Condition()
    todo = list(plan.stages)

    def work(stage: str) -> None:
        start = time.time()
        rc, output = run_one(stage)
        with lock:
            running.discard(stage)
            if rc == 0:
                done.add(stage)
                log(
                    f"{time.time():.3f} done '{stage}' in {time.time() - start:.1f} s\n{output}".rstrip()
                )
            else:
                failed.append(stage)
                log(f"{time.time():.3f} FAILED '{stage}' (exit {rc}):\n{output}".rstrip())
            lock.notify_all()

    with lock:
        while todo or running:
            ready = [s for s in todo if plan.waits_for[s] <= done]
            if failed or (not ready and not running):
                if not running:
                    break
                lock.wait()
                continue
            if len(running) >= jobs or not ready:
                lock.wait()
                continue
            stage = max(ready, key=lambda s: plan.priority.get(s, 0.0))
            todo.remove(stage)
            running.add(stage)
            log(f"{time.time():.3f} Running stage '{stage}'")
            threading.Thread(target=work, args=(stage,), daemon=True).start()
    return failed, todo


def dvc_run_one(stage: str) -> tuple[int, str]:
    """``dvc repro --single-item stage``, waiting for DVC's repo lock (held by another stage's
    commit) and retried while an output it reads is busy; DVC's chatter is left out."""
    for _ in range(RETRIES):
        proc = subprocess.run(
            ["dvc", "--wait-for-lock", "repro", "--single-item", stage],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if proc.returncode == 0 or not any(m in proc.stdout for m in RETRY_MARKERS):
            break
        time.sleep(1.0)
    lines = proc.stdout.splitlines()
    if proc.returncode == 0:
        lines = [
            line for line in lines if line.strip() and not line.lstrip().startswith(DVC_CHATTER)
        ]
    return proc.returncode, "\n".join(lines)


def dvc_graph(targets: list[str]) -> tuple[dict[str, set[str]], list[str]]:
    """Each stage's upstream stages, and the stages ``dvc status`` reports changed."""
    from dvc.repo import Repo

    with Repo() as repo:
        graph = repo.index.graph  # an edge (a, b): stage a depends on stage b
        deps = {s.addressing: set() for s in graph.nodes}
        for a, b in graph.edges:
            deps[a.addressing].add(b.addressing)
        unknown = [t for t in targets if t not in deps]
        if unknown:
            raise SystemExit(
                f"ganbench.repro: unknown stage(s) {unknown}; `dvc stage list` names them"
            )
        changed = list(repo.status())
    return deps, changed


def default_jobs() -> int:
    """One stage per core when stages use ``pipeline.threads`` CPU threads; 1 with a GPU."""
    from ganbench.config.params import load_params

    pipeline = load_params("params.yaml").pipeline
    if pipeline.device == "cuda" or (pipeline.device == "auto" and _has_cuda()):
        return 1
    return max(1, (os.cpu_count() or 1) // max(pipeline.threads, 1))


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="stages to bring up to date (default: all)")
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        help="stages at once (default: cores / pipeline.threads)",
    )
    args = parser.parse_args(argv)
    jobs = args.jobs or default_jobs()
    start = time.time()
    deps, changed = dvc_graph(args.targets)
    plan = make_plan(deps, changed, args.targets)
    print(f"{time.time():.3f} {len(plan.stages)} stage(s) to check, {jobs} at once", flush=True)
    failed, not_run = run_plan(plan, jobs, dvc_run_one, log=lambda m: print(m, flush=True))
    wall = time.time() - start
    if failed:
        print(f"ganbench.repro: stage(s) failed: {', '.join(failed)}; "
              f"{len(not_run)} stage(s) not started", file=sys.stderr)  # fmt: skip
        return 1
    print(
        f"{time.time():.3f} all {len(plan.stages)} stage(s) up to date in {wall:.0f} s wall, {jobs} at once"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
