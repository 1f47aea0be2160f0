"""Published numbers as data files, and the display names the reports use.

``published/lucic2018_table2.csv`` is Table 2 of Lucic et al. 2018, "Are GANs Created Equal? A
Large-Scale Study" (NeurIPS; arXiv 1711.10337): best FID, mean ± std over seeds. Its protocol
(Inception features, paper-length training, a 100-point hyperparameter search, 50 seeds) is
described in ``published/README.md`` and is not ours, so reports show it in a table of its own.
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

TABLE2_COLUMNS = ("model", "dataset", "fid_mean", "fid_std", "verified")


def model_name(model: str) -> str:
    """Display name of a loss key (``wgan_gp`` -> ``WGAN GP``); unknown keys are shown as is."""
    return MODEL_NAMES.get(model, model)


def dataset_name(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)


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
