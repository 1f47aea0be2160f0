"""Named hyperparameter sets: how a model's Lucic et al. hyperparameters are chosen.

``authors``: the authors' defaults, "sample 0" of every search in Lucic et al. 2018 (compare_gan
v1 ``src/params.py``). ``shared``: one setting for every model, taken from ``lucic.shared`` in
params.yaml (the CPU default uses a point of the paper's narrow search range).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ganbench.config import Hyperparameters
from ganbench.errors import ConfigError
from ganbench.registry import Registry

HPARAM_SETS: Registry[Callable[[str, Hyperparameters], Hyperparameters]] = Registry("lucic.hparams")

# model -> the values that differ from Hyperparameters() (beta2 0.999 everywhere).
AUTHOR_DEFAULTS: dict[str, dict] = {
    "mm": dict(beta1=0.0, lr=5e-5, n_disc=1, d_batchnorm=True),
    "ns": dict(beta1=0.0, lr=5e-5, n_disc=1, d_batchnorm=True),
    "lsgan": dict(beta1=0.5, lr=2e-4, n_disc=1, d_batchnorm=True),
    "wgan": dict(beta1=0.5, lr=5e-5, n_disc=5, d_batchnorm=True, clip=0.01),
    "wgan_gp": dict(beta1=0.5, lr=1e-4, n_disc=5, d_batchnorm=False, penalty_weight=10.0),
    "dragan": dict(beta1=0.5, lr=1e-4, n_disc=1, d_batchnorm=True, penalty_weight=10.0),
    "began": dict(
        beta1=0.5, lr=1e-4, n_disc=5, d_batchnorm=False, began_lambda_k=1e-3, began_gamma=0.75
    ),
    "vae": dict(beta1=0.5, lr=5e-5, n_disc=1, d_batchnorm=True),
}


@HPARAM_SETS.register("authors")
def authors(model: str, shared: Hyperparameters) -> Hyperparameters:
    if model not in AUTHOR_DEFAULTS:
        raise ConfigError(
            "lucic.hparams",
            "authors",
            f"a model with author defaults ({', '.join(AUTHOR_DEFAULTS)}); "
            f"'{model}' has none: use lucic.hparams 'shared' for it",
        )
    return dataclasses.replace(Hyperparameters(), **AUTHOR_DEFAULTS[model])


@HPARAM_SETS.register("shared")
def shared(model: str, shared: Hyperparameters) -> Hyperparameters:
    return shared
