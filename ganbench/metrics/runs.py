"""Evaluate every checkpoint of one training run and build its metric record."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from ganbench.config import EvaluateConfig, RunConfig
from ganbench.errors import UserError
from ganbench.io import atomic_path, read_json
from ganbench.losses import LOSSES
from ganbench.metrics.evaluate import (
    NonFiniteSamplesError,
    Reference,
    protocol,
    score_generator,
    seeded_latent,
)
from ganbench.metrics.features import FeatureExtractor
from ganbench.training import checkpoint as ckpt
from ganbench.training.loop import build_networks
from ganbench.training.sampling import LATENTS, standing_statistics, to_uint8


def load_generator(path: Path, device: torch.device) -> tuple[nn.Module, RunConfig, int]:
    """Rebuild G from an evaluation checkpoint (weights_only load); returns (G, config, step)."""
    state = ckpt.load_checkpoint(path)
    cfg = RunConfig.from_dict(state["config"])
    objective = LOSSES.get(cfg.model)(cfg.hparams)
    G, _ = build_networks(cfg, objective, tuple(state["image_shape"]))
    G.load_state_dict(state["G"])
    return G.to(device), cfg, int(state["step"])


def _latent(cfg: RunConfig):
    return LATENTS.get(LOSSES.get(cfg.model).latent)


def evaluate_run(
    run_dir: str | Path,
    *,
    extractor: FeatureExtractor,
    reference: Reference,
    cfg: EvaluateConfig,
    device: torch.device,
) -> tuple[dict, Path | None]:
    """Score every checkpoint; returns the metric record and the best checkpoint's path."""
    run_dir = Path(run_dir)
    status_path = run_dir / "status.json"
    if not status_path.is_file():
        raise UserError(
            f"{status_path} not found: the run has not finished training; run its train stage first"
        )
    status = read_json(status_path)
    run_cfg = RunConfig.from_dict(read_json(run_dir / "config.json"))
    rows, best_path = [], None
    for step, path in ckpt.list_checkpoints(run_dir):
        G, ckpt_cfg, _ = load_generator(path, device)
        try:
            scores = score_generator(
                G, _latent(ckpt_cfg), ckpt_cfg.train.z_dim, extractor, reference, cfg, device
            )
        except NonFiniteSamplesError:
            rows.append({"step": step, "status": "nonfinite"})
            continue
        rows.append({"step": step, "status": "ok", **scores})
    scored = [r for r in rows if r["status"] == "ok"]
    best = min(scored, key=lambda r: r["fid"]) if scored else None
    if best is not None:
        best_path = ckpt.checkpoint_path(run_dir, best["step"])
    record_status = status["status"]
    if record_status == "ok" and best is None:
        record_status = "failed"
    record = {
        "run": run_cfg.name,
        "study": run_cfg.study,
        "dataset": run_cfg.dataset,
        "model": run_cfg.model,
        "seed": run_cfg.seed,
        "status": record_status,
        "diverged_at_step": status.get("diverged_at_step"),
        "reason": None if record_status != "failed" else "no checkpoint gave finite samples",
        "hparams": dataclasses.asdict(run_cfg.hparams),
        "protocol": {
            **protocol(reference, cfg, device),
            "steps": run_cfg.train.steps,
            "steps_trained": status.get("steps_trained"),
            "width": run_cfg.train.width,
            "batch_size": run_cfg.train.batch_size,
            "train_device": status.get("device"),
        },
        "best": None if best is None else {k: v for k, v in best.items() if k != "status"},
        "checkpoints": rows,
    }
    return record, best_path


@torch.no_grad()
def save_sample_grid(
    path: str | Path, checkpoint: Path, cfg: EvaluateConfig, device: torch.device
) -> None:
    """A grid_size x grid_size PNG of samples from ``checkpoint`` (standing statistics, eval mode)."""
    G, run_cfg, _ = load_generator(checkpoint, device)
    sample, z_dim = _latent(run_cfg), run_cfg.train.z_dim
    standing_statistics(
        G,
        seeded_latent(sample, z_dim, cfg.seed + 1, device),
        batches=cfg.standing_stats_batches,
        batch_size=cfg.standing_stats_batch_size,
    )
    images = to_uint8(G(seeded_latent(sample, z_dim, cfg.seed, device)(cfg.grid_size**2))).cpu()
    write_grid_png(path, images, nrow=cfg.grid_size)


def write_grid_png(path: str | Path, images: torch.Tensor, *, nrow: int, padding: int = 2) -> None:
    """uint8 (N, C, H, W) -> one PNG with ``nrow`` images per row, ``padding`` black pixels apart."""
    from PIL import Image

    n, c, h, w = images.shape
    rows = -(-n // nrow)
    grid = torch.zeros(
        c, padding + rows * (h + padding), padding + nrow * (w + padding), dtype=torch.uint8
    )
    for i in range(n):
        r, k = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, y : y + h, x : x + w] = images[i]
    array = grid.permute(1, 2, 0).numpy()
    image = Image.fromarray(array[..., 0] if c == 1 else array)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
