"""Evaluation of trained runs (ganbench.evaluation): the latent stream (balanced labels, scores
independent of the batch size, truncation), the labelled generator, sample grids, attention maps,
the run record every report reads (every checkpoint, G and its EMA, the best checkpoint, the
truncation sweep, the figures; diverged, failed and unfinished runs) and the sanity rows."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from ablation_helpers import lucic_run, resnet_run, tiny_data
from PIL import Image

from ganbench.config import Evaluation
from ganbench.data import PreparedData
from ganbench.errors import UserError
from ganbench.evaluation.baselines import sanity_rows
from ganbench.evaluation.runs import evaluate_run, load_generators
from ganbench.evaluation.samples import (
    LATENT_BLOCK,
    LabelledGenerator,
    attention_maps,
    draw_latent,
    latent_stream,
    sample_grid,
    write_grid_png,
)
from ganbench.io import read_json, torch_load, torch_save
from ganbench.metrics.classifier import FeatureCNN
from ganbench.metrics.evaluate import SCORE_KEYS, build_reference, score_generator, seeded_latent
from ganbench.metrics.features import ClassifierExtractor
from ganbench.models.attention import SelfAttention
from ganbench.models.resnet import count_parameters
from ganbench.models.truncation import truncated_normal
from ganbench.plan import build_networks
from ganbench.training import checkpoint as ckpt
from ganbench.training.loop import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")
CPU = torch.device("cpu")

RECORD_KEYS = {
    "run",
    "study",
    "dataset",
    "variant",
    "seed",
    "search",
    "status",
    "diverged_at_step",
    "reason",
    "recipe",
    "params",
    "protocol",
    "generator",
    "checkpoints",
    "best",
    "truncation",
    "grids",
    "attention_figure",
    "image_sha256",
}


# ---------------------------------------------------------------------------------------------
# The latent stream


def draw(stream_args, total: int, batch: int, z_dim: int, seed: int = 9) -> torch.Tensor:
    sample = seeded_latent(latent_stream(*stream_args), z_dim, seed=seed, device="cpu")
    return torch.cat([sample(min(batch, total - i)) for i in range(0, total, batch)])


@pytest.mark.parametrize(
    ("prior", "psi"), [("uniform", None), ("normal", None), ("normal", 0.5), ("normal", 2.0)]
)
@pytest.mark.parametrize("num_classes", [0, 4])
def test_latent_stream_is_independent_of_the_batch_size(prior, psi, num_classes):
    # Truncated or labelled z comes from fixed blocks: any z_dim. Plain z is drawn as asked, which
    # CPU streams keep batch-independent in pieces of 16 values: z_dim 16.
    z_dim = 16 if not num_classes and psi is None else 5
    total = 2 * LATENT_BLOCK + 52  # three blocks of z
    whole = draw((prior, num_classes, psi), total, total, z_dim)
    for batch in (1000, 7, LATENT_BLOCK):
        assert torch.equal(draw((prior, num_classes, psi), total, batch, z_dim), whole), batch
    if num_classes:  # labels balanced and in order, whatever the batch size
        z, y = whole[:, :-1], whole[:, -1]
        assert y.tolist() == [i % num_classes for i in range(total)]
    else:  # unconditional: z alone
        z = whole
        assert whole.shape == (total, z_dim) and whole.is_contiguous()
    # z is the prior's, drawn in blocks from the seeded generator
    g = torch.Generator().manual_seed(9)
    blocks = [draw_latent(prior, LATENT_BLOCK, z_dim, psi=psi, generator=g) for _ in range(3)]
    assert torch.equal(z, torch.cat(blocks)[:total])
    if prior == "uniform":
        assert float(z.min()) >= -1 and float(z.max()) < 1
    if psi is not None:
        assert float(z.abs().max()) <= psi
        g = torch.Generator().manual_seed(9)
        assert torch.equal(
            z[:LATENT_BLOCK], truncated_normal(LATENT_BLOCK, z_dim, psi=psi, generator=g)
        )
    assert not torch.equal(draw((prior, num_classes, psi), 10, 10, z_dim, seed=10), whole[:10])


class RecordingG(torch.nn.Module):
    """G(z, y) with BatchNorm (so standing statistics draw from the stream); records its input."""

    value_range = (0.0, 1.0)

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc, self.bn = torch.nn.Linear(8, 16 * 16), torch.nn.BatchNorm1d(16 * 16)
        self.calls: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    def forward(self, z, y=None):
        self.calls.append((z.clone(), None if y is None else y.clone()))
        h = self.bn(self.fc(z)) + (0 if y is None else y[:, None].float())
        return torch.sigmoid(h).view(-1, 1, 16, 16)


def score_stream(G, measure16, prior, classes, psi, batch_size):
    extractor, reference = measure16
    ev = Evaluation(
        num_fake=60,
        kid_subsets=2,
        kid_subset_size=30,
        is_splits=2,
        standing_stats_batches=2,
        standing_stats_batch_size=25,
        batch_size=batch_size,
        prdc_k=3,
    )
    stream = latent_stream(prior, classes, psi)
    return score_generator(LabelledGenerator(G, classes), stream, 8, extractor, reference, ev, CPU)


@pytest.fixture(scope="module")
def measure16():
    torch.manual_seed(0)
    net = FeatureCNN(1, 4, width=4, feature_dim=8).eval()
    extractor = ClassifierExtractor(net, weights_sha256="0" * 64, device="cpu")
    images = tiny_data(size=16, seed=3)[0].numpy()
    meta = {"dataset": "toy", "split": "test", "extractor_label": "tiny"}
    return extractor, build_reference(extractor, images, batch_size=32, meta=meta)


@pytest.mark.parametrize(
    ("prior", "classes", "psi", "batches"),
    [
        ("normal", 3, 0.5, (60, 16, 7)),
        ("normal", 3, None, (60, 16, 7)),
        ("uniform", 0, None, (60, 16, 7)),
        ("normal", 0, None, (60, 16, 10)),  # plain z drawn as asked: batches of 16k values
    ],
)
def test_scores_through_the_latent_stream_do_not_depend_on_the_batch_size(
    prior, classes, psi, batches, measure16
):
    runs = [score_stream(RecordingG(), measure16, prior, classes, psi, b) for b in batches]
    for other in runs[1:]:
        for key in SCORE_KEYS:
            assert other[key] == pytest.approx(runs[0][key], rel=1e-6, abs=1e-9), key


def test_which_stream_the_scored_samples_come_from(measure16):
    """As latent_stream documents: the standing statistics come from evaluation.seed + 1, the
    scored samples from evaluation.seed's own stream from its first row, labels from 0 (blocked:
    labelled or truncated; or plain)."""
    G = RecordingG()
    score_stream(G, measure16, "normal", 3, None, 60)
    (zs1, ys1), (zs2, _), (z, y) = G.calls  # 2 standing batches of 25, then the scoring batch
    standing = draw_latent("normal", LATENT_BLOCK, 8, psi=None,
                           generator=torch.Generator().manual_seed(2020 + 1))  # fmt: skip
    assert torch.equal(torch.cat([zs1, zs2]), standing[:50]) and ys1.tolist()[:4] == [0, 1, 2, 0]
    own = draw_latent("normal", LATENT_BLOCK, 8, psi=None,
                      generator=torch.Generator().manual_seed(2020))  # fmt: skip
    assert torch.equal(z, own[:60])
    assert y.tolist() == [i % 3 for i in range(60)]
    G = RecordingG()
    score_stream(G, measure16, "normal", 0, None, 60)
    z, y = G.calls[-1]
    assert y is None
    assert torch.equal(z, torch.randn(60, 8, generator=torch.Generator().manual_seed(2020)))


def test_truncation_needs_the_normal_prior():
    with pytest.raises(UserError, match="truncation psi 0.5 needs the normal prior, not 'uniform'"):
        draw(("uniform", 0, 0.5), 4, 4, 5)


def test_labelled_generator_routes_labels():
    spec = resnet_run()
    G, _ = build_networks(spec)
    G.eval()
    z = torch.randn(4, spec.z_dim)
    y = torch.tensor([0, 1, 2, 3])
    out = LabelledGenerator(G, spec.num_classes)(torch.cat([z, y[:, None].float()], dim=1))
    torch.testing.assert_close(out, G(z, y), rtol=0, atol=0)
    unconditional = lucic_run()
    G, _ = build_networks(unconditional)  # refuses any y: an unconditional stream has no labels
    G.eval()
    z = torch.rand(4, unconditional.z_dim)
    torch.testing.assert_close(LabelledGenerator(G, 0)(z), G(z), rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Grids and attention maps


class Spy(torch.nn.Module):
    """G that records the labels it is called with."""

    def __init__(self, G: torch.nn.Module) -> None:
        super().__init__()
        self.G, self.labels, self.value_range = G, [], G.value_range

    def forward(self, z, y=None):
        self.labels.append(y)
        return self.G(z, y)


def test_sample_grid_of_a_conditional_run_has_a_row_per_class():
    spec = resnet_run()
    G, _ = build_networks(spec)
    spy = Spy(G)
    grid = sample_grid(spy, spec, spec.recipe.evaluation, 3, None, CPU)
    assert grid.shape == (4 * 3, 1, 32, 32) and grid.dtype == torch.uint8
    assert spy.labels[-1].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert not G.training  # standing statistics leave G in eval mode
    # the same G again gives the same grid (a fresh copy: standing statistics run G in train
    # mode, which also advances its spectral norms' power iteration)
    G, _ = build_networks(spec)
    fresh = copy.deepcopy(G)
    grid = sample_grid(G, spec, spec.recipe.evaluation, 3, None, CPU)
    assert torch.equal(
        sample_grid(copy.deepcopy(fresh), spec, spec.recipe.evaluation, 3, None, CPU), grid
    )
    truncated = sample_grid(fresh, spec, spec.recipe.evaluation, 3, 0.5, CPU)
    assert truncated.shape == grid.shape and not torch.equal(truncated, grid)


def test_sample_grid_of_an_unconditional_run_is_square():
    spec = lucic_run()
    G, _ = build_networks(spec)
    spy = Spy(G)
    grid = sample_grid(spy, spec, spec.recipe.evaluation, 4, None, CPU)
    assert grid.shape == (4 * 4, 1, 28, 28) and grid.dtype == torch.uint8
    assert spy.labels[-1] is None
    with pytest.raises(UserError, match="normal prior"):  # this run's prior is uniform
        sample_grid(G, spec, spec.recipe.evaluation, 4, 0.5, CPU)


@pytest.mark.parametrize("channels", [1, 3])
def test_write_grid_png_places_every_image(channels, tmp_path):
    images = torch.stack(
        [torch.full((channels, 2, 3), 10 * (i + 1), dtype=torch.uint8) for i in range(5)]
    )
    write_grid_png(tmp_path / "grid.png", images, nrow=2)
    png = np.asarray(Image.open(tmp_path / "grid.png"))
    assert png.shape[:2] == (2 + 3 * (2 + 2), 2 + 2 * (3 + 2))  # 3 rows of 2, padding 2
    assert (png.ndim == 3) == (channels == 3)
    for i in range(5):
        r, k = divmod(i, 2)
        y, x = 2 + r * 4, 2 + k * 5
        assert (png[y : y + 2, x : x + 3] == 10 * (i + 1)).all()
    assert png[:2].max() == 0 and png[:, :2].max() == 0  # black padding
    assert png[10:12, 7:10].max() == 0  # the empty sixth cell
    assert not list(tmp_path.glob(".*"))


def test_attention_maps_rows_sum_to_one():
    spec = resnet_run("attention")  # attention at 16x16 in G
    G, _ = build_networks(spec)
    ev = spec.recipe.evaluation
    image, maps, pixels, size = attention_maps(G, spec, ev, 4, CPU)
    assert size == 16 and image.shape == (1, 32, 32) and image.dtype == torch.uint8
    assert maps.shape == (4, 32, 32) and len(pixels) == 4
    assert all(0 <= r < 32 and 0 <= c < 32 for r, c in pixels)
    # nearest upsampling of an (8 x 8) softmax over keys: each 4x4 block holds one weight
    torch.testing.assert_close(maps.sum(dim=(1, 2)) / 16, torch.ones(4))
    block = [m for m in G.modules() if isinstance(m, SelfAttention)][-1]
    assert block.last_attention is None and not block.record_attention


# ---------------------------------------------------------------------------------------------
# evaluate_run: the run record


@pytest.fixture(scope="module")
def measure(tmp_path_factory):
    """(extractor, reference) per image size: a random tiny classifier CNN, 64 reference images."""
    torch.manual_seed(0)
    net = FeatureCNN(1, 4, width=4, feature_dim=8).eval()
    extractor = ClassifierExtractor(net, weights_sha256="0" * 64, device="cpu")
    refs = {}
    for size in (28, 32):
        images = tiny_data(size=size, seed=7)[0].numpy()
        meta = {"dataset": f"shapes{size}", "split": "test", "extractor_label": "tiny"}
        refs[size] = build_reference(extractor, images, batch_size=32, meta=meta)
    return extractor, refs


def train_to(spec, run_dir: Path, size: int) -> Path:
    images, labels = tiny_data(size=size)
    Trainer(spec, images, labels, run_dir, device=CPU).run(progress=False)
    return run_dir


@pytest.fixture(scope="module")
def resnet_dir(tmp_path_factory) -> Path:
    """An attention run with an EMA of G: checkpoints at steps 3 and 6."""
    return train_to(resnet_run("attention"), tmp_path_factory.mktemp("resnet") / "run", 32)


@pytest.fixture(scope="module")
def lucic_dir(tmp_path_factory) -> Path:
    spec = lucic_run("ns", training={"steps": 4, "num_checkpoints": 2})
    return train_to(spec, tmp_path_factory.mktemp("lucic") / "run", 28)


def evaluate(run_dir, measure, size, out_dir, spec=None):
    """evaluate_run as the evaluate stage calls it: figures to ``out_dir/<run>/``."""
    extractor, refs = measure
    spec = spec or ckpt.read_config(run_dir)
    record = evaluate_run(
        run_dir,
        extractor=extractor,
        reference=refs[size],
        evaluation=spec.recipe.evaluation,
        figures=spec.recipe.figures,
        device=CPU,
        out_dir=Path(out_dir) / spec.name,
    )
    assert record == json.loads(json.dumps(record))  # serialisable as is
    return record


def test_the_record_of_a_run_with_an_ema(resnet_dir, measure, tmp_path):
    # evaluation and figures are not training: the trained run is scored under these
    spec = resnet_run(
        "attention",
        evaluation={"truncation": [1.0, 2.0]},
        figures={"grid_truncation": [0.5]},
    )
    record = evaluate(resnet_dir, measure, 32, tmp_path / "ev", spec)
    assert set(record) == RECORD_KEYS
    assert (record["run"], record["study"], record["dataset"]) == (
        "sagan-shapes32-attention-0",
        "sagan",
        "shapes32",
    )
    assert (record["variant"], record["seed"], record["status"]) == ("attention", 0, "ok")
    assert record["diverged_at_step"] is None and record["reason"] is None
    assert record["recipe"] == spec.training_recipe()
    G, D = build_networks(spec)
    assert record["params"] == {"G": count_parameters(G), "D": count_parameters(D)}
    protocol = record["protocol"]
    assert (protocol["steps"], protocol["steps_trained"], protocol["batch_size"]) == (6, 6, 8)
    assert protocol["train_device"] == "cpu" and protocol["n_fake"] == 40
    assert protocol["extractor_label"] == "tiny" and protocol["seed"] == 2020
    assert record["generator"] == "ema"
    assert [c["step"] for c in record["checkpoints"]] == [3, 6]
    for c in record["checkpoints"]:
        assert set(c) == {"step", "raw", "ema"}
        for g in ("raw", "ema"):
            assert set(c[g]) == {"status", *SCORE_KEYS} and c[g]["status"] == "ok"
    # at step 3 the EMA is still the copy of G taken at ema_start 2 (G is updated at steps 2, 4
    # and 6): only their buffers (spectral-norm vectors, BN statistics) differ; by step 6 it has
    # averaged two updates
    last = record["checkpoints"][-1]
    assert last["raw"]["fid"] != last["ema"]["fid"]
    best = min(record["checkpoints"], key=lambda c: c["ema"]["fid"])
    assert record["best"] == {"step": best["step"], **{k: best["ema"][k] for k in SCORE_KEYS}}
    assert [t["psi"] for t in record["truncation"]] == [None, 2.0, 1.0]
    assert all(t["status"] == "ok" for t in record["truncation"])
    # psi None is the best checkpoint's score again, up to the spectral norms' power iteration,
    # which every standing-statistics pass (train mode) advances
    assert record["truncation"][0]["fid"] == pytest.approx(record["best"]["fid"], rel=1e-3)
    assert record["truncation"][2]["fid"] != record["truncation"][0]["fid"]
    assert set(record["grids"]) == {"none", "0.5"}
    assert Path(record["grids"]["none"]).name == "samples.png"
    assert Path(record["grids"]["0.5"]).name == "samples_psi0.5.png"
    assert Path(record["attention_figure"]).name == "attention.png"
    for path in [*record["grids"].values(), record["attention_figure"]]:
        assert Path(path).parent == tmp_path / "ev" / record["run"] and Path(path).is_file()
    grid = Image.open(record["grids"]["none"])
    assert grid.size == (2 + 3 * 34, 2 + 4 * 34)  # 3 columns, a row per class
    assert_image_hashes(record, 3)


def assert_image_hashes(record: dict, count: int) -> None:
    """image_sha256: the SHA-256 of every image the record names, keyed by its path."""
    named = [
        *record["grids"].values(),
        *[record["attention_figure"]] * bool(record["attention_figure"]),
    ]
    assert len(named) == count and sorted(record["image_sha256"]) == sorted(named)
    for path, digest in record["image_sha256"].items():
        assert digest == hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_the_record_of_an_unconditional_run_without_an_ema(lucic_dir, measure, tmp_path):
    record = evaluate(lucic_dir, measure, 28, tmp_path / "ev")
    assert set(record) == RECORD_KEYS
    assert record["generator"] == "raw" and record["status"] == "ok"
    assert [c["step"] for c in record["checkpoints"]] == [2, 4]
    assert all(c["ema"] is None and c["raw"]["status"] == "ok" for c in record["checkpoints"])
    best = min(record["checkpoints"], key=lambda c: c["raw"]["fid"])
    assert record["best"]["step"] == best["step"] and record["best"]["fid"] == best["raw"]["fid"]
    assert record["truncation"] == [] and record["attention_figure"] is None
    assert list(record["grids"]) == ["none"]
    assert Image.open(record["grids"]["none"]).size == (2 + 3 * 30, 2 + 3 * 30)  # grid_size 3
    assert_image_hashes(record, 1)
    again = evaluate(lucic_dir, measure, 28, tmp_path / "ev2")
    assert again["checkpoints"] == record["checkpoints"]  # the same seeds every time


def test_a_diverged_run_keeps_its_status_and_step(lucic_dir, measure, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(lucic_dir, run)
    status = read_json(run / "status.json")
    status.update(status="diverged", diverged_at_step=3, steps_trained=3, checkpoints=[2])
    (run / "status.json").write_text(json.dumps(status))
    ckpt.checkpoint_path(run, 4).unlink()
    record = evaluate(run, measure, 28, tmp_path / "ev")
    assert (record["status"], record["diverged_at_step"], record["reason"]) == ("diverged", 3, None)
    assert [c["step"] for c in record["checkpoints"]] == [2]
    assert record["best"]["step"] == 2 and record["protocol"]["steps_trained"] == 3


def test_a_run_without_finite_samples_failed(lucic_dir, measure, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(lucic_dir, run)
    for _, path in ckpt.list_checkpoints(run):
        state = torch_load(path)
        state["G"] = {
            k: v.float().fill_(float("nan")) if "deconv.3" in k else v
            for k, v in state["G"].items()
        }
        torch_save(path, state)
    record = evaluate(run, measure, 28, tmp_path / "ev")
    assert record["status"] == "failed" and record["reason"] == "no checkpoint gave finite samples"
    assert [c["raw"] for c in record["checkpoints"]] == [{"status": "nonfinite"}] * 2
    assert record["best"] is None and record["grids"] == {} and record["truncation"] == []
    assert record["image_sha256"] == {} and record["attention_figure"] is None
    assert not (tmp_path / "ev").exists()  # no figures of a failed run


def test_an_unfinished_run_is_refused(lucic_dir, measure, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(lucic_dir, run)
    (run / "status.json").unlink()
    with pytest.raises(UserError, match="has not finished training; run its train stage first"):
        evaluate(run, measure, 28, tmp_path / "ev", lucic_run())


def test_load_generators(resnet_dir, lucic_dir):
    spec = ckpt.read_config(resnet_dir)
    got, step, generators = load_generators(ckpt.checkpoint_path(resnet_dir, 6), CPU)
    assert got.to_dict() == spec.to_dict() and step == 6
    assert set(generators) == {"raw", "ema"}
    state = torch_load(ckpt.checkpoint_path(resnet_dir, 6))
    for name, key in (("raw", "G"), ("ema", "G_ema")):
        assert not generators[name].training
        for k, v in generators[name].state_dict().items():
            assert torch.equal(v, state[key][k]), (name, k)
    _, step, generators = load_generators(ckpt.checkpoint_path(lucic_dir, 2), CPU)
    assert step == 2 and set(generators) == {"raw"}
    # weights that do not fit the run's architecture
    state["G"] = torch_load(ckpt.checkpoint_path(lucic_dir, 2))["G"]
    bad = resnet_dir.parent / "bad.pt"
    torch_save(bad, state)
    with pytest.raises(UserError, match="'G' does not fit the run's architecture"):
        load_generators(bad, CPU)


# ---------------------------------------------------------------------------------------------
# Sanity rows


def test_sanity_rows_score_real_images_and_the_untrained_generator(measure):
    extractor, refs = measure
    spec = lucic_run()
    images, labels = tiny_data(n=64, size=28, seed=11)
    data = PreparedData(
        x_train=images.numpy(),
        y_train=labels.numpy(),
        x_test=images[:16].numpy(),
        y_test=labels[:16].numpy(),
        name="shapes",
    )
    record = sanity_rows(data, extractor, refs[28], spec, CPU)
    assert record["dataset"] == "shapes" and record["protocol"]["n_fake"] == 40
    assert set(record["rows"]) == {"real_train", "untrained_generator"}
    for row in record["rows"].values():
        assert set(row) == set(SCORE_KEYS)
    assert record["rows"]["real_train"]["fid"] < record["rows"]["untrained_generator"]["fid"]
    assert sanity_rows(data, extractor, refs[28], spec, CPU)["rows"] == record["rows"]
