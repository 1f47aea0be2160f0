"""Calibrate a study's default recipe: train and score a few variants over a few seeds.

Each run's recipe is the study's recipe in params.yaml merged with the variant's overrides (as the
pipeline builds it), then the command line's overrides; it is trained with the train stage's
function and scored with the evaluate stage's, so the numbers are the pipeline's for that recipe.

    python benchmarks/calibrate.py lucic --variants ns,wgan --seeds 0,1,2 \\
        --set training.steps=1200 --set optimiser.lr_g=2e-4 --set optimiser.lr_d=2e-4 \\
        --variant-set wgan:objective.clip=0.05 --tag probe1

Prints, per run, the best FID, its step, the training wall and CPU seconds and the evaluation
wall seconds; per variant, the mean, std and coefficient of variation (std / mean) of the best
FID over the seeds. Writes <out>/<tag>/fid.csv (the FID of every checkpoint of every run: FID
against step) and <out>/<tag>/summary.json. ``--eval-seeds`` re-scores the best checkpoint of
every run with other evaluation seeds: the FID's own sampling noise at that ``num_fake``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

from ganbench.config import load_params
from ganbench.config.base import deep_merge
from ganbench.data import load_prepared
from ganbench.evaluation.runs import _score, evaluate_run, load_generators
from ganbench.metrics.evaluate import Reference
from ganbench.metrics.features import extractor_from_params
from ganbench.plan import spec_from_recipe
from ganbench.runtime import resolve_device
from ganbench.training import checkpoint as ckpt
from ganbench.training.launch import train_run


def _assignment(text: str) -> dict:
    """``a.b.c=value`` -> {"a": {"b": {"c": value}}}; the value is read as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--set {text!r}: expected key.path=value")
    node: object = yaml.safe_load(value)
    if isinstance(node, str):  # YAML 1.1 reads 2e-4 (no dot) as a string
        with contextlib.suppress(ValueError):
            node = float(node)
    for part in reversed(key.split(".")):
        node = {part: node}
    return node  # type: ignore[return-value]


def _ints(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s]


def recipe_for(params, study: str, variant: str, sets: list[str], variant_sets: list[str]) -> dict:
    recipe = params.study(study).recipe_for(variant, f"studies.{study}").model_dump()
    for text in sets:
        recipe = deep_merge(recipe, _assignment(text))
    for text in variant_sets:
        name, sep, rest = text.partition(":")
        if not sep:
            raise SystemExit(f"--variant-set {text!r}: expected variant:key.path=value")
        if name == variant:
            recipe = deep_merge(recipe, _assignment(rest))
    return recipe


def summarise(values: list[float]) -> dict:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"n": 0, "mean": None, "std": None, "cv": None}
    mean = statistics.fmean(finite)
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return {"n": len(finite), "mean": mean, "std": std, "cv": std / mean}


def save(out: Path, rows: list[dict], summary: dict) -> None:
    """fid.csv (FID of every checkpoint of every run) and summary.json, rewritten after each run
    so that a probe stopped part-way keeps what it measured."""
    if rows:
        with open(out / "fid.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    Path(out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("study")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--variants", default="", help="comma-separated (default: all of the study)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--dataset", default=None, help="default: the study's first")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--variant-set", dest="variant_sets", action="append", default=[],
                   metavar="VARIANT:KEY=VALUE")  # fmt: skip
    p.add_argument(
        "--eval-seeds", default="", help="extra evaluation seeds for the best checkpoint"
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="/tmp/calib")
    p.add_argument("--tag", default="probe")
    p.add_argument("--keep", action="store_true", help="keep the run directories")
    p.add_argument("--train-only", action="store_true", help="time training; no evaluation")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    params = load_params(args.params)
    study = params.study(args.study)
    dataset = args.dataset or study.datasets[0]
    variants = [v for v in args.variants.split(",") if v] or list(study.variants)
    seeds = _ints(args.seeds)
    eval_seeds = _ints(args.eval_seeds)
    device = resolve_device(args.device)
    out = Path(args.out) / args.tag
    out.mkdir(parents=True, exist_ok=True)
    data = load_prepared(f"data/prepared/{dataset}.npz")
    images = torch.from_numpy(data.x_train)
    labels = torch.from_numpy(data.y_train)
    weights = f"models/classifier-{dataset}.pt"
    print("command:", " ".join(["python", "benchmarks/calibrate.py", *(argv or sys.argv[1:])]))

    rows, runs = [], []
    summary = {"command": sys.argv, "recipe_sets": args.sets, "variant_sets": args.variant_sets,
               "runs": runs, "variants": {}}  # fmt: skip
    for variant in variants:
        recipe = recipe_for(params, args.study, variant, args.sets, args.variant_sets)
        for seed in seeds:
            spec = spec_from_recipe(recipe, dataset, seed=seed, study=args.study, variant=variant)
            run_dir = out / "runs" / spec.name
            if run_dir.exists():
                shutil.rmtree(run_dir)
            t0, c0 = time.perf_counter(), time.process_time()
            result = train_run(spec, images, labels, run_dir, device=args.device, progress=False)
            train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - c0
            if args.train_only:
                steps = spec.recipe.training.steps
                print(
                    f"{variant:>9} seed {seed}: {result.status} train {train_wall:5.1f}s wall "
                    f"{train_cpu:5.1f}s cpu, {1000 * train_wall / steps:.1f} ms/step",
                    flush=True,
                )
                shutil.rmtree(run_dir, ignore_errors=True)
                continue
            # a fresh extractor and reference per run, as each evaluate stage loads its own
            t0 = time.perf_counter()
            extractor = extractor_from_params(params.features, trained_weights=weights,
                                              device=device)  # fmt: skip
            reference = Reference.load(f"refstats/{dataset}.npz")
            record = evaluate_run(
                run_dir, extractor=extractor, reference=reference,
                evaluation=spec.recipe.evaluation, figures=spec.recipe.figures,
                device=device, out_dir=out / "evaluations" / spec.name,
            )  # fmt: skip
            eval_wall = time.perf_counter() - t0
            head = record["generator"]
            for row in record["checkpoints"]:
                s = row[head] or {}
                rows.append({
                    "tag": args.tag, "variant": variant, "seed": seed, "step": row["step"],
                    "status": s.get("status"), "fid": s.get("fid"), "kid_mean": s.get("kid_mean"),
                })  # fmt: skip
            best = record["best"] or {}
            noise = []
            if eval_seeds and best:
                path = ckpt.checkpoint_path(run_dir, best["step"])
                _, _, gens = load_generators(path, device)
                for es in eval_seeds:
                    ev = spec.recipe.evaluation.model_copy(update={"seed": es})
                    sc = _score(gens[head], spec, ev, None, extractor, reference, device)
                    noise.append(sc.get("fid"))
            run = {
                "variant": variant, "seed": seed, "status": record["status"],
                "diverged_at_step": record["diverged_at_step"],
                "steps_trained": getattr(result, "steps_trained", None),
                "best_fid": best.get("fid"), "best_step": best.get("step"),
                "fids": [(r["step"], (r[head] or {}).get("fid")) for r in record["checkpoints"]],
                "train_wall_s": train_wall, "train_cpu_s": train_cpu, "eval_wall_s": eval_wall,
                "eval_seed_fids": noise,
            }  # fmt: skip
            runs.append(run)
            curve = " ".join(f"{s}:{'nan' if f is None else f'{f:.1f}'}" for s, f in run["fids"])
            bf = "nan" if run["best_fid"] is None else f"{run['best_fid']:.1f}"
            extra = f" eval-seed FIDs {[round(f, 1) for f in noise if f]}" if noise else ""
            print(
                f"{variant:>9} seed {seed}: {record['status']:<8} best FID {bf:>6} @ "
                f"{run['best_step']} | train {train_wall:5.1f}s wall {train_cpu:5.1f}s cpu | "
                f"eval {eval_wall:5.1f}s | {curve}{extra}",
                flush=True,
            )
            save(out, rows, summary)
            if not args.keep:
                shutil.rmtree(run_dir, ignore_errors=True)

    if args.train_only:
        return
    print("\nvariant    n  mean    std    CV    diverged  train_s  eval_s  | best FIDs")
    for variant in variants:
        vr = [r for r in runs if r["variant"] == variant]
        st = summarise([r["best_fid"] for r in vr])
        div = sum(r["status"] != "ok" for r in vr)
        tw = statistics.fmean(r["train_wall_s"] for r in vr)
        ew = statistics.fmean(r["eval_wall_s"] for r in vr)
        summary["variants"][variant] = {
            **st,
            "diverged": div,
            "train_wall_s": tw,
            "eval_wall_s": ew,
        }
        fids = " ".join("nan" if r["best_fid"] is None else f"{r['best_fid']:.1f}" for r in vr)
        if st["n"]:
            print(f"{variant:>9} {st['n']:2d} {st['mean']:6.1f} {st['std']:6.1f} {st['cv']:5.2f} "
                  f"{div:5d}     {tw:6.1f}  {ew:6.1f}  | {fids}")  # fmt: skip
        else:
            print(f"{variant:>9}  0   nan    nan   nan {div:5d}     {tw:6.1f}  {ew:6.1f}  | {fids}")
        noise = [
            summarise([r["best_fid"], *r["eval_seed_fids"]]) for r in vr if r["eval_seed_fids"]
        ]
        if noise:
            sd = statistics.fmean(n["std"] for n in noise if n["std"] is not None)
            print(
                f"{'':>9}    FID sampling noise (best checkpoint, std over {1 + len(eval_seeds)} eval seeds): {sd:.2f}"
            )
            summary["variants"][variant]["eval_noise_std"] = sd
    save(out, rows, summary)


if __name__ == "__main__":
    main()
