"""Evaluate one run: every checkpoint, for G and (when the run keeps one) its EMA; then, at the
best checkpoint of the headline generator, the truncation sweep, the sample grids and the
attention-map figure. The record's format is the one every report reads (ganbench.reporting).

Standing BatchNorm statistics are re-estimated for every generator scored (Brock et al. 2019,
app. C): with TF's decay 0.999 a short run's running averages would still hold their initial
values. The best checkpoint (lowest FID) is the run's result, as in Lucic et al. 2018.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ganbench.config import Evaluation, Figures
from ganbench.errors import UserError
from ganbench.evaluation.samples import (
    LabelledGenerator,
    latent_stream,
    sample_grid,
    save_attention_figure,
    write_grid_png,
)
from ganbench.io import read_json, sha256_file
from ganbench.metrics.evaluate import NonFiniteSamplesError, Reference, protocol, score_generator
from ganbench.metrics.features import FeatureExtractor
from ganbench.models.attention import SelfAttention
from ganbench.models.resnet import count_parameters
from ganbench.plan import RunSpec, build_networks
from ganbench.record import RunRecord
from ganbench.training import checkpoint as ckpt

GENERATORS = ("raw", "ema")  # the checkpoint's G and its EMA (state keys G, G_ema)


def load_generators(path: Path, device: torch.device) -> tuple[RunSpec, int, dict[str, nn.Module]]:
    """(run, step, {"raw": G, "ema": G_ema}) from an evaluation checkpoint (weights_only load);
    ``ema`` only when the run keeps one."""
    state = ckpt.load_checkpoint(path)
    spec = RunSpec.from_dict(state["config"])
    generators = {}
    for name, key in zip(GENERATORS, ("G", "G_ema"), strict=True):
        if key not in state:
            continue
        G, _ = build_networks(spec)
        try:
            G.load_state_dict(state[key])
        except RuntimeError as err:
            raise UserError(
                f"{path}: '{key}' does not fit the run's architecture ({err})"
            ) from None
        generators[name] = G.to(device).eval()
    return spec, int(state["step"]), generators


def _score(G, spec: RunSpec, evaluation: Evaluation, psi, extractor, reference, device) -> dict:
    try:
        scores = score_generator(
            LabelledGenerator(G, spec.num_classes),
            latent_stream(spec.recipe.training.latent, spec.num_classes, psi),
            spec.z_dim,
            extractor,
            reference,
            evaluation,
            device,
        )
    except NonFiniteSamplesError:
        return {"status": "nonfinite"}
    return {"status": "ok", **scores}


def evaluate_run(
    run_dir: str | Path,
    *,
    extractor: FeatureExtractor,
    reference: Reference,
    evaluation: Evaluation,
    figures: Figures,
    device: torch.device,
    out_dir: str | Path,
) -> dict:
    """Score every checkpoint of the run in ``run_dir``; figures of the best go to ``out_dir``."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    status_path = run_dir / "status.json"
    if not status_path.is_file():
        raise UserError(
            f"{status_path} not found: the run has not finished training; run its train stage first"
        )
    status = read_json(status_path)
    spec = ckpt.read_config(run_dir)
    t = spec.recipe.training
    headline = "ema" if t.ema_decay else "raw"
    rows, best, best_G = [], None, None
    for step, path in ckpt.list_checkpoints(run_dir):
        _, _, generators = load_generators(path, device)
        row = {"step": step}
        for name in GENERATORS:
            G = generators.get(name)
            row[name] = None if G is None else _score(
                G, spec, evaluation, None, extractor, reference, device
            )  # fmt: skip
        rows.append(row)
        scores = row[headline]
        if scores and scores["status"] == "ok" and (best is None or scores["fid"] < best["fid"]):
            best = {"step": step, **{k: v for k, v in scores.items() if k != "status"}}
            best_G = generators[headline]
    record_status = status["status"]
    if record_status == "ok" and best is None:
        record_status = "failed"
    G_net, D_net = build_networks(spec)
    record = {
        "run": spec.name,
        "study": spec.study,
        "dataset": spec.dataset,
        "variant": spec.variant,
        "seed": spec.seed,
        "search": spec.search,
        "status": record_status,
        "diverged_at_step": status.get("diverged_at_step"),
        "reason": None if record_status != "failed" else "no checkpoint gave finite samples",
        "recipe": spec.training_recipe(),
        "params": {"G": count_parameters(G_net), "D": count_parameters(D_net)},
        "protocol": {
            **protocol(reference, evaluation, device),
            "steps": t.steps,
            "steps_trained": status.get("steps_trained"),
            "batch_size": t.batch_size,
            "train_device": status.get("device"),
        },
        "generator": headline,
        "checkpoints": rows,
        "best": best,
        "truncation": [],
        "grids": {},
        "attention_figure": None,
        "image_sha256": {},  # every image the record names: the report checks what it copies
    }
    if best_G is not None:
        _best_checkpoint_extras(record, best_G, spec, evaluation, figures, extractor, reference, device, out_dir)  # fmt: skip
    RunRecord.model_validate(record)  # the schema every report reads (a failure here is a bug)
    return record


def _best_checkpoint_extras(record, G, spec, evaluation, figures, extractor, reference, device, out_dir):  # fmt: skip
    """Truncation sweep, sample grids and the attention figure of the best generator."""
    if evaluation.truncation:
        for psi in [None, *sorted(set(evaluation.truncation), reverse=True)]:
            scores = _score(G, spec, evaluation, psi, extractor, reference, device)
            record["truncation"].append({"psi": psi, **scores})
    for psi in [None, *figures.grid_truncation]:
        key = "none" if psi is None else f"{psi:g}"
        path = out_dir / ("samples.png" if psi is None else f"samples_psi{psi:g}.png")
        grid = sample_grid(G, spec, evaluation, figures.grid_size, psi, device)
        write_grid_png(path, grid, nrow=figures.grid_size)
        record["grids"][key] = str(path)
    if any(isinstance(m, SelfAttention) for m in G.modules()):
        path = out_dir / "attention.png"
        save_attention_figure(path, G, spec, evaluation, figures.attention_queries, device)
        record["attention_figure"] = str(path)
    record["image_sha256"] = {
        p: sha256_file(p) for p in [*record["grids"].values(), record["attention_figure"]] if p
    }
