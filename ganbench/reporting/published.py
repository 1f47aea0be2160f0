"""Published numbers as data files, and the display names the reports use.

``published/lucic2018_table2.csv`` is Table 2 of Lucic et al. 2018, "Are GANs Created Equal? A
Large-Scale Study" (NeurIPS; arXiv 1711.10337): best FID, mean ± std over seeds. Its protocol
(Inception features, paper-length training, a 100-point hyperparameter search, 50 seeds) is
described in ``published/README.md``. Reports show it in a table of its own; only when our FID is
measured as the paper's (:func:`paper_comparable`) do they also print it beside ours, in a column
of its own under its own heading.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

MODEL_NAMES: dict[str, str] = {
    "mm": "MM GAN",
    "ns": "NS GAN",
    "lsgan": "LSGAN",
    "wgan": "WGAN",
    "wgan_gp": "WGAN GP",
    "dragan": "DRAGAN",
    "began": "BEGAN",
    "vae": "VAE",
    "hinge": "Hinge GAN",
}

DATASET_NAMES: dict[str, str] = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
    "celeba": "CelebA",
}

# Training length of the paper per dataset at batch 64 (MNIST/Fashion 20 epochs, CIFAR-10 100,
# CelebA 40), for the heading of the paper's table.
LUCIC_STEPS: dict[str, int] = {
    "mnist": 15_625,
    "fashion_mnist": 15_625,
    "cifar10": 78_125,
    "celeba": 101_250,
}

# (model, dataset) -> how other versions of the paper print the same cell.
LUCIC_VARIANTS: dict[tuple[str, str], str] = {
    ("lsgan", "cifar10"): "other versions of the paper print 87.1 ± 0.9",
    ("wgan_gp", "celeba"): "other versions of the paper print 30.0 ± 1.0",
}

# How Lucic et al. measured FID: Inception pool3 features, 10k generated vs 10k real test images.
LUCIC_EXTRACTOR = "inception"
LUCIC_N_FAKE = 10_000
LUCIC_N_REAL = 10_000
LUCIC_SPLIT = "test"
# How they trained: full width, batch 64, best of a 100-point search retrained with 50 seeds.
LUCIC_WIDTH = 1.0
LUCIC_BATCH_SIZE = 64
LUCIC_SEARCH = 100
LUCIC_SEEDS = 50

TABLE2_COLUMNS = ("model", "dataset", "fid_mean", "fid_std", "verified")


def model_name(model: str) -> str:
    """Display name of a loss key (``wgan_gp`` -> ``WGAN GP``); unknown keys are shown as is."""
    return MODEL_NAMES.get(model, model)


def dataset_name(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)


def paper_comparable(protocol: dict) -> bool:
    """Whether our FID is measured as Lucic et al.'s: Inception features, 10k vs 10k, test split.

    Only then may our FID and Table 2's appear in one table (in separate columns, under separate
    headings). The weights must be the official ones (SHA-256 prefix 6726825d), never a random or
    converted file. Training length, width, search and seeds may still differ: they change what is
    measured, not how.
    """
    from ganbench.metrics.inception import INCEPTION_SHA256_PREFIX

    return (
        protocol["extractor"] == LUCIC_EXTRACTOR
        and str(protocol["weights_sha256"]).startswith(INCEPTION_SHA256_PREFIX)
        and protocol["n_real"] == LUCIC_N_REAL
        and protocol["n_fake"] == LUCIC_N_FAKE
        and protocol["reference_split"] == LUCIC_SPLIT
    )


def measurement_differences(protocol: dict) -> list[str]:
    """How our FID measurement differs from the paper's (empty iff :func:`paper_comparable`)."""
    from ganbench.metrics.inception import INCEPTION_SHA256_PREFIX

    p = protocol
    out = []
    if p["extractor"] != LUCIC_EXTRACTOR:
        out.append(f"{p['extractor_label']} features (paper: Inception)")
    elif not str(p["weights_sha256"]).startswith(INCEPTION_SHA256_PREFIX):
        out.append(
            f"Inception weights with SHA-256 {str(p['weights_sha256'])[:12]}… "
            f"(paper: the 2015-12-05 graph, {INCEPTION_SHA256_PREFIX}…)"
        )
    if p["n_fake"] != LUCIC_N_FAKE:
        out.append(f"{p['n_fake']:,} generated images (paper: {LUCIC_N_FAKE:,})")
    if p["n_real"] != LUCIC_N_REAL:
        out.append(f"{p['n_real']:,} real images (paper: {LUCIC_N_REAL:,})")
    if p["reference_split"] != LUCIC_SPLIT:
        out.append(f"the {p['reference_split']} split (paper: {LUCIC_SPLIT})")
    return out


def training_differences(protocol: dict, dataset: str, n_seeds: int) -> list[str]:
    """How our runs differ from the paper's: length, width, batch, search, seeds."""
    p = protocol
    out = []
    steps = LUCIC_STEPS.get(dataset)
    if steps is not None and p["steps"] != steps:
        out.append(f"{p['steps']:,} steps (paper: {steps:,})")
    if p["width"] != LUCIC_WIDTH:
        out.append(f"width ×{p['width']:g} (paper: ×{LUCIC_WIDTH:g})")
    if p["batch_size"] != LUCIC_BATCH_SIZE:
        out.append(f"batch {p['batch_size']} (paper: {LUCIC_BATCH_SIZE})")
    out.append(f"one hyperparameter setting (paper: best of a {LUCIC_SEARCH}-point search)")
    if n_seeds != LUCIC_SEEDS:
        out.append(f"{n_seeds} seed{'s' if n_seeds != 1 else ''} (paper: {LUCIC_SEEDS})")
    return out


def load_lucic_table2() -> pd.DataFrame:
    """Lucic et al. 2018 Table 2: columns model, dataset, fid_mean, fid_std, verified (bool)."""
    path = resources.files("ganbench.reporting") / "published" / "lucic2018_table2.csv"
    with resources.as_file(path) as csv:
        table = pd.read_csv(csv, dtype={"model": str, "dataset": str})
    # A packaging error, not user input: the file ships with the package.
    assert tuple(table.columns) == TABLE2_COLUMNS, f"unexpected columns {list(table.columns)}"
    assert table["verified"].dtype == bool, "column 'verified' must be true/false"
    assert not table.duplicated(["model", "dataset"]).any(), "duplicate (model, dataset) rows"
    return table


def lucic_table2(dataset: str) -> pd.DataFrame:
    """The rows of Table 2 for ``dataset``, indexed by model key (empty if the paper lacks it)."""
    table = load_lucic_table2()
    return table[table["dataset"] == dataset].set_index("model")
