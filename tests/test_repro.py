"""The parallel runner (ganbench/repro.py): which stages it plans, the order it keeps, what a
failure stops, and one real DVC repository run with two stages at once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from ganbench import repro
from ganbench.repro import Ran, dvc_run_one, main, make_plan, next_batch, run_plan, stage_cost

# prepare -> {train@a, train@b} -> report; other -> nothing
DEPS = {
    "prepare": set(),
    "train@a": {"prepare"},
    "train@b": {"prepare"},
    "report": {"train@a", "train@b"},
    "other": set(),
}


def test_plan_takes_changed_stages_and_everything_downstream():
    plan = make_plan(DEPS, ["train@a"])
    assert plan.stages == ["train@a", "report"]
    assert plan.waits_for == {"train@a": set(), "report": {"train@a"}}  # train@b is up to date


def test_plan_stays_inside_the_targets_upstream():
    assert make_plan(DEPS, ["prepare", "other"], ["train@b"]).stages == ["prepare", "train@b"]
    assert make_plan(DEPS, ["other"], ["report"]).stages == []


def test_plan_orders_every_stage_after_what_it_reads():
    plan = make_plan(DEPS, ["prepare", "other"])
    pos = {s: i for i, s in enumerate(plan.stages)}
    assert set(pos) == set(DEPS)
    assert all(pos[up] < pos[s] for s, ups in DEPS.items() for up in ups)


def test_priority_is_the_critical_path_of_stage_costs():
    plan = make_plan(DEPS, ["prepare", "other"])
    assert stage_cost("train@a") == 10.0 and stage_cost("report") == 1.0
    assert plan.priority["report"] == 1.0
    assert plan.priority["train@a"] == 11.0
    assert plan.priority["prepare"] == 12.0
    assert plan.priority["other"] == 1.0


class FakeStages:
    """``run_one`` for run_plan: each stage of a batch sleeps and records its start and end;
    the stages in ``fail`` fail (and end their batch)."""

    def __init__(self, fail=()):
        self.fail, self.times, self.batches, self.lock = set(fail), {}, [], threading.Lock()

    def __call__(self, batch):
        results = []
        with self.lock:
            self.batches.append(list(batch))
        for stage in batch:
            start = time.monotonic()
            time.sleep(0.05)
            with self.lock:
                self.times[stage] = (start, time.monotonic())
            bad = stage in self.fail
            results.append(Ran(stage, 1 if bad else 0, 0.05, "boom" if bad else "ok"))
            if bad:
                break
        return results


def test_a_batch_is_a_chain_that_loses_no_parallelism():
    plan = make_plan(DEPS, ["prepare", "other"])
    todo = list(plan.stages)
    assert next_batch(plan, todo, set(), "prepare") == ["prepare"]  # it unblocks two trains
    assert next_batch(plan, todo, {"prepare", "train@b"}, "train@a") == ["train@a", "report"]
    assert next_batch(plan, todo, {"prepare"}, "train@a") == ["train@a"]  # report waits for b
    chain = {
        "search": set(),
        "score": {"search"},
        "select": {"score"},
        "a": {"select"},
        "b": {"select"},
    }
    plan = make_plan(chain, ["search"])
    assert next_batch(plan, list(plan.stages), set(), "search") == ["search", "score", "select"]


def test_run_plan_keeps_dependencies_and_runs_independent_stages_at_once():
    fake = FakeStages()
    failed, not_run = run_plan(make_plan(DEPS, ["prepare", "other"]), 2, fake, log=lambda m: None)
    assert failed == [] and not_run == []
    t = fake.times
    assert set(t) == set(DEPS)
    for stage, ups in DEPS.items():
        assert all(t[up][1] <= t[stage][0] for up in ups), stage
    a, b = t["train@a"], t["train@b"]
    assert a[0] < b[1] and b[0] < a[1]  # the two trains overlapped


def test_run_plan_with_one_job_runs_one_stage_at_a_time():
    fake = FakeStages()
    run_plan(make_plan(DEPS, ["prepare", "other"]), 1, fake, log=lambda m: None)
    spans = sorted(fake.times.values())
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))


def test_a_failed_stage_stops_new_starts_and_its_dependents():
    fake = FakeStages(fail={"prepare"})
    lines = []
    failed, not_run = run_plan(make_plan(DEPS, ["prepare"]), 1, fake, log=lines.append)
    assert failed == ["prepare"]
    assert sorted(not_run) == ["report", "train@a", "train@b"]
    assert set(fake.times) == {"prepare"}  # its batch's other stages were not reached
    assert any("FAILED 'prepare' (exit 1)" in line and "boom" in line for line in lines)


def _dvc_repo(tmp_path: Path, stages: dict) -> Path:
    if shutil.which("dvc") is None:
        pytest.skip("dvc not on PATH")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    return tmp_path


def _stamp(name: str, sleep: float, deps: list[str] = (), fail: bool = False) -> dict:
    """A stage that sleeps, then writes ``<name>.txt`` with its start and end time."""
    body = (
        f"import time; s = time.time(); time.sleep({sleep}); "
        f"{'raise SystemExit(3); ' if fail else ''}"
        f"open('{name}.txt', 'w').write(f'{{s}} {{time.time()}}')"
    )
    return {"cmd": f'python -c "{body}"', "deps": list(deps), "outs": [f"{name}.txt"]}


@pytest.mark.slow
def test_runs_a_dvc_pipeline_two_stages_at_once_and_records_them(tmp_path, monkeypatch, capsys):
    repo = _dvc_repo(
        tmp_path,
        {
            "base": _stamp("base", 0.1),
            "a": _stamp("a", 2.0, ["base.txt"]),
            "b": _stamp("b", 2.0, ["base.txt"]),
            "top": _stamp("top", 0.1, ["a.txt", "b.txt"]),
        },
    )
    monkeypatch.chdir(repo)
    assert main(["--jobs", "2"]) == 0
    span = {
        n: tuple(map(float, (repo / f"{n}.txt").read_text().split()))
        for n in ["base", "a", "b", "top"]
    }
    assert span["base"][1] <= min(span["a"][0], span["b"][0])
    assert max(span["a"][1], span["b"][1]) <= span["top"][0]
    assert span["a"][0] < span["b"][1] and span["b"][0] < span["a"][1]  # a and b overlapped
    assert set(yaml.safe_load((repo / "dvc.lock").read_text())["stages"]) == {
        "base",
        "a",
        "b",
        "top",
    }
    status = subprocess.run(["dvc", "status", "-q"], cwd=repo)
    assert status.returncode == 0  # everything up to date, as after `dvc repro`
    capsys.readouterr()
    assert main(["--jobs", "2"]) == 0
    assert "0 stage(s) to check" in capsys.readouterr().out


@pytest.mark.slow
def test_a_failing_dvc_stage_exits_1_and_runs_nothing_downstream(tmp_path, monkeypatch, capsys):
    repo = _dvc_repo(
        tmp_path,
        {"bad": _stamp("bad", 0.1, fail=True), "after": _stamp("after", 0.1, ["bad.txt"])},
    )
    monkeypatch.chdir(repo)
    assert main(["--jobs", "2"]) == 1
    captured = capsys.readouterr()
    assert "FAILED 'bad'" in captured.out
    assert "stage(s) failed: bad; 1 stage(s) not started" in captured.err
    assert not (repo / "after.txt").exists()


def test_unknown_target_is_named(tmp_path, monkeypatch):
    repo = _dvc_repo(tmp_path, {"base": _stamp("base", 0.0)})
    monkeypatch.chdir(repo)
    with pytest.raises(SystemExit, match=r"unknown stage\(s\) \['nope'\]"):
        main(["--jobs", "1", "nope"])


@pytest.mark.slow
def test_a_stage_waits_for_the_repo_lock_another_process_holds(tmp_path, monkeypatch):
    """DVC gives up on its repo lock after 3 s by default; a stage finishing while another
    process commits (holds the lock) must wait for it, not fail after its command ran."""
    import zc.lockfile

    body = "import time; open('started', 'a').write('1'); time.sleep(1); open('out.txt', 'w').write('x')"
    repo = _dvc_repo(tmp_path, {"one": {"cmd": f'python -c "{body}"', "outs": ["out.txt"]}})
    monkeypatch.chdir(repo)
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("rc", main(["--jobs", "1"])))
    runner.start()
    deadline = time.monotonic() + 60
    while not (repo / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    held = zc.lockfile.LockFile(str(repo / ".dvc" / "tmp" / "lock"))  # DVC released it to run
    time.sleep(5)
    held.close()
    runner.join(60)
    assert result == {"rc": 0}
    assert (repo / "started").read_text() == "1"  # its command ran once: not failed and re-run
    assert (repo / "out.txt").read_text() == "x"
    assert "one" in yaml.safe_load((repo / "dvc.lock").read_text())["stages"]


def _stage_times(tmp_path: Path, log: str) -> str:
    path = tmp_path / "repro.log"
    path.write_text(log)
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "stage_times.py"
    return subprocess.run(
        [sys.executable, str(script), str(path)], capture_output=True, text=True, check=True
    ).stdout


def test_stage_times_reads_the_runners_done_lines(tmp_path):
    log = (
        "100.0 2 stage(s) to check, 2 at once\n"
        "100.0 Running stage 'train_lucic@lucic-x-ns-0'\n"
        "100.0 Running stage 'train_sagan@sagan-x-b-0'\n"
        "130.0 done 'train_lucic@lucic-x-ns-0' in 30.0 s\n"
        "ok after 800 steps\n"
        "140.5 done 'train_sagan@sagan-x-b-0' in 40.5 s\n"
    )
    table = _stage_times(tmp_path, log)
    assert "| lucic | 1 | 30 s (0.5 min) |" in table
    assert "| sagan | 1 | 40 s (0.7 min) |" in table  # 40.5 s, rounded
    assert "| all stages | 2 | 70 s (1.2 min) |" in table
    assert "| wall time, first to last line | | 40 s (0.7 min) |" in table


def test_stage_times_reads_a_serial_dvc_repro_log(tmp_path):
    log = (
        "10.0 Running stage 'prepare@fashion_mnist'\n"
        "12.0 Running stage 'evaluate_biggan@biggan-x-b-0'\n"
        "20.0 Updating lock file 'dvc.lock'\n"
    )
    table = _stage_times(tmp_path, log)
    assert "| shared data (prepare, classifier, refstats) | 1 | 2 s (0.0 min) |" in table
    assert "| biggan | 1 | 8 s (0.1 min) |" in table
    assert "| wall time, first to last line | | 10 s (0.2 min) |" in table


def test_jobs_counts_batches_not_the_stages_in_them():
    """A worker busy with a chain of stages is one job: the other worker starts meanwhile."""
    deps = {"a1": set(), "a2": {"a1"}, "a3": {"a2"}, "b": set()}
    fake = FakeStages()
    run_plan(make_plan(deps, ["a1", "b"]), 2, fake, log=lambda m: None)
    assert sorted(map(tuple, fake.batches)) == [("a1", "a2", "a3"), ("b",)]
    chain, b = fake.times["a1"], fake.times["b"]
    assert b[0] < chain[1]  # b started while the chain ran


def _fake_dvc(tmp_path, monkeypatch, script: str) -> None:
    """A ``dvc`` on PATH that prints ``script``'s lines and exits with its last line's status."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text("#!/bin/sh\n" + script)
    (bin_dir / "dvc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


def test_a_batch_stage_dvc_names_no_line_for_is_done_when_dvc_succeeds(tmp_path, monkeypatch):
    """e.g. a frozen stage: DVC exits 0 without a 'Running stage' line for it."""
    _fake_dvc(tmp_path, monkeypatch, "echo \"Running stage 'a':\"\necho ok-a\nexit 0\n")
    results = dvc_run_one(["a", "b"])
    assert [(r.stage, r.rc) for r in results] == [("a", 0), ("b", 0)]
    assert results[0].output == "ok-a" and results[1].seconds == 0.0


def test_a_dvc_failure_before_any_stage_fails_the_batchs_first(tmp_path, monkeypatch):
    _fake_dvc(tmp_path, monkeypatch, "echo 'ERROR: bad dvc.yaml'\nexit 3\n")
    results = dvc_run_one(["a", "b"])
    assert [(r.stage, r.rc) for r in results] == [("a", 3)]
    assert "bad dvc.yaml" in results[0].output


@pytest.mark.parametrize(("threads", "expected"), [(0, 1), (1, None), (2, None)])
def test_default_jobs_is_cores_over_threads(threads, expected, tmp_path, monkeypatch):
    text = (Path(__file__).resolve().parents[1] / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text.replace("threads: 1 ", f"threads: {threads} ", 1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(repro, "_has_cuda", lambda: False)
    cores = os.cpu_count() or 1
    assert repro.default_jobs() == (expected or max(1, cores // threads))
    monkeypatch.setattr(repro, "_has_cuda", lambda: True)
    assert repro.default_jobs() == 1  # device auto with a GPU: one stage at a time
