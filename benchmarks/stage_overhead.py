"""The fixed cost of one pipeline stage: where a train and an evaluate stage spend their time
outside the training loop and the scoring, before and after a change.

    python benchmarks/stage_overhead.py                        # HEAD (before) vs the working tree
    python benchmarks/stage_overhead.py --before <rev> [--after <dir>] [--repeats 3]

"before" is a git revision, checked out with ``git worktree add`` into a temporary directory;
"after" a directory holding the code (default: this working tree). Each repeat runs, in both
trees and alternating their order, the stage scripts (``stages/train.py``, ``stages/evaluate.py``)
of one run (``--run``, default ``lucic-fashion_mnist-ns-0``) in a fresh interpreter, as dvc.yaml
runs them, with every output in a temporary directory (never runs/, metrics/, evaluations/ or
dvclive/). A harness around the stage times its parts: the stage's import lines, then named
functions of the package (``load_plan``, the data load, the network build, each training step,
checkpoint and snapshot writes, DVCLive's files, the record...), wall and process CPU time, each
part without the parts it calls; the interpreter start is the time from the spawn to the first
line, the process exit the rest of the process's time after the stage returns. ``-X importtime``
gives the import time of the main modules (wall, with what each pulled in first). Then each stage
script's import lines alone, in both trees. Medians over the repeats; the machine may be shared,
so CPU times are the steadier figure.

Then, in the "after" tree: the training loop and the evaluate stage with 1 and 2 torch threads
(and 2 threads with ``OMP_WAIT_POLICY=passive``); and DVC's own work per stage in a throwaway
worktree of the "before" revision, or ``--dvc-rev`` (``dvc status``, ``dvc repro -s`` of an
up-to-date stage, ``dvc commit -f`` of fresh outputs: hashing, caching and rewriting dvc.lock), and
what parsing and writing dvc.lock costs. Last, the outputs of the two trees are compared:
checkpoint and snapshot tensors, the run's files, DVCLive's files and the record's scores must be
identical (the check that a change leaves the numbers alone; ``--repeats 1 --no-threads --no-dvc``
for that alone).

``--threads`` (default 1) is the torch thread count of the breakdown runs: on a busy machine
OpenMP's spinning makes 2-thread runs of the tiny model many times slower and much noisier
(``--threads 0`` keeps ``pipeline.threads`` from params).
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time

# -- the child: one stage in this process, timed --------------------------------------------------

# (module, attribute path, part): the functions the harness times, when the stage has loaded
# their module. A part's time excludes the timed parts it calls.
TRAIN_PARTS = [
    ("ganbench.plan", "load_plan", "load_plan (params + every run of every study)"),
    ("ganbench.plan", "resolve_run", "resolve_run (this run)"),
    ("ganbench.data.prepared", "load_prepared", "data load (prepared .npz)"),
    ("ganbench.training.loop", "Trainer.__init__", "network build (G, D, sampler)"),
    ("ganbench.training.loop", "make_adam", "optimisers (the first imports torch._dynamo)"),
    ("ganbench.training.loop", "Trainer.train_step", "training loop (train_step)"),
    ("ganbench.training.loop", "Trainer._flush", "loss logging (window means)"),
    ("ganbench.training.checkpoint", "load_resume", "resume check, run dir reset"),
    ("ganbench.training.checkpoint", "reset_run_dir", "resume check, run dir reset"),
    ("ganbench.training.loop", "Trainer.evaluation_state", "evaluation checkpoints (step_*.pt)"),
    ("ganbench.training.checkpoint", "save_checkpoint", "evaluation checkpoints (step_*.pt)"),
    ("ganbench.training.loop", "Trainer.state_dict", "resumable snapshot (resume.pt)"),
    ("ganbench.training.checkpoint", "save_resume", "resumable snapshot (resume.pt)"),
    ("ganbench.training.checkpoint", "write_config", "run files (config, log, status)"),
    ("ganbench.training.checkpoint", "write_log", "run files (config, log, status)"),
    ("ganbench.training.checkpoint", "write_status", "run files (config, log, status)"),
    ("ganbench.training.progress", "Progress.__init__", "progress bar + DVCLive files"),
    ("ganbench.training.progress", "Progress.start_live", "progress bar + DVCLive files"),
    ("ganbench.training.progress", "Progress.log", "progress bar + DVCLive files"),
    ("ganbench.training.progress", "Progress.update", "progress bar + DVCLive files"),
    ("ganbench.training.progress", "Progress.__exit__", "progress bar + DVCLive files"),
]
EVALUATE_PARTS = [
    ("ganbench.plan", "load_plan", "load_plan (params + every run of every study)"),
    ("ganbench.plan", "resolve_run", "resolve_run (this run)"),
    ("ganbench.metrics.features", "extractor_from_params", "feature network load"),
    ("ganbench.metrics.evaluate", "Reference.load", "reference statistics load"),
    ("ganbench.training.checkpoint", "read_config", "run dir reads (config, status, list)"),
    ("ganbench.training.checkpoint", "list_checkpoints", "run dir reads (config, status, list)"),
    ("ganbench.evaluation.runs", "read_json", "run dir reads (config, status, list)"),
    ("ganbench.evaluation.runs", "load_generators", "checkpoint load + G build"),
    ("ganbench.evaluation.runs", "_score", "scoring (samples, features, FID/KID/IS/PRDC)"),
    ("ganbench.evaluation.runs", "sample_grid", "sample grids"),
    ("ganbench.evaluation.runs", "write_grid_png", "grid PNG writes + image hashes"),
    ("ganbench.evaluation.runs", "sha256_file", "grid PNG writes + image hashes"),
    ("ganbench.evaluation.runs", "save_attention_figure", "attention figure"),
    ("ganbench.evaluation.runs", "build_networks", "network builds (G per checkpoint, G+D counts)"),
    ("ganbench.evaluation.runs", "protocol", "record: protocol, environment"),
    ("ganbench.evaluation.runs", "RunRecord.model_validate", "record: schema validation"),
    ("ganbench.io", "write_json", "record write (metrics JSON)"),
]
IMPORTS = "imports (the stage's import lines)"
MAIN = "main() itself, train_run/evaluate_run glue"
TRAIN_LOOP = "training loop (train_step)"
SCORING = "scoring (samples, features, FID/KID/IS/PRDC)"
HEAVY = ("torch", "numpy", "pydantic", "yaml", "dvclive", "dvc", "pandas", "matplotlib", "scipy",
         "PIL", "torchvision", "torch_fidelity", "tqdm", "sklearn")  # fmt: skip


class _FastExit(BaseException):
    def __init__(self, code: int) -> None:
        self.code = code


class _Clock:
    """Exclusive wall and CPU time per part: a timed call's time, less its timed callees'."""

    def __init__(self) -> None:
        self.parts: dict[str, list[float]] = {}  # part -> [wall, cpu, calls]
        self.stack: list[list[float]] = []  # [callee wall, callee cpu] of each open call

    def timed(self, part: str, fn):
        def wrapper(*args, **kwargs):
            w0, c0 = time.perf_counter(), time.process_time()
            self.stack.append([0.0, 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                inner_w, inner_c = self.stack.pop()
                w, c = time.perf_counter() - w0, time.process_time() - c0
                slot = self.parts.setdefault(part, [0.0, 0.0, 0])
                slot[0] += w - inner_w
                slot[1] += c - inner_c
                slot[2] += 1
                if self.stack:
                    self.stack[-1][0] += w
                    self.stack[-1][1] += c

        wrapper.__wrapped__ = fn
        return wrapper


def _patch(clock: _Clock, parts, forced_threads: int) -> None:
    """Wrap each named function of a loaded module, wherever a ganbench module binds it."""
    import inspect

    for module, attr, part in parts:
        mod = sys.modules.get(module)
        if mod is None:  # a module the stage does not load is not loaded for the timing either
            continue
        owner_name, _, name = attr.rpartition(".")
        owner = getattr(mod, owner_name, None) if owner_name else mod
        try:
            raw = inspect.getattr_static(owner, name)
        except AttributeError:
            continue
        if isinstance(raw, classmethod | staticmethod):
            setattr(owner, name, type(raw)(clock.timed(part, raw.__func__)))
            continue
        wrapped = clock.timed(part, raw)
        if owner_name:  # a method
            setattr(owner, name, wrapped)
            continue
        for m in list(sys.modules.values()):  # every ganbench module that imported it by name
            if not str(getattr(m, "__name__", "")).startswith("ganbench"):
                continue
            d = vars(m)
            for k, v in list(d.items()):
                if v is raw:
                    d[k] = wrapped
    runtime = sys.modules.get("ganbench.runtime")
    if forced_threads and runtime is not None:
        import torch

        runtime.set_threads = lambda threads: torch.set_num_threads(forced_threads)


def child(stage: str, tree: str, argv: list[str], out: str, threads: int) -> None:
    """Run ``stages/<stage>.py`` of ``tree`` as ``__main__`` with ``argv``; times to ``out``."""
    w_start, c_start = time.time(), time.process_time()
    sys.path[0] = tree  # not benchmarks/ (nor stages/: a stage script can shadow a stdlib module)
    path = os.path.join(tree, "stages", f"{stage}.py")
    with open(path) as f:
        source = f.read()
    tree_ast = ast.parse(source, path)
    imports = [n for n in tree_ast.body if isinstance(n, ast.Import | ast.ImportFrom)]
    clock = _Clock()
    ns = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    w0, c0 = time.perf_counter(), time.process_time()
    for node in imports:
        exec(compile(ast.Module([node], []), path, "exec"), ns)
    clock.parts[IMPORTS] = [time.perf_counter() - w0, time.process_time() - c0, 1]
    _patch(clock, TRAIN_PARTS if stage == "train" else EVALUATE_PARTS, threads)
    sys.argv = [path, *argv]
    sys.orig_argv = [sys.executable, path, *argv]  # the command line dvc.yaml gives the stage
    run = clock.timed(MAIN, lambda: exec(compile(source, path, "exec"), ns))
    status, real_exit = 0, os._exit

    def fast_exit(code: int) -> None:  # the stage ends its process itself: first, the timings
        raise _FastExit(code)

    os._exit = fast_exit
    fast = False
    try:
        run()
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
    except _FastExit as e:
        status, fast = e.code, True
    os._exit = real_exit
    w_end, c_end = time.time(), time.process_time()
    import torch

    loaded = {name for name in HEAVY if name in sys.modules}
    ganbench_files = sorted(
        m.__file__
        for name, m in sys.modules.items()
        if name.startswith("ganbench") and getattr(m, "__file__", None)
    )
    with open(out, "w") as f:
        json.dump(
            {
                "status": status,
                "start_wall": w_start,
                "start_cpu": c_start,
                "end_wall": w_end,
                "end_cpu": c_end,
                "parts": clock.parts,
                "threads": torch.get_num_threads(),
                "loaded": sorted(loaded),
                "ganbench_files": ganbench_files,
            },
            f,
        )
    if fast:
        real_exit(status)  # no teardown, as the stage
    sys.exit(status)  # the interpreter's teardown, as the stage's


# -- the parent -----------------------------------------------------------------------------------


def _spawn(cmd: list[str], *, cwd: str, env: dict | None = None, log: str | None = None):
    """Run ``cmd``; (wall s, CPU s of the process and its children, exit status, spawn time)."""
    import subprocess

    with open(log or os.devnull, "w") as out:
        spawned = time.time()
        w0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - w0
    return wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status), spawned


def _importtime(log: str) -> dict[str, float]:
    """Seconds of import per module, cumulative (what its first import pulled in with it), from
    ``-X importtime``; ``*`` is the sum of every module's own time (all imports)."""
    out: dict[str, float] = {"*": 0.0}
    with open(log) as f:
        for line in f:
            if not line.startswith("import time:") or "|" not in line:
                continue
            fields = line.split("|")
            try:
                self_us, cumulative_us = int(fields[0].split(":")[1]), int(fields[1])
            except ValueError:
                continue  # the header
            out.setdefault(fields[2].strip(), cumulative_us / 1e6)
            out["*"] += self_us / 1e6
    return out


class Runner:
    def __init__(self, args, work: str, data: dict[str, str]) -> None:
        self.args, self.work, self.data = args, work, data
        self.study, self.dataset, self.variant, self.seed = args.run.rsplit("-", 3)
        self.count = 0

    def stage(self, name: str, tree: str, *, threads: int, tag: str, run_dir: str | None = None,
              env_extra: dict | None = None) -> dict:  # fmt: skip
        """One stage in a fresh interpreter; its timings, totals and output paths."""
        self.count += 1
        out = os.path.join(self.work, f"{tag}-{name}-{self.count}")
        os.makedirs(out)
        common = ["--study", self.study, "--dataset", self.dataset, "--variant", self.variant,
                  "--seed", self.seed, "--params", os.path.join(tree, "params.yaml")]  # fmt: skip
        if name == "train":
            run_dir = os.path.join(out, "run")
            argv = [*common, "--data", self.data["data"], "--out", run_dir,
                    "--live", os.path.join(out, "live"), "--quiet"]  # fmt: skip
        else:
            argv = [*common, "--run", run_dir, "--weights", self.data["weights"],
                    "--reference", self.data["reference"],
                    "--metrics", os.path.join(out, "record.json"),
                    "--out-dir", os.path.join(out, "evaluations", self.args.run)]  # fmt: skip
        timings = os.path.join(out, "timings.json")
        env = {**os.environ, "PYTHONPATH": tree, **(env_extra or {})}
        cmd = [sys.executable, "-X", "importtime", os.path.abspath(__file__), "--child", name,
               "--tree", tree, "--timings", timings, "--threads", str(threads), "--", *argv]  # fmt: skip
        log = os.path.join(out, "log.txt")
        wall, cpu, rc, spawned = _spawn(cmd, cwd=tree, env=env, log=log)
        if rc != 0 or not os.path.exists(timings):
            with open(log) as f:
                tail = [x for x in f.read().splitlines() if not x.startswith("import time:")]
            raise SystemExit(
                f"{name} stage failed in {tree} (exit {rc}):\n" + "\n".join(tail[-20:])
            )
        with open(timings) as f:
            t = json.load(f)
        parts = {k: (v[0], v[1]) for k, v in t["parts"].items()}
        parts["interpreter start (spawn to first line)"] = (
            t["start_wall"] - spawned,
            t["start_cpu"],
        )
        parts["process exit"] = (
            wall - (t["end_wall"] - spawned),
            cpu - t["end_cpu"],
        )
        steps = t["parts"].get(TRAIN_LOOP, [0, 0, 0])[2]
        return {"parts": parts, "total": (wall, cpu), "steps": steps, "out": out,
                "run_dir": run_dir, "threads": t["threads"], "loaded": t["loaded"],
                "imports": _importtime(log), "ganbench_files": t["ganbench_files"]}  # fmt: skip


def _median(values):
    import statistics

    return statistics.median(values) if values else float("nan")


def _medians(runs: list[dict], key=lambda r: r["parts"]) -> dict[str, tuple[float, float]]:
    names: list[str] = []
    for r in runs:
        names += [n for n in key(r) if n not in names]
    return {
        n: (_median([key(r).get(n, (0.0, 0.0))[0] for r in runs]),
            _median([key(r).get(n, (0.0, 0.0))[1] for r in runs]))
        for n in names
    }  # fmt: skip


def _ratio(a: float, b: float) -> str:
    if b <= 0.0005 and a <= 0.0005:
        return "–"
    return f"{a / b:.2f}" if b > 0.0005 else "∞"


def _print_breakdown(title: str, before: list[dict], after: list[dict], steps: bool) -> None:
    mb, ma = _medians(before), _medians(after)
    order = ["interpreter start (spawn to first line)", IMPORTS]
    order += [n for n in [*mb, *ma] if n not in order and n not in ("process exit",)]
    order = list(dict.fromkeys(order)) + ["process exit"]
    print(f"\n### {title}\n")
    print(
        "| part | before wall s | after wall s | before CPU s | after CPU s | before/after (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for n in order:
        bw, bc = mb.get(n, (0.0, 0.0))
        aw, ac = ma.get(n, (0.0, 0.0))
        print(f"| {n} | {bw:.3f} | {aw:.3f} | {bc:.3f} | {ac:.3f} | {_ratio(bc, ac)} |")
    tb = (_median([r["total"][0] for r in before]), _median([r["total"][1] for r in before]))
    ta = (_median([r["total"][0] for r in after]), _median([r["total"][1] for r in after]))
    print(f"| **whole process** | {tb[0]:.2f} | {ta[0]:.2f} | {tb[1]:.2f} | {ta[1]:.2f} "
          f"| {_ratio(tb[1], ta[1])} |")  # fmt: skip
    core = TRAIN_LOOP if steps else SCORING
    fixed_b = [r["total"][1] - r["parts"].get(core, (0, 0))[1] for r in before]
    fixed_a = [r["total"][1] - r["parts"].get(core, (0, 0))[1] for r in after]
    fixed_bw = [r["total"][0] - r["parts"].get(core, (0, 0))[0] for r in before]
    fixed_aw = [r["total"][0] - r["parts"].get(core, (0, 0))[0] for r in after]
    print(f"| **fixed cost (all but {core.split(' (')[0]})** | {_median(fixed_bw):.2f} "
          f"| {_median(fixed_aw):.2f} | {_median(fixed_b):.2f} | {_median(fixed_a):.2f} "
          f"| {_ratio(_median(fixed_b), _median(fixed_a))} |")  # fmt: skip
    if steps:
        for label, runs in (("before", before), ("after", after)):
            rates = [
                r["steps"] / r["parts"][TRAIN_LOOP][0] for r in runs if TRAIN_LOOP in r["parts"]
            ]
            print(f"\n{label}: {runs[0]['steps']} steps, {_median(rates):.1f} steps/s (median), "
                  f"{runs[0]['threads']} torch thread(s)", end="")  # fmt: skip
        print()
    for label, runs in (("before", before), ("after", after)):
        print(f"{label}: heavy packages loaded: {', '.join(runs[0]['loaded'])}")


IMPORT_ROWS = (
    "torch", "torch._dynamo", "sympy", "dvclive", "pandas", "pydantic", "yaml", "matplotlib",
    "scipy", "PIL", "ganbench.config", "ganbench.plan", "ganbench.data", "ganbench.training.launch",
    "ganbench.training.progress", "ganbench.evaluation.runs", "ganbench.metrics.features",
)  # fmt: skip


def _print_imports(title: str, before: list[dict], after: list[dict]) -> None:
    rows = [m for m in IMPORT_ROWS if any(m in r["imports"] for r in [*before, *after])]
    print(f"\n{title}: import time of a module with what it pulled in first "
          "(-X importtime, cumulative, wall s; absent: not imported)\n")  # fmt: skip
    print("| module | before | after | before/after |\n|---|---:|---:|---:|")
    for m in [*rows, "*"]:
        b = [r["imports"][m] for r in before if m in r["imports"]]
        a = [r["imports"][m] for r in after if m in r["imports"]]
        bs = f"{_median(b):.3f}" if b else "–"
        as_ = f"{_median(a):.3f}" if a else "–"
        ratio = _ratio(_median(b) if b else 0.0, _median(a) if a else 0.0)
        name = "**all imports**" if m == "*" else m
        print(f"| {name} | {bs} | {as_} | {ratio} |")


def _compile_cost(files: list[str]) -> float:
    """CPU seconds to compile the package's sources a stage loaded (paid on every run when no
    bytecode cache exists, e.g. under PYTHONDONTWRITEBYTECODE)."""
    import importlib.util

    c0 = time.process_time()
    for path in files:
        if path.endswith(".py"):
            with open(path, "rb") as f:
                compile(f.read(), path, "exec", dont_inherit=True)
    cost = time.process_time() - c0
    cached = sum(
        os.path.exists(importlib.util.cache_from_source(p)) for p in files if p.endswith(".py")
    )
    return cost, cached


def _import_lines(path: str) -> str:
    with open(path) as f:
        body = ast.parse(f.read(), path).body
    return "\n".join(ast.unparse(n) for n in body if isinstance(n, ast.Import | ast.ImportFrom))


def _stage_imports(trees: dict[str, str], repeats: int) -> dict[str, dict[str, tuple]]:
    """Per stage script of both trees: (wall, CPU) of a fresh interpreter running only its
    import lines, median over ``repeats``."""
    names = [
        n[:-3]
        for n in sorted(os.listdir(os.path.join(trees["after"], "stages")))
        if n.endswith(".py") and os.path.exists(os.path.join(trees["before"], "stages", n))
    ]
    out: dict[str, dict[str, tuple]] = {}
    for name in names:
        for label, tree in trees.items():
            code = _import_lines(os.path.join(tree, "stages", f"{name}.py"))
            env = {**os.environ, "PYTHONPATH": tree}
            runs = [_spawn([sys.executable, "-c", code], cwd=tree, env=env) for _ in range(repeats)]
            ok = all(r[2] == 0 for r in runs)
            out.setdefault(name, {})[label] = (
                (_median([r[0] for r in runs]), _median([r[1] for r in runs])) if ok else None
            )
    return out


def _interpreter_start(repeats: int) -> tuple[float, float]:
    runs = [_spawn([sys.executable, "-c", "pass"], cwd="/")[:2] for _ in range(max(repeats, 3))]
    return _median([w for w, _ in runs]), _median([c for _, c in runs])


def _worktree(repo: str, rev: str, path: str) -> str:
    import subprocess

    subprocess.run(["git", "-C", repo, "worktree", "add", "--detach", "-f", path, rev],
                   check=True, capture_output=True)  # fmt: skip
    return path


def _dvc_costs(runner: Runner, tree: str, train: dict, evaluate: dict, repeats: int) -> dict:
    """DVC's own work per stage, in ``tree`` (a throwaway worktree): (wall, CPU) medians."""
    import shutil

    r = runner
    run = f"{r.study}-{r.dataset}-{r.variant}-{r.seed}"
    names = {"train": f"train_{r.study}@{run}", "evaluate": f"evaluate_{r.study}@{run}"}
    for rel, src in (
        (f"data/prepared/{r.dataset}.npz", r.data["data"]),
        (f"models/classifier-{r.dataset}.pt", r.data["weights"]),
        (f"refstats/{r.dataset}.npz", r.data["reference"]),
    ):
        os.makedirs(os.path.dirname(os.path.join(tree, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(tree, rel))
    outs = {
        "train": [(train["run_dir"], f"runs/{r.study}/{run}"),
                  (os.path.join(train["out"], "live"), f"dvclive/{r.study}/{run}")],
        "evaluate": [(os.path.join(evaluate["out"], "evaluations", run), f"evaluations/{r.study}/{run}"),
                     (os.path.join(evaluate["out"], "record.json"), f"metrics/{r.study}/{run}.json")],
    }  # fmt: skip

    def place(stage: str) -> None:  # fresh copies: new files for DVC to hash and cache
        for src, rel in outs[stage]:
            dst = os.path.join(tree, rel)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            elif os.path.exists(dst):
                os.remove(dst)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, dst)

    dvc = [sys.executable, "-m", "dvc"]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    log = os.path.join(r.work, "dvc.log")

    failed: dict[str, str] = {}

    def timed(*cmd: str) -> tuple[float, float] | None:
        wall, cpu, rc, _ = _spawn([*dvc, *cmd], cwd=tree, env=env, log=log)
        if rc != 0:
            with open(log) as f:
                failed[" ".join(cmd)] = f.read().strip().splitlines()[-1][:300]
            return None
        return wall, cpu

    up_to_date = {}
    for stage in ("train", "evaluate"):  # up to date: outputs committed to this tree's lock
        place(stage)
        up_to_date[stage] = timed("commit", "-f", "-q", names[stage]) is not None
    results: dict[str, list[tuple[float, float]]] = {}

    def record(name: str, value) -> None:
        if value is not None:
            results.setdefault(name, []).append(value)

    for _ in range(repeats):
        record("`dvc --version` (DVC's process start)", timed("--version"))
        for stage in ("train", "evaluate"):
            n = names[stage]
            record(f"`dvc status {stage}_…` (one stage)", timed("status", n))
            if up_to_date[stage]:
                record(f"`dvc repro -s {stage}_…` (up to date: checks, skips)",
                       timed("repro", "-s", n))  # fmt: skip
                place(stage)
                record(f"`dvc commit -f {stage}_…` (fresh outputs: hash, cache, dvc.lock)",
                       timed("commit", "-f", "-q", n))  # fmt: skip
        record("`dvc status` (every stage)", timed("status"))
    import subprocess

    listed = subprocess.run([*dvc, "stage", "list", "--all"], cwd=tree, env=env,
                            capture_output=True, text=True).stdout  # fmt: skip
    stages = sum(1 for line in listed.splitlines() if line.strip())
    out = {k: (_median([w for w, _ in v]), _median([c for _, c in v])) for k, v in results.items()}
    return out, stages, failed


def _lock_yaml(path: str) -> str:
    """What DVC's YAML library costs on ``dvc.lock``: every command loads it, and ``dvc repro``
    loads it for update (round trip) and dumps it after each stage it runs."""
    code = r"""
import io, sys, time
from ruamel.yaml import YAML
text = open(sys.argv[1]).read()
def cpu(f):
    c = time.process_time(); r = f(); return time.process_time() - c, r
try:
    import _ruamel_yaml  # the C parser (ruamel.yaml.clib)
    clib = "installed"
except ImportError:
    clib = "not installed: pure-Python parser"
safe, data = cpu(lambda: YAML(typ="safe").load(text))
rt, doc = cpu(lambda: YAML(typ="rt").load(text))
dump, _ = cpu(lambda: YAML().dump(doc, io.StringIO()))
print(f"dvc.lock: {len(text) // 1024} KiB, {len(data.get('stages', {}))} stages; ruamel.yaml, "
      f"CPU s: load {safe:.2f}, load for update (round trip) {rt:.2f}, dump {dump:.2f} "
      f"(ruamel.yaml.clib {clib})")
"""
    import subprocess

    res = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    return (res.stdout or res.stderr).strip()


def _compare(before: str, after: str, tree: str) -> list[str]:
    """Differences between two stage runs' outputs (directories; empty: identical)."""
    code = r"""
import json, os, sys, torch
a, b = sys.argv[1], sys.argv[2]
SKIP = ("timings.json", "log.txt")  # the harness's files
bad = []
def same(x, y, where):
    if isinstance(x, torch.Tensor):
        if not (isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape
                and torch.equal(x, y)):
            bad.append(where)
    elif isinstance(x, dict):
        if not isinstance(y, dict):
            bad.append(where); return
        for k in set(x) | set(y):
            if k == "config":  # the resolved spec: compared as the run's config.json below
                continue
            if k not in x or k not in y:
                bad.append(f"{where}.{k} (only in one)"); continue
            same(x[k], y[k], f"{where}.{k}")
    elif isinstance(x, (list, tuple)):
        if len(x) != len(y):
            bad.append(where); return
        for i, (p, q) in enumerate(zip(x, y)):
            same(p, q, f"{where}[{i}]")
    elif x != y and not (x != x and y != y):
        bad.append(where)
for root, _, files in os.walk(a):
    for name in files:
        pa = os.path.join(root, name)
        rel = os.path.relpath(pa, a)
        if rel in SKIP:
            continue
        pb = os.path.join(b, rel)
        if not os.path.exists(pb):
            bad.append(f"{rel} missing"); continue
        if name.endswith(".pt"):
            same(torch.load(pa, weights_only=True), torch.load(pb, weights_only=True), rel)
        elif name.endswith(".png") or name.endswith(".tsv") or name in ("log.csv",):
            if open(pa, "rb").read() != open(pb, "rb").read():
                bad.append(rel)
        elif name.endswith(".json"):
            x, y = json.load(open(pa)), json.load(open(pb))
            if name == "record.json":
                for r in (x, y):  # paths differ by the temporary directory
                    r.pop("grids", None); r.pop("attention_figure", None)
                    r["image_sha256"] = sorted(r.get("image_sha256", {}).values())
            keys = set(x) ^ set(y)
            for k in keys:
                x.pop(k, None); y.pop(k, None)
            if keys:
                print(f"note: {rel}: keys in one tree only (not compared): {sorted(keys)}")
            same(x, y, rel)
for root, _, files in os.walk(b):
    for name in files:
        rel = os.path.relpath(os.path.join(root, name), b)
        if rel not in SKIP and not os.path.exists(os.path.join(a, rel)):
            bad.append(f"{rel} only after")
print("\n".join(bad))
sys.exit(1 if bad else 0)
"""
    import subprocess

    res = subprocess.run([sys.executable, "-c", code, before, after], cwd="/",
                         env={**os.environ, "PYTHONPATH": tree}, capture_output=True, text=True)  # fmt: skip
    lines = [x for x in res.stdout.splitlines() if x.strip()]
    if res.returncode not in (0, 1):
        lines.append(f"comparison failed: {res.stderr[-1000:]}")
    return lines


def main() -> None:
    import argparse
    import shutil
    import subprocess
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="HEAD", help="git revision (default: %(default)s)")
    parser.add_argument("--after", default=None, help="code directory (default: this tree)")
    parser.add_argument("--run", default="lucic-fashion_mnist-ns-0")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of the breakdown runs (0: params' pipeline.threads)")  # fmt: skip
    parser.add_argument("--no-threads", action="store_true", help="skip the 1 vs 2 threads runs")
    parser.add_argument("--thread-repeats", type=int, default=1, help="repeats of those runs")
    parser.add_argument("--no-dvc", action="store_true", help="skip DVC's own work")
    parser.add_argument("--dvc-rev", default=None,
                        help="revision whose dvc.yaml/dvc.lock DVC works on (default: --before)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--timings", help=argparse.SUPPRESS)
    parser.add_argument("argv", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.tree, args.argv, args.timings, args.threads)

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    after = os.path.abspath(args.after or repo)
    dataset = args.run.rsplit("-", 3)[1]
    data = {
        "data": os.path.join(repo, f"data/prepared/{dataset}.npz"),
        "weights": os.path.join(repo, f"models/classifier-{dataset}.pt"),
        "reference": os.path.join(repo, f"refstats/{dataset}.npz"),
    }
    for path in data.values():
        if not os.path.exists(path):
            raise SystemExit(f"{path} not found: `dvc repro` its stage (or `dvc pull`) first")
    work = tempfile.mkdtemp(prefix="stage_overhead-")
    before = _worktree(repo, args.before, os.path.join(work, "before"))
    runner = Runner(args, work, data)
    try:
        rev = subprocess.run(["git", "-C", before, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()  # fmt: skip
        print(f"before: {args.before} ({rev}); after: {after}; run {args.run}; "
              f"{args.repeats} repeats; breakdown with "
              f"{args.threads or 'params'} torch thread(s); {os.cpu_count()} CPUs; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        start = _interpreter_start(args.repeats)
        runs: dict[str, dict[str, list[dict]]] = {"before": {"train": [], "evaluate": []},
                                                  "after": {"train": [], "evaluate": []}}  # fmt: skip
        trees = {"before": before, "after": after}
        for i in range(args.repeats):
            for label in ("before", "after") if i % 2 == 0 else ("after", "before"):
                t = runner.stage("train", trees[label], threads=args.threads, tag=label)
                e = runner.stage("evaluate", trees[label], threads=args.threads, tag=label,
                                 run_dir=t["run_dir"])  # fmt: skip
                runs[label]["train"].append(t)
                runs[label]["evaluate"].append(e)
                print(f"  repeat {i + 1} {label}: train {t['total'][0]:.1f} s "
                      f"({t['total'][1]:.1f} s CPU), evaluate {e['total'][0]:.1f} s "
                      f"({e['total'][1]:.1f} s CPU)", flush=True)  # fmt: skip
        print(f"\n`python -c pass` (interpreter start, this venv): {start[0]:.3f} s wall, "
              f"{start[1]:.3f} s CPU")  # fmt: skip
        for stage in ("train", "evaluate"):
            b, a = runs["before"][stage], runs["after"][stage]
            _print_breakdown(f"{stage} stage ({args.run})", b, a, steps=stage == "train")
            _print_imports(f"{stage} stage", b, a)
            for label, rs in (("before", b), ("after", a)):
                cost, cached = _compile_cost(rs[0]["ganbench_files"])
                print(f"{label}: compiling the {len(rs[0]['ganbench_files'])} ganbench modules "
                      f"the stage loads: {cost:.3f} s CPU, paid per run unless cached "
                      f"({cached} have a bytecode cache; "
                      f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})")  # fmt: skip
        print("\n### every stage script's import lines, alone in a fresh interpreter\n")
        print("| stage | before wall s | after wall s | before CPU s | after CPU s "
              "| before/after (CPU) |\n|---|---:|---:|---:|---:|---:|")  # fmt: skip
        for name, res in _stage_imports(trees, args.repeats).items():
            if res["before"] is None or res["after"] is None:
                print(f"| {name} | (fails to import in a tree) | | | | |")
                continue
            (bw, bc), (aw, ac) = res["before"], res["after"]
            print(f"| {name} | {bw:.2f} | {aw:.2f} | {bc:.2f} | {ac:.2f} | {_ratio(bc, ac)} |")
        same = []
        for stage in ("train", "evaluate"):
            b, a = runs["before"][stage][0], runs["after"][stage][0]
            same += _compare(b["out"], a["out"], after)
        print("\nbefore vs after outputs (checkpoint/snapshot tensors, run files, DVCLive files, "
              "record): " + ("identical" if not [s for s in same if not s.startswith("note")]
                             else "DIFFERENT"))  # fmt: skip
        for line in same:
            print(f"  {line}")

        if not args.no_threads:
            print("\n### torch threads (after tree)\n")
            print("| threads | train: loop steps/s | train: loop CPU/wall | train: whole wall s "
                  "| train CPU s | evaluate: scoring wall s | evaluate whole wall s "
                  "| evaluate CPU s |")  # fmt: skip
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            variants = [("1", 1, {}), ("2", 2, {}),
                        ("2, OMP_WAIT_POLICY=passive", 2, {"OMP_WAIT_POLICY": "passive"})]  # fmt: skip
            tr: dict[str, list[dict]] = {v[0]: [] for v in variants}
            ev: dict[str, list[dict]] = {v[0]: [] for v in variants}
            for i in range(args.thread_repeats):
                for name, n, env in variants if i % 2 == 0 else variants[::-1]:
                    t = runner.stage("train", after, threads=n, tag=f"threads{n}", env_extra=env)
                    e = runner.stage("evaluate", after, threads=n, tag=f"threads{n}",
                                     run_dir=t["run_dir"], env_extra=env)  # fmt: skip
                    tr[name].append(t)
                    ev[name].append(e)
            for name, _, _ in variants:
                rate = [r["steps"] / r["parts"][TRAIN_LOOP][0] for r in tr[name]]
                use = [r["parts"][TRAIN_LOOP][1] / r["parts"][TRAIN_LOOP][0] for r in tr[name]]
                print(f"| {name} | {_median(rate):.1f} | {_median(use):.2f} "
                      f"| {_median([r['total'][0] for r in tr[name]]):.1f} "
                      f"| {_median([r['total'][1] for r in tr[name]]):.1f} "
                      f"| {_median([r['parts'][SCORING][0] for r in ev[name]]):.1f} "
                      f"| {_median([r['total'][0] for r in ev[name]]):.1f} "
                      f"| {_median([r['total'][1] for r in ev[name]]):.1f} |")  # fmt: skip
            diff = _compare(tr["1"][0]["out"], tr["2"][0]["out"], after)
            print("\n1 vs 2 threads, trained weights: "
                  + ("identical" if not diff else f"DIFFERENT ({len(diff)} items, e.g. {diff[0]})"))  # fmt: skip
            diff = _compare(tr["2"][0]["out"], tr["2, OMP_WAIT_POLICY=passive"][0]["out"], after)
            print("2 threads, OMP_WAIT_POLICY active vs passive, trained weights: "
                  + ("identical" if not diff else f"DIFFERENT ({len(diff)} items, e.g. {diff[0]})"))  # fmt: skip

        if not args.no_dvc:
            rev = args.dvc_rev or args.before
            print(f"\n### DVC's own work per stage (a throwaway worktree of {rev})\n")
            tree = before if rev == args.before else _worktree(repo, rev, os.path.join(work, "dvc"))
            costs, stages, failed = _dvc_costs(runner, tree, runs["before"]["train"][0],
                                               runs["before"]["evaluate"][0], args.repeats)  # fmt: skip
            print("| command | wall s | CPU s |\n|---|---:|---:|")
            for name, (w, c) in costs.items():
                print(f"| {name} | {w:.2f} | {c:.2f} |")
            if "`dvc status` (every stage)" in costs and stages:
                w, c = costs["`dvc status` (every stage)"]
                print(f"| `dvc status`, per stage ({stages} stages) | {w / stages:.3f} "
                      f"| {c / stages:.3f} |")  # fmt: skip
            for cmd, why in failed.items():
                print(f"not timed: `dvc {cmd}` failed: {why}")
            print(_lock_yaml(os.path.join(tree, "dvc.lock")))
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            for name in ("before", "dvc"):
                if os.path.isdir(os.path.join(work, name)):
                    subprocess.run(["git", "-C", repo, "worktree", "remove", "--force",
                                    os.path.join(work, name)], capture_output=True)  # fmt: skip
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
