"""A training recipe: what one run of a study trains and how it is scored.

A study's ``recipe`` holds every block; a variant overrides any field of it (deep merge, see
:func:`ganbench.config.base.deep_merge`). ``arch``, ``objective`` and ``penalty`` name registry
entries whose own fields are validated by the entry (ganbench.plan); everything else is here.
One training *step* is one D update (Lucic et al. 2018); G is updated every ``n_disc`` steps.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ganbench.config.base import Block, FieldError, NamedBlock, Seq


class Optimiser(Block):
    """Adam for G and D. TTUR (Heusel et al. 2017): separate learning rates; Lucic et al. use one."""

    lr_g: float = Field(2e-4, gt=0)
    lr_d: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    n_disc: int = Field(1, ge=1)  # D steps per G step
    eps: float = Field(
        1e-8, gt=0
    )  # Adam's epsilon (torch's and TF's 1e-8; BigGAN-PyTorch's launch scripts 1e-6)


class DatasetLength(Block):
    """A dataset's own length and evaluation points (``Training.by_dataset``); unset: the
    recipe's. Lucic et al. train 20 epochs on MNIST, 100 on CIFAR-10 and 40 on CelebA, and
    compare_gan v1 evaluates every 5 epochs: 4, 20 and 8 checkpoints."""

    steps: int | None = Field(None, ge=1)
    num_checkpoints: int | None = Field(None, ge=1)


class Training(Block):
    steps: int = Field(1000, ge=1)  # D updates
    by_dataset: dict[str, DatasetLength] = {}  # dataset -> its own steps / num_checkpoints
    batch_size: int = Field(64, ge=1)  # the global batch (split over nproc processes)
    conditional: bool = False  # class labels for G and D (the dataset must have them)
    latent: Literal["uniform", "normal"] = "normal"  # z ~ U(-1, 1) (Lucic et al.) or N(0, I)
    # D on real and fake: two forwards (as compare_gan) or one on their concatenation (as
    # BigGAN-PyTorch: one spectral-norm power iteration per D step; BatchNorm in D sees both)
    d_forward: Literal["separate", "joint"] = "separate"
    ema_decay: float = Field(0.0, ge=0, lt=1)  # 0: no EMA of G's weights
    ema_start: int = Field(0, ge=0)  # step from which the EMA averages (before: a copy)
    ortho_beta: float = Field(0.0, ge=0)  # orthogonal regularisation of G (BigGAN: 1e-4)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    nproc: int = Field(1, ge=1)  # processes under torchrun (one per GPU)
    # micro-batches per step whose gradients add up before the optimizer step (BigGAN-PyTorch's
    # num_D_accumulations / num_G_accumulations): each process's share of the batch is split in k
    accumulate: int = Field(1, ge=1)
    num_checkpoints: int = Field(4, ge=1)  # evaluation points, evenly spaced
    resume_every: int = Field(250, ge=1)  # steps between resumable snapshots

    def for_dataset(self, dataset: str) -> Training:
        """This recipe with ``dataset``'s own length (``by_dataset``) and no ``by_dataset``."""
        own = self.by_dataset.get(dataset, DatasetLength())
        return self.model_copy(
            update={
                "steps": own.steps or self.steps,
                "num_checkpoints": own.num_checkpoints or self.num_checkpoints,
                "by_dataset": {},
            }
        )

    @model_validator(mode="after")
    def _consistent(self) -> Training:
        for name in ("", *self.by_dataset):
            t = self.for_dataset(name) if name else self
            if t.num_checkpoints > t.steps:
                raise FieldError(
                    f"by_dataset.{name}.num_checkpoints" if name else "num_checkpoints",
                    t.num_checkpoints,
                    f"an int in [1, steps={t.steps}]",
                )
        if self.batch_size % (self.nproc * self.accumulate):
            raise FieldError(
                "batch_size",
                self.batch_size,
                f"a multiple of nproc x accumulate ({self.nproc} x {self.accumulate}): the global "
                "batch is split evenly over processes and micro-batches",
            )
        return self


class Evaluation(Block):
    """How each checkpoint is scored (FID, KID, IS, precision/recall/density/coverage)."""

    num_fake: int = Field(10000, ge=1)
    kid_subsets: int = Field(100, ge=1)
    kid_subset_size: int = Field(1000, ge=1)
    is_splits: int = Field(10, ge=1)
    standing_stats_batches: int = Field(20, ge=0)  # G batches in train mode re-estimating BN
    standing_stats_batch_size: int = Field(500, ge=1)  # fixed, so scores do not hang on batch_size
    batch_size: int = Field(500, ge=1)  # samples per G + extractor batch; changes no score
    seed: int = Field(2020, ge=0)  # sampling noise, KID subsets and IS shuffling
    prdc_k: int = Field(5, ge=1)  # k-NN of precision/recall/density/coverage (Naeem et al.)
    truncation: Seq[float] = ()  # psi values swept at the best checkpoint (Brock et al. 2019)

    @model_validator(mode="after")
    def _consistent(self) -> Evaluation:
        for name in ("prdc_k", "kid_subset_size", "is_splits"):
            if getattr(self, name) > self.num_fake - (name == "prdc_k"):
                raise FieldError(
                    name,
                    getattr(self, name),
                    f"an int < num_fake ({self.num_fake})"
                    if name == "prdc_k"
                    else f"an int <= num_fake ({self.num_fake})",
                )
        for psi in self.truncation:
            if psi <= 0:
                raise FieldError("truncation", psi, "psi values > 0")
        return self


class Figures(Block):
    """Sample grids at the best checkpoint (one row per class when conditional) and the
    attention-map figure (G with attention)."""

    grid_size: int = Field(8, ge=1)
    grid_truncation: Seq[float] = ()  # extra grids at these psi
    attention_queries: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _positive(self) -> Figures:
        for psi in self.grid_truncation:
            if psi <= 0:
                raise FieldError("grid_truncation", psi, "psi values > 0")
        return self


class Recipe(Block):
    """Every block is required: the train and evaluate stages name each as a params dependency
    (DVC refuses a missing key), and a recipe that spells out its blocks reads as what it is."""

    arch: NamedBlock
    objective: NamedBlock
    penalty: NamedBlock  # {name: none} for none
    optimiser: Optimiser
    training: Training
    evaluation: Evaluation
    figures: Figures
