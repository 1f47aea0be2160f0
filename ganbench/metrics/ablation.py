"""Evaluate one SAGAN/BigGAN ablation run: every checkpoint for the raw G and its EMA, then a
truncation sweep, class-conditional grids and the attention-map figure at the best checkpoint.

Class-conditional sampling: the i-th sample of a stream has label ``i mod num_classes`` (balanced,
like the reference test split, and independent of the batch size); z ~ N(0, I), or truncated at
``psi`` (resample ``|z| > psi``, Brock et al. 2019). Standing BatchNorm statistics are re-estimated
for every generator scored, as in the Lucic evaluation.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ganbench.config import AblationEvaluate, AblationRunConfig
from ganbench.errors import UserError
from ganbench.io import atomic_path, read_json
from ganbench.metrics.evaluate import NonFiniteSamplesError, Reference, protocol, score_generator
from ganbench.metrics.features import FeatureExtractor
from ganbench.models.attention import SelfAttention
from ganbench.models.resnet import count_parameters
from ganbench.training import checkpoint as ckpt
from ganbench.training.ablation import build_ablation_networks
from ganbench.training.sampling import standing_statistics, to_uint8
from ganbench.training.truncation import truncated_normal


class LabelledGenerator(nn.Module):
    """Takes ``(N, z_dim + 1)``: z and, in the last column, the class label (ignored when G is
    unconditional), so the label-free scoring code can drive a conditional G."""

    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G = G
        self.conditional = G.cfg.num_classes > 0

    def forward(self, zy: Tensor) -> Tensor:
        y = zy[:, -1].long() if self.conditional else None
        return self.G(zy[:, :-1], y)


LATENT_BLOCK = 1024  # z is drawn in blocks of this many rows


def conditional_latent(num_classes: int, psi: float | None):
    """A latent sampler for :func:`~ganbench.metrics.evaluate.seeded_latent`: z (truncated at
    ``psi`` if given) with balanced labels appended; its own label counter.

    z is drawn in fixed blocks of :data:`LATENT_BLOCK` rows and handed out from a buffer: CPU
    ``randn`` does not give the same numbers when a stream is drawn in pieces of other sizes (it
    fills vectorised runs of 16), so the samples, and the scores, would depend on the batch size.
    """
    counter, buffer = [0], [torch.empty(0, 0)]

    def sample(n: int, z_dim: int, *, device="cpu", generator=None) -> Tensor:
        while buffer[0].shape[0] < n:
            block = truncated_normal(LATENT_BLOCK, z_dim, psi=psi, generator=generator)
            buffer[0] = torch.cat([buffer[0].reshape(-1, z_dim), block])
        z, buffer[0] = buffer[0][:n], buffer[0][n:]
        y = torch.arange(counter[0], counter[0] + n) % max(num_classes, 1)
        counter[0] += n
        return torch.cat([z, y[:, None].float()], dim=1).to(device)

    return sample


def load_ablation_checkpoint(
    path: Path, device: torch.device
) -> tuple[AblationRunConfig, int, nn.Module, nn.Module | None]:
    """(config, step, raw G, EMA G or None) from an evaluation checkpoint (weights_only load)."""
    state = ckpt.load_checkpoint(path)
    cfg = AblationRunConfig.from_dict(state["config"])
    generators = []
    for key in ("G", "G_ema"):
        if key not in state:
            generators.append(None)
            continue
        G, _ = build_ablation_networks(cfg)
        try:
            G.load_state_dict(state[key])
        except RuntimeError as err:
            raise UserError(
                f"{path}: '{key}' does not fit the run's architecture ({err})"
            ) from None
        generators.append(G.to(device).eval())
    return cfg, int(state["step"]), generators[0], generators[1]


def _score(G, cfg, run_cfg, psi, extractor, reference, device) -> dict:
    try:
        scores = score_generator(
            LabelledGenerator(G),
            conditional_latent(G.cfg.num_classes, psi),
            run_cfg.model["z_dim"],
            extractor,
            reference,
            cfg,
            device,
        )
    except NonFiniteSamplesError:
        return {"status": "nonfinite"}
    return {"status": "ok", **scores}


def evaluate_ablation_run(
    run_dir: str | Path,
    *,
    extractor: FeatureExtractor,
    reference: Reference,
    cfg: AblationEvaluate,
    device: torch.device,
    out_dir: str | Path,
    label: str = "",
    paper_rows: tuple[str, ...] = (),
) -> dict:
    """Score every checkpoint (raw and EMA G), sweep truncation and draw the figures of the best
    one into ``out_dir``; return the metric record (format in ganbench/reporting/ablation.py)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    status_path = run_dir / "status.json"
    if not status_path.is_file():
        raise UserError(
            f"{status_path} not found: the run has not finished training; run its train stage first"
        )
    status = read_json(status_path)
    run_cfg = AblationRunConfig.from_dict(read_json(run_dir / "config.json"))
    rows, best_G, best = [], None, None
    headline = "ema" if run_cfg.train.ema_decay else "raw"
    for step, path in ckpt.list_checkpoints(run_dir):
        _, _, G_raw, G_ema = load_ablation_checkpoint(path, device)
        row = {"step": step}
        for key, G in (("raw", G_raw), ("ema", G_ema)):
            row[key] = (
                None if G is None else _score(G, cfg, run_cfg, None, extractor, reference, device)
            )
        rows.append(row)
        scores = row[headline]
        if scores and scores["status"] == "ok" and (best is None or scores["fid"] < best["fid"]):
            best = {"step": step, **{k: v for k, v in scores.items() if k != "status"}}
            best_G = G_ema if headline == "ema" else G_raw
    record_status = status["status"]
    if record_status == "ok" and best is None:
        record_status = "failed"
    G_net, D_net = build_ablation_networks(run_cfg)
    record = {
        "run": run_cfg.name,
        "study": run_cfg.study,
        "dataset": run_cfg.dataset,
        "variant": run_cfg.variant,
        "seed": run_cfg.seed,
        "label": label,
        "paper_rows": list(paper_rows),
        "status": record_status,
        "diverged_at_step": status.get("diverged_at_step"),
        "reason": None if record_status != "failed" else "no checkpoint gave finite samples",
        "model": run_cfg.to_dict()["model"],
        "train": dataclasses.asdict(run_cfg.train),
        "params": {"G": count_parameters(G_net), "D": count_parameters(D_net)},
        "protocol": {
            **protocol(reference, cfg, device),
            "steps": run_cfg.train.steps,
            "steps_trained": status.get("steps_trained"),
            "batch_size": run_cfg.train.batch_size,
            "train_device": status.get("device"),
        },
        "generator": headline,
        "checkpoints": rows,
        "best": best,
        "truncation": [],
        "grids": {},
        "attention_figure": None,
    }
    if best_G is None:
        return record
    if cfg.truncation:
        sweep = [None, *sorted(set(cfg.truncation), reverse=True)]
        for psi in sweep:
            scores = _score(best_G, cfg, run_cfg, psi, extractor, reference, device)
            record["truncation"].append({"psi": psi, **scores})
    for psi in [None, *cfg.grid_truncation]:
        key = "none" if psi is None else f"{psi:g}"
        path = out_dir / ("samples.png" if psi is None else f"samples_psi{psi:g}.png")
        save_class_grid(path, best_G, run_cfg, cfg, psi, device)
        record["grids"][key] = str(path)
    if any(isinstance(m, SelfAttention) for m in best_G.modules()):
        path = out_dir / "attention.png"
        save_attention_figure(path, best_G, run_cfg, cfg, device)
        record["attention_figure"] = str(path)
    return record


def _standing(G: nn.Module, run_cfg: AblationRunConfig, cfg: AblationEvaluate, device) -> None:
    from ganbench.metrics.evaluate import seeded_latent

    standing_statistics(
        LabelledGenerator(G),
        seeded_latent(
            conditional_latent(G.cfg.num_classes, None),
            run_cfg.model["z_dim"],
            cfg.seed + 1,
            device,
        ),
        batches=cfg.standing_stats_batches,
        batch_size=cfg.standing_stats_batch_size,
    )


@torch.no_grad()
def class_grid(
    G: nn.Module, run_cfg: AblationRunConfig, cfg: AblationEvaluate, psi: float | None, device
) -> Tensor:
    """uint8 (rows * grid_size, C, H, W): row r holds ``grid_size`` samples of class r (one row
    for an unconditional G); standing statistics first, z from ``cfg.seed``."""
    _standing(G, run_cfg, cfg, device)
    rows = max(G.cfg.num_classes, 1)
    g = torch.Generator().manual_seed(cfg.seed)
    z = truncated_normal(rows * cfg.grid_size, run_cfg.model["z_dim"], psi=psi, generator=g)
    y = torch.arange(rows).repeat_interleave(cfg.grid_size)
    y = y.to(device) if G.cfg.num_classes else None
    return to_uint8(G(z.to(device), y)).cpu()


def save_class_grid(path, G, run_cfg, cfg, psi, device) -> None:
    from ganbench.metrics.runs import write_grid_png

    write_grid_png(path, class_grid(G, run_cfg, cfg, psi, device), nrow=cfg.grid_size)


@torch.no_grad()
def attention_maps(
    G: nn.Module, run_cfg: AblationRunConfig, cfg: AblationEvaluate, device
) -> tuple[Tensor, Tensor, list[tuple[int, int]], int]:
    """One generated image (class 0) and, for ``cfg.attention_queries`` query locations of G's
    last attention block (spread over the image's central diagonal band), the attention over key
    positions upsampled to the image size: (image (C, R, R) uint8, maps (Q, R, R) float, query
    pixel coordinates, the block's feature-map size)."""
    blocks = [m for m in G.modules() if isinstance(m, SelfAttention)]
    block = blocks[-1]
    _standing(G, run_cfg, cfg, device)
    block.record_attention = True
    try:
        g = torch.Generator().manual_seed(cfg.seed)
        z = torch.randn(1, run_cfg.model["z_dim"], generator=g).to(device)
        y = torch.zeros(1, dtype=torch.long, device=device) if G.cfg.num_classes else None
        image = to_uint8(G(z, y))[0].cpu()
        beta = block.last_attention[0].float().cpu()  # (N, N/4)
    finally:
        block.record_attention, block.last_attention = False, None
    n_query = beta.shape[0]
    size = math.isqrt(n_query)  # the block's feature map is size x size
    res = image.shape[-1]
    q = cfg.attention_queries
    # queries on a ring around the centre, where the object is
    angles = np.linspace(0, 2 * np.pi, q, endpoint=False) + np.pi / 4
    radius = size / 4
    queries = [
        (
            int(np.clip(round(size / 2 - 0.5 + radius * np.sin(a)), 0, size - 1)),
            int(np.clip(round(size / 2 - 0.5 + radius * np.cos(a)), 0, size - 1)),
        )
        for a in angles
    ]
    maps = []
    for r, c in queries:
        m = beta[r * size + c].view(1, 1, size // 2, size // 2)
        maps.append(torch.nn.functional.interpolate(m, size=(res, res), mode="nearest")[0, 0])
    scale = res / size
    pixels = [(int((r + 0.5) * scale), int((c + 0.5) * scale)) for r, c in queries]
    return image, torch.stack(maps), pixels, size


def save_attention_figure(path, G, run_cfg, cfg, device) -> None:
    """The SAGAN paper's attention figure: the image with the query points, then one panel per
    query showing where the attention block attends (the softmax weights over key positions)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    image, maps, pixels, size = attention_maps(G, run_cfg, cfg, device)
    q = len(pixels)
    fig = Figure(figsize=(2.0 * (q + 1), 2.3), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, q + 1)
    img = image.permute(1, 2, 0).numpy()
    cmap = "gray" if img.shape[-1] == 1 else None
    img = img[..., 0] if img.shape[-1] == 1 else img
    colours = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:cyan"]
    axes[0].imshow(img, cmap=cmap, vmin=0, vmax=255)
    axes[0].set_title(f"sample (attention at {size}x{size})", fontsize=7)
    for i, (r, c) in enumerate(pixels):
        colour = colours[i % len(colours)]
        axes[0].plot(c, r, "o", color=colour, markersize=5)
        axes[i + 1].imshow(img, cmap=cmap, vmin=0, vmax=255)
        axes[i + 1].imshow(maps[i].numpy(), cmap="inferno", alpha=0.6)
        axes[i + 1].plot(c, r, "o", color=colour, markersize=5)
        axes[i + 1].set_title(f"query {i + 1}", fontsize=7)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
