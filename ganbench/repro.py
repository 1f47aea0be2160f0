"""Reproduce the pipeline on several cores: ``python -m ganbench.repro [targets] [--jobs N]``.

``dvc repro`` runs one stage at a time, and every stage here is one single-threaded process
(``pipeline.threads: 1``), so on an N-core machine N-1 cores sit idle. This runner does the same
work as ``dvc repro`` with up to N stages at once: it reads DVC's stage graph, takes the stages
that ``dvc status`` reports changed (and everything downstream of them), and runs each through
``dvc repro --single-item`` once every stage it depends on has finished (a stage and the one
stage it alone holds back, e.g. a run's train and evaluate, share one DVC call). DVC itself
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
import re
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
CHAIN = 3  # stages per DVC call at most
DVC_CHATTER = (
    "To track the changes",
    "git add",
    "To enable auto staging",
    "dvc config core.autostage",
    "Use `dvc push`",
    "Running stage",
    "Stage '",
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
    order = _topological(waits_for)
    priority: dict[str, float] = {}
    for stage in reversed(order):
        below = [priority[u] for u in users[stage] if u in todo]
        priority[stage] = stage_cost(stage) + max(below, default=0.0)
    return Plan(order, waits_for, priority)


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


@dataclass
class Ran:
    """One stage of a ``run_one`` call: its exit status (0: done), seconds and output."""

    stage: str
    rc: int
    seconds: float
    output: str


def next_batch(plan: Plan, todo: list[str], done: set[str], first: str) -> list[str]:
    """``first`` and, up to ``CHAIN`` stages, the one stage it alone holds back, and so on
    (train -> evaluate): one DVC call for a chain saves DVC's start-up and index per stage and
    loses no parallelism (a stage that unblocks several ends its batch)."""
    batch = [first]
    while len(batch) < CHAIN:
        inside = done | set(batch)
        unblocked = [
            s for s in todo
            if s not in batch and batch[-1] in plan.waits_for[s] and plan.waits_for[s] <= inside
        ]  # fmt: skip
        if len(unblocked) != 1:
            break
        batch.append(unblocked[0])
    return batch


def run_plan(
    plan: Plan, jobs: int, run_one: Callable[[list[str]], list[Ran]], log=print
) -> tuple[list[str], list[str]]:
    """Run ``plan`` with ``jobs`` workers, each taking a batch (:func:`next_batch`) at a time;
    return the failed stages and those never started."""
    done, failed = set(), []
    running: list[list[str]] = []  # the batches the workers hold
    lock = threading.Condition()
    todo = list(plan.stages)

    def work(batch: list[str]) -> None:
        results = run_one(batch)
        with lock:
            running.remove(batch)
            for r in results:
                if r.rc == 0:
                    done.add(r.stage)
                    log(
                        f"{time.time():.3f} done '{r.stage}' in {r.seconds:.1f} s\n{r.output}".rstrip()
                    )
                else:
                    failed.append(r.stage)
                    log(f"{time.time():.3f} FAILED '{r.stage}' (exit {r.rc}):\n{r.output}".rstrip())
            todo.extend(s for s in batch if s not in done and s not in failed)  # not reached
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
            first = max(ready, key=lambda s: plan.priority.get(s, 0.0))
            batch = next_batch(plan, todo, done, first)
            for stage in batch:
                todo.remove(stage)
            running.append(batch)
            log(f"{time.time():.3f} Running {', '.join(repr(s) for s in batch)}")
            threading.Thread(target=work, args=(batch,), daemon=True).start()
    return failed, todo


STARTED = re.compile(r"^Running stage '([^']+)'")
SKIPPED = re.compile(r"^Stage '([^']+)' didn't change, skipping")


def dvc_run_one(batch: list[str]) -> list[Ran]:
    """``dvc --wait-for-lock repro --single-item <batch>`` (in the batch's order), each stage's
    time and output read from DVC's stream; retried while an output it reads is busy."""
    for _ in range(RETRIES):
        marks, lines = [], []  # (line index, stage, time) where a stage starts
        start = time.time()
        with subprocess.Popen(
            ["dvc", "--wait-for-lock", "repro", "--single-item", *batch],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            for line in proc.stdout:
                m = STARTED.match(line) or SKIPPED.match(line)
                if m:
                    marks.append((len(lines), m.group(1), time.time()))
                lines.append(line.rstrip("\n"))
        text = "\n".join(lines)
        if proc.returncode == 0 or marks or not any(m in text for m in RETRY_MARKERS):
            break
        time.sleep(1.0)
    end = time.time()
    if not marks and proc.returncode:
        return [Ran(batch[0], proc.returncode, end - start, text)]
    results = []
    for i, (at, stage, t) in enumerate(marks):
        nxt = marks[i + 1] if i + 1 < len(marks) else (len(lines), None, end)
        t0 = start if i == 0 else t  # the first stage carries DVC's start-up
        rc = proc.returncode if i == len(marks) - 1 else 0
        body = lines[at : nxt[0]]
        if rc == 0:
            body = [x for x in body if x.strip() and not x.lstrip().startswith(DVC_CHATTER)]
        results.append(Ran(stage, rc, nxt[2] - t0, "\n".join(body)))
    if proc.returncode == 0:  # DVC went through the batch: a stage it named no line for is done
        seen = {r.stage for r in results}
        results += [Ran(s, 0, 0.0, "") for s in batch if s not in seen]
    return results


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
    """cores / ``pipeline.threads`` stages at once; 1 when a stage takes every core (threads 0:
    torch's default) or a GPU."""
    from ganbench.config.params import load_params

    pipeline = load_params("params.yaml").pipeline
    if pipeline.device == "cuda" or (pipeline.device == "auto" and _has_cuda()):
        return 1
    if pipeline.threads == 0:
        return 1
    return max(1, (os.cpu_count() or 1) // pipeline.threads)


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
