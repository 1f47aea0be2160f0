"""Config: params.yaml is validated before any work, every bad input is a ConfigError naming the
full key, the bad value and what is allowed; run resolution (shared / authors + overrides); the
registry."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from ganbench.config import (
    EvaluateConfig,
    Hyperparameters,
    Params,
    RunConfig,
    TrainConfig,
    from_dict,
    load_params,
    resolve_lucic_run,
)
from ganbench.data import DATASETS
from ganbench.errors import ConfigError, UserError
from ganbench.losses import LOSSES
from ganbench.registry import Registry
from ganbench.training.hparams import HPARAM_SETS

VALID = {
    "data": {"mnist": {"root": "/raw/mnist"}},
    "features": {"extractor": "classifier", "batch_size": 250},
    "lucic": {
        "datasets": ["mnist", "fashion_mnist"],
        "models": ["ns", "wgan_gp", "hinge"],
        "seeds": [0, 1],
        "hparams": "shared",
        "shared": {"lr": 0.0001, "beta1": 0.5, "n_disc": 1},
        "overrides": {"wgan_gp": {"n_disc": 5, "d_batchnorm": False}},
        "train": {"steps": 100, "batch_size": 16, "width": 0.25, "device": "cpu"},
        "evaluate": {"num_fake": 500, "kid_subsets": 10, "kid_subset_size": 100, "is_splits": 5},
    },
}


def with_value(path: str, value) -> dict:
    """VALID with the dotted ``path`` set to ``value``."""
    data = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


def write(tmp_path, data) -> object:
    path = tmp_path / "params.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def feature_extractor_names() -> list[str]:
    from ganbench.metrics.features import FEATURE_EXTRACTORS

    return FEATURE_EXTRACTORS.names()


def test_load_params_reads_a_valid_file(tmp_path):
    params = load_params(write(tmp_path, VALID))
    assert isinstance(params, Params)
    lucic = params.lucic
    assert lucic.datasets == ("mnist", "fashion_mnist") and lucic.models == (
        "ns",
        "wgan_gp",
        "hinge",
    )
    assert lucic.seeds == (0, 1)
    assert lucic.shared == Hyperparameters(lr=1e-4, beta1=0.5, n_disc=1)
    assert lucic.train == TrainConfig(steps=100, batch_size=16, width=0.25, device="cpu")
    assert lucic.evaluate == EvaluateConfig(
        num_fake=500, kid_subsets=10, kid_subset_size=100, is_splits=5
    )
    assert params.features.batch_size == 250
    assert params.dataset("mnist").root == "/raw/mnist"
    assert params.dataset("fashion_mnist").root is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        lucic.train.steps = 5


def test_ints_are_accepted_for_floats_and_converted(tmp_path):
    params = load_params(write(tmp_path, with_value("lucic.shared.lr", 1)))
    assert params.lucic.shared.lr == 1.0 and type(params.lucic.shared.lr) is float


def test_an_empty_file_gives_the_defaults(tmp_path):
    assert load_params(write(tmp_path, "")) == Params()


def test_exponent_floats_without_a_dot_are_floats(tmp_path):
    text = yaml.safe_dump(VALID).replace("lr: 0.0001", "lr: 5e-5")
    assert "lr: 5e-5" in text
    assert load_params(write(tmp_path, text)).lucic.shared.lr == 5e-5


# (path, value written, key named, value named, words of the allowed values)
BAD = [
    ("foo", 1, "foo", 1, ["data", "features", "classifier", "lucic"]),
    ("lucic", 5, "lucic", 5, ["a mapping", "datasets", "train"]),
    ("lucic.train.stepz", 10, "lucic.train.stepz", 10, ["steps", "batch_size", "resume_every"]),
    ("lucic.train.steps", "ten", "lucic.train.steps", "ten", ["int"]),
    ("lucic.train.steps", True, "lucic.train.steps", True, ["int"]),
    ("lucic.train.steps", 10.0, "lucic.train.steps", 10.0, ["int"]),
    ("lucic.train.steps", 0, "lucic.train.steps", 0, [">= 1"]),
    ("lucic.train.steps", -3, "lucic.train.steps", -3, [">= 1"]),
    ("lucic.train.width", 0, "lucic.train.width", 0.0, ["> 0"]),
    ("lucic.train.device", "tpu", "lucic.train.device", "tpu", ["auto, cpu, cuda"]),
    (
        "lucic.train",
        {"steps": 3, "num_checkpoints": 4},
        "lucic.train.num_checkpoints",
        4,
        ["steps=3"],
    ),
    ("lucic.shared.lr", 0, "lucic.shared.lr", 0.0, ["> 0"]),
    ("lucic.shared.lr", -1e-4, "lucic.shared.lr", -1e-4, ["> 0"]),
    ("lucic.shared.lr", True, "lucic.shared.lr", True, ["float"]),
    ("lucic.shared.n_disc", 0, "lucic.shared.n_disc", 0, [">= 1"]),
    ("lucic.shared.beta1", 1.0, "lucic.shared.beta1", 1.0, ["[0, 1)"]),
    ("lucic.shared.beta1", -0.1, "lucic.shared.beta1", -0.1, ["[0, 1)"]),
    ("lucic.models", ["ns", "gan9000"], "lucic.models[1]", "gan9000", LOSSES.names()),
    ("lucic.datasets", ["svhn"], "lucic.datasets[0]", "svhn", DATASETS.names()),
    ("lucic.seeds", [0, 0], "lucic.seeds", [0, 0], ["distinct"]),
    (
        "features.extractor",
        "inception_v9",
        "features.extractor",
        "inception_v9",
        feature_extractor_names(),
    ),
    ("lucic.hparams", "best", "lucic.hparams", "best", HPARAM_SETS.names()),
    ("lucic.overrides.ns", {"lrr": 0.1}, "lucic.overrides.ns.lrr", 0.1, ["lr", "beta1"]),
    ("lucic.overrides.ns", {"lr": -1.0}, "lucic.overrides.ns.lr", -1.0, ["> 0"]),
    ("lucic.overrides.gan9000", {"lr": 0.1}, "lucic.overrides", "gan9000", LOSSES.names()),
    (
        "lucic.evaluate",
        {"num_fake": 100, "kid_subset_size": 200},
        "lucic.evaluate.kid_subset_size",
        200,
        ["num_fake (100)"],
    ),
    ("data.svhn", {}, "data", "svhn", DATASETS.names()),
    ("data.mnist.rooot", "/raw", "data.mnist.rooot", "/raw", ["root"]),
]


def bad_id(case) -> str:
    return f"{case[0]}={case[1]!r}"[:40]


@pytest.mark.parametrize("case", BAD, ids=bad_id)
def test_bad_input_names_key_value_and_allowed(case, tmp_path):
    path, written, key, value, allowed = case
    with pytest.raises(ConfigError) as err:
        load_params(write(tmp_path, with_value(path, written)))
    message = str(err.value)
    assert f"{key}'" in message  # the full key, as the message quotes it
    assert err.value.key.endswith(key)
    assert err.value.value == value and type(err.value.value) is type(value)
    assert repr(value) in message
    for word in allowed:
        assert word in message


def test_error_key_is_exactly_the_params_key(tmp_path):
    wrong = {}
    for path, written, key, *_ in BAD:
        with pytest.raises(ConfigError) as err:
            load_params(write(tmp_path, with_value(path, written)))
        if err.value.key != key or f"params key '{key}'" not in str(err.value):
            wrong[key] = err.value.key
    assert wrong == {}


def test_an_override_that_is_not_a_mapping_is_a_config_error(tmp_path):
    for override in [5, [1], "lr"]:
        with pytest.raises(ConfigError, match="lucic.overrides.ns"):
            load_params(write(tmp_path, with_value("lucic.overrides.ns", override)))


def test_missing_params_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="params file not found") as err:
        load_params(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(err.value)


def test_invalid_yaml_is_a_user_error(tmp_path):
    path = write(tmp_path, "lucic: [unclosed\n  train: {")
    with pytest.raises(UserError, match="not valid YAML") as err:
        load_params(path)
    assert str(path) in str(err.value)


# ---------------------------------------------------------------------------------------------
# Run resolution


def params_with(**lucic) -> Params:
    data = copy.deepcopy(VALID)
    data["lucic"].update(lucic)
    return from_dict(Params, data, "")


def test_shared_gives_the_shared_block_plus_overrides():
    params = params_with()
    shared = Hyperparameters(lr=1e-4, beta1=0.5, n_disc=1)
    run = resolve_lucic_run(params, "mnist", "ns", 1)
    assert run == RunConfig("lucic", "mnist", "ns", 1, shared, params.lucic.train)
    assert run.name == "lucic-mnist-ns-1"
    gp = resolve_lucic_run(params, "mnist", "wgan_gp", 0)
    assert gp.hparams == dataclasses.replace(shared, n_disc=5, d_batchnorm=False)
    assert RunConfig.from_dict(gp.to_dict()) == gp


# Table "Hyperparameters" of Lucic et al. 2018 (reference/lucic.md); beta2 is 0.999 everywhere.
PAPER_DEFAULTS = {
    "mm": dict(beta1=0.0, lr=5e-5, n_disc=1, d_batchnorm=True),
    "ns": dict(beta1=0.0, lr=5e-5, n_disc=1, d_batchnorm=True),
    "lsgan": dict(beta1=0.5, lr=2e-4, n_disc=1, d_batchnorm=True),
    "wgan": dict(beta1=0.5, lr=5e-5, n_disc=5, d_batchnorm=True, clip=0.01),
    "wgan_gp": dict(beta1=0.5, lr=1e-4, n_disc=5, d_batchnorm=False, penalty_weight=10.0),
    "dragan": dict(beta1=0.5, lr=1e-4, n_disc=1, d_batchnorm=True, penalty_weight=10.0),
    "began": dict(
        beta1=0.5, lr=1e-4, n_disc=5, d_batchnorm=False, began_lambda_k=1e-3, began_gamma=0.75
    ),
    "vae": dict(beta1=0.5, lr=5e-5),
}


@pytest.mark.parametrize("model", LOSSES.names())
def test_authors_gives_the_papers_defaults(model):
    # The shared block must not leak into the authors' values.
    params = params_with(
        models=LOSSES.names(),
        hparams="authors",
        overrides={},
        shared={"lr": 0.009, "beta1": 0.9, "n_disc": 3},
    )
    if model not in PAPER_DEFAULTS:  # e.g. hinge: not in the paper
        with pytest.raises(ConfigError, match=f"'{model}' has none") as err:
            resolve_lucic_run(params, "mnist", model, 0)
        assert err.value.key == "lucic.hparams" and err.value.value == "authors"
        return
    hp = resolve_lucic_run(params, "mnist", model, 0).hparams
    assert hp.beta2 == 0.999
    for name, value in PAPER_DEFAULTS[model].items():
        assert getattr(hp, name) == pytest.approx(value, rel=1e-12), name


def test_hinge_has_no_author_defaults():
    params = params_with(hparams="authors", overrides={})
    with pytest.raises(ConfigError, match="hinge") as err:
        resolve_lucic_run(params, "mnist", "hinge", 0)
    assert "shared" in str(err.value)


def test_authors_overrides_apply_last():
    params = params_with(hparams="authors", overrides={"ns": {"lr": 0.001}})
    hp = resolve_lucic_run(params, "mnist", "ns", 0).hparams
    assert hp == Hyperparameters(lr=0.001, beta1=0.0, n_disc=1, d_batchnorm=True)


def test_the_authors_error_names_a_working_remedy():
    with pytest.raises(ConfigError) as err:
        resolve_lucic_run(params_with(hparams="authors"), "mnist", "hinge", 0)
    assert err.value.key == "lucic.hparams"
    assert "'shared'" in str(err.value) and "overrides" not in str(err.value)


@pytest.mark.parametrize(
    "dataset, model, seed, key",
    [
        ("cifar10", "ns", 0, "dataset (lucic.datasets)"),
        ("mnist", "mm", 0, "model (lucic.models)"),
        ("mnist", "ns", 7, "seed (lucic.seeds)"),
    ],
)
def test_resolve_refuses_runs_outside_the_study(dataset, model, seed, key):
    with pytest.raises(ConfigError) as err:
        resolve_lucic_run(params_with(), dataset, model, seed)
    assert err.value.key == key


# ---------------------------------------------------------------------------------------------
# Registry


def test_registry_registers_and_looks_up():
    reg: Registry = Registry("things")

    @reg.register("b")
    def b():
        return "b"

    reg.add("a", "entry a")
    assert b() == "b" and reg.get("b") is b and reg.get("a") == "entry a"
    assert reg.names() == ["a", "b"] and list(reg) == ["a", "b"] and len(reg) == 2
    assert "a" in reg and "c" not in reg


def test_registry_refuses_duplicates_and_bad_names():
    reg: Registry = Registry("things")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="things: 'a' is already registered"):
        reg.add("a", 2)
    assert reg.get("a") == 1
    for bad in ["", None, 3]:
        with pytest.raises(TypeError, match="non-empty strings"):
            reg.add(bad, 1)


def test_unknown_name_lists_the_choices():
    reg: Registry = Registry("things")
    reg.add("zeta", 1)
    reg.add("alpha", 2)
    with pytest.raises(ConfigError) as err:
        reg.get("beta")
    assert (err.value.key, err.value.value) == ("things", "beta")
    assert str(err.value) == "params key 'things': got 'beta'; allowed: one of alpha, zeta"
    with pytest.raises(ConfigError, match="params key 'lucic.models'"):
        reg.get("beta", "lucic.models")
    with pytest.raises(ConfigError):
        reg.get(["unhashable"])


@pytest.mark.parametrize("registry", [LOSSES, DATASETS, HPARAM_SETS], ids=lambda r: r.kind)
def test_project_registries_refuse_duplicates(registry):
    name = registry.names()[0]
    with pytest.raises(ValueError, match="already registered"):
        registry.add(name, object())
    assert len(registry) == len(set(registry.names()))
