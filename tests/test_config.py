"""Config: params.yaml is validated before any work, every bad input is a ConfigError naming the
full params key, the bad value and what is allowed; the pieces that make that so (the pydantic
error adapter, the deep merge of variants into a recipe, the re-keying of a variant's recipe to
the key that set a value); the YAML loader; the registries.

The plan's rules between registry entries (penalty, labels, latent, architecture) are in
test_plan.py."""

from __future__ import annotations

import copy

import pytest
import yaml
from ablation_helpers import LUCIC, RESNET
from pydantic import Field, ValidationError, model_validator

from ganbench.config import (
    Block,
    FieldError,
    NamedBlock,
    Params,
    Seq,
    Study,
    deep_merge,
    load_params,
    read_yaml,
    validate,
)
from ganbench.config.recipe import Evaluation, Optimiser, Training
from ganbench.data import DATASETS
from ganbench.errors import ConfigError, UserError
from ganbench.losses import OBJECTIVES, PENALTIES
from ganbench.metrics.features import FEATURE_EXTRACTORS
from ganbench.models import ARCHITECTURES
from ganbench.models.sampling import LATENTS
from ganbench.plan import load_plan
from ganbench.published import PUBLISHED
from ganbench.registry import Registry
from ganbench.runtime import resolve_device, set_threads

VALID = {
    "data": {"shapes": {"root": "/raw/shapes"}},
    "datasets": ["shapes", "shapes32"],
    "pipeline": {"device": "cpu", "threads": 1, "reference_split": "test"},
    "features": {"extractor": "classifier", "batch_size": 250},
    "classifier": {"width": 8, "epochs": 1},
    "studies": {"lucic": LUCIC, "sagan": RESNET},
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
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def test_load_params_reads_a_valid_file(tmp_path):
    params = load_params(write(tmp_path, VALID))
    assert isinstance(params, Params)
    assert params.datasets == ("shapes", "shapes32")
    assert (params.pipeline.device, params.pipeline.threads) == ("cpu", 1)
    lucic = params.study("lucic")
    assert isinstance(lucic, Study)
    assert lucic.datasets == ("shapes",) and lucic.seeds == (0, 1) and lucic.baseline == "ns"
    assert list(lucic.variants) == list(LUCIC["variants"])
    assert lucic.variants["wgan_gp"].paper_rows == ("wgan_gp",)
    assert lucic.variants["wgan_gp"].overrides() == {
        "arch": {"d_batchnorm": False},
        "objective": {"name": "wgan"},
        "penalty": {"name": "gp", "weight": 10.0},
    }
    recipe = lucic.recipe
    assert recipe.arch.name == "infogan"
    assert recipe.arch.fields() == {"width": 0.125, "z_dim": 8, "d_batchnorm": True}
    assert recipe.optimiser == Optimiser(lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.999, n_disc=2)
    assert recipe.training == Training(
        steps=20,
        batch_size=8,
        conditional=False,
        latent="uniform",
        d_forward="separate",
        num_checkpoints=4,
        resume_every=5,
    )
    assert recipe.evaluation == Evaluation(**LUCIC["recipe"]["evaluation"])
    assert params.study("sagan").recipe.training.ema_decay == 0.9
    assert params.features.batch_size == 250 and params.classifier.width == 8
    assert params.dataset("shapes").root == "/raw/shapes"
    assert params.dataset("shapes32").root is None  # no entry, no base given
    assert params.dataset("shapes32", "shapes").root == "/raw/shapes"  # a derived dataset's base
    with pytest.raises(ValidationError, match="frozen"):
        recipe.training.steps = 5
    with pytest.raises(ConfigError) as err:
        params.study("biggan")
    assert (err.value.key, err.value.value) == ("studies", "biggan")
    assert "one of lucic, sagan" in str(err.value)


def test_ints_are_accepted_for_floats_and_converted(tmp_path):
    params = load_params(write(tmp_path, with_value("studies.lucic.recipe.optimiser.lr_g", 1)))
    lr = params.study("lucic").recipe.optimiser.lr_g
    assert lr == 1.0 and type(lr) is float


def test_an_empty_file_gives_the_defaults(tmp_path):
    params = load_params(write(tmp_path, ""))
    assert params == Params()
    assert params.studies == {} and params.pipeline.device == "auto"
    assert params.pipeline.reference_split == "test"


def test_exponent_floats_without_a_dot_are_floats(tmp_path):
    text = yaml.safe_dump(VALID, sort_keys=False).replace("lr_g: 0.001", "lr_g: 5e-5")
    assert "lr_g: 5e-5" in text
    assert load_params(write(tmp_path, text)).study("lucic").recipe.optimiser.lr_g == 5e-5


L, S = "studies.lucic", "studies.sagan"
LR, SR = f"{L}.recipe", f"{S}.recipe"
OBJECTIVE_NAMES = OBJECTIVES.names()
# (path, value written, key named, value named, words of the allowed values). Every case goes
# through load_plan, which every stage calls first.
BAD = [
    ("foo", 1, "foo", 1, ["known keys data, datasets, pipeline, features, classifier, studies"]),
    ("studies.lucic", 5, L, 5, ["a mapping"]),
    (f"{LR}.training.stepz", 10, f"{LR}.training.stepz", 10, ["steps", "batch_size", "nproc"]),
    (f"{LR}.training.steps", "ten", f"{LR}.training.steps", "ten", ["an int"]),
    (f"{LR}.training.steps", True, f"{LR}.training.steps", True, ["an int"]),
    (f"{LR}.training.steps", 10.0, f"{LR}.training.steps", 10.0, ["an int"]),
    (f"{LR}.training.steps", 0, f"{LR}.training.steps", 0, [">= 1"]),
    (f"{LR}.training.steps", -3, f"{LR}.training.steps", -3, [">= 1"]),
    (f"{LR}.training.latent", "cauchy", f"{LR}.training.latent", "cauchy", ["uniform", "normal"]),
    (f"{LR}.training.d_forward", "both", f"{LR}.training.d_forward", "both", ["joint"]),
    (f"{LR}.training.precision", "fp8", f"{LR}.training.precision", "fp8", ["bf16", "fp16"]),
    (f"{LR}.training.ema_decay", 1.0, f"{LR}.training.ema_decay", 1.0, ["< 1"]),
    (
        f"{LR}.training",
        {"steps": 3, "num_checkpoints": 4},
        f"{LR}.training.num_checkpoints",
        4,
        ["steps=3"],
    ),
    (
        f"{LR}.training",
        {"batch_size": 9, "nproc": 2},
        f"{LR}.training.batch_size",
        9,
        ["a multiple of nproc x accumulate (2 x 1)"],
    ),
    (
        f"{LR}.training",
        {"batch_size": 12, "nproc": 2, "accumulate": 4},
        f"{LR}.training.batch_size",
        12,
        ["a multiple of nproc x accumulate (2 x 4)"],
    ),
    (
        f"{LR}.training.by_dataset",
        {"mnist": {"steps": 10}},
        f"{LR}.training.by_dataset",
        "mnist",
        ["datasets of the study: shapes"],
    ),
    (
        f"{LR}.training.by_dataset",
        {"shapes": {"steps": 0}},
        f"{LR}.training.by_dataset.shapes.steps",
        0,
        [">= 1"],
    ),
    (
        f"{LR}.training.by_dataset",
        {"shapes": {"epochs": 3}},
        f"{LR}.training.by_dataset.shapes.epochs",
        3,
        ["known keys steps, num_checkpoints"],
    ),
    (f"{LR}.arch.width", 0, f"{LR}.arch.width", 0, ["> 0"]),
    (f"{LR}.arch.colour", 1, f"{LR}.arch.colour", 1, ["known keys width, z_dim, d_batchnorm"]),
    (f"{LR}.arch.name", "dcgan", f"{LR}.arch.name", "dcgan", ARCHITECTURES.names()),
    (f"{LR}.arch", {"width": 0.5}, f"{LR}.arch.name", "<missing>", ["required"]),
    (f"{LR}.optimiser.lr_g", 0, f"{LR}.optimiser.lr_g", 0, ["> 0"]),
    (f"{LR}.optimiser.lr_d", -1e-4, f"{LR}.optimiser.lr_d", -1e-4, ["> 0"]),
    (f"{LR}.optimiser.lr_g", True, f"{LR}.optimiser.lr_g", True, ["a number"]),
    (f"{LR}.optimiser.lr_g", "fast", f"{LR}.optimiser.lr_g", "fast", ["a number"]),
    (f"{LR}.optimiser.n_disc", 0, f"{LR}.optimiser.n_disc", 0, [">= 1"]),
    (f"{LR}.optimiser.beta1", 1.0, f"{LR}.optimiser.beta1", 1.0, ["< 1"]),
    (f"{LR}.optimiser.beta1", -0.1, f"{LR}.optimiser.beta1", -0.1, [">= 0"]),
    (f"{LR}.optimiser", "adam", f"{LR}.optimiser", "adam", ["a mapping"]),
    (f"{LR}.objective.name", "gan9000", f"{LR}.objective.name", "gan9000", OBJECTIVE_NAMES),
    (f"{LR}.objective", {"name": "began", "gamma": 0}, f"{LR}.objective.gamma", 0, ["> 0"]),
    (f"{LR}.penalty.name", "l2", f"{LR}.penalty.name", "l2", ["dragan", "gp", "none"]),
    (f"{LR}.penalty", {"name": "gp", "weight": -1.0}, f"{LR}.penalty.weight", -1.0, [">= 0"]),
    (f"{LR}.evaluation.truncation", [0.0], f"{LR}.evaluation.truncation", 0.0, ["psi"]),
    (f"{LR}.figures.grid_truncation", [-1.0], f"{LR}.figures.grid_truncation", -1.0, ["psi"]),
    (
        f"{LR}.evaluation",
        {"num_fake": 100, "kid_subset_size": 200},
        f"{LR}.evaluation.kid_subset_size",
        200,
        ["num_fake (100)"],
    ),
    (
        f"{LR}.evaluation",
        {"num_fake": 5, "prdc_k": 5},
        f"{LR}.evaluation.prdc_k",
        5,
        ["< num_fake (5)"],
    ),
    (f"{LR}", {}, f"{LR}.arch", "<missing>", ["required"]),
    (f"{L}.datasets", ["svhn"], f"{L}.datasets", "svhn", ["listed in datasets (shapes, shapes32)"]),
    (f"{L}.datasets", [], f"{L}.datasets", (), ["at least 1"]),
    ("datasets", ["shapes", "shapes32", "svhn"], "datasets[2]", "svhn", DATASETS.names()),
    (f"{L}.seeds", [0, 0], f"{L}.seeds", [0, 0], ["distinct"]),
    (f"{L}.seeds", [-1], f"{L}.seeds[0]", -1, [">= 0"]),
    (f"{L}.baseline", "other", f"{L}.baseline", "other", ["one of mm, ns, lsgan"]),
    (f"{L}.variants", {}, f"{L}.variants", {}, ["at least 1"]),
    (f"{L}.variants.ns.optimiser", {"lrr": 0.1}, f"{L}.variants.ns.optimiser.lrr", 0.1, ["lr_g"]),
    (
        f"{L}.variants.ns.optimiser",
        {"lr_g": -1.0},
        f"{L}.variants.ns.optimiser.lr_g",
        -1.0,
        ["> 0"],
    ),
    (f"{L}.variants.ns.optimiser", 5, f"{L}.variants.ns.optimiser", 5, ["a mapping"]),
    (f"{L}.variants.ns.colour", 1, f"{L}.variants.ns.colour", 1, ["known keys label, paper_rows"]),
    (f"{L}.variants.wgan.objective.clip", -1.0, f"{L}.variants.wgan.objective.clip", -1.0, ["> 0"]),
    (f"{L}.variants.ns.paper_rows", ["row_99"], f"{L}.variants.ns.paper_rows", "row_99", ["wgan"]),
    (
        f"{L}.report.published",
        "nope",
        f"{L}.report.published",
        "nope",
        ["lucic2018_table2", "sagan2019"],
    ),
    (
        f"{S}.variants.attention.arch.g_attention",
        [5],
        f"{S}.variants.attention.arch.g_attention",
        (5,),
        ["distinct resolutions among 8, 16, 32"],
    ),
    (f"{SR}.arch.g_attention", [5], f"{SR}.arch.g_attention", (5,), ["among 8, 16, 32"]),
    (f"{SR}.arch.init", "he", f"{SR}.arch.init", "he", ["ortho", "normal", "xavier"]),
    ("pipeline.device", "tpu", "pipeline.device", "tpu", ["auto", "cpu", "cuda"]),
    ("pipeline.threads", -1, "pipeline.threads", -1, [">= 0"]),
    ("pipeline.reference_split", "val", "pipeline.reference_split", "val", ["train", "test"]),
    ("features.batch_size", 0, "features.batch_size", 0, [">= 1"]),
    ("classifier.min_accuracy", 1.5, "classifier.min_accuracy", 1.5, ["<= 1"]),
    ("data.shapes.rooot", "/raw", "data.shapes.rooot", "/raw", ["known keys root"]),
]


def bad_id(case) -> str:
    return f"{case[0].replace('studies.', '')}={case[1]!r}"[:50]


@pytest.mark.parametrize("case", BAD, ids=bad_id)
def test_bad_input_names_key_value_and_allowed(case, tmp_path):
    path, written, key, value, allowed = case
    with pytest.raises(ConfigError) as err:
        load_plan(write(tmp_path, with_value(path, written)))
    message = str(err.value)
    assert err.value.key == key  # the full params key, exactly
    assert message.startswith(f"params key '{key}': got {value!r}; allowed: ")
    assert err.value.value == value and type(err.value.value) is type(value)
    for word in allowed:
        assert str(word) in err.value.allowed


def test_an_override_that_is_not_a_mapping_is_a_config_error(tmp_path):
    for override in [5, [1], "lr"]:
        with pytest.raises(ConfigError) as err:
            load_plan(write(tmp_path, with_value(f"{L}.variants.ns.optimiser", override)))
        assert err.value.key == f"{L}.variants.ns.optimiser" and err.value.value == override


def test_an_unknown_feature_extractor_is_refused_before_any_work(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_plan(write(tmp_path, with_value("features.extractor", "inception_v9")))
    assert err.value.key == "features.extractor"
    assert all(name in err.value.allowed for name in FEATURE_EXTRACTORS.names())


def test_a_data_entry_for_an_unknown_dataset_is_refused(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_plan(write(tmp_path, with_value("data.fashion_mnis", {"root": "/raw"})))
    assert err.value.key.startswith("data") and err.value.value == "fashion_mnis"


def test_a_bad_variant_name_names_the_variants_key(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_plan(write(tmp_path, with_value(f"{L}.variants.Bad-Name", {})))
    assert err.value.key in (f"{L}.variants", f"{L}.variants.Bad-Name")
    assert err.value.value == "Bad-Name" and "lowercase letters" in err.value.allowed


def test_a_bad_variant_name_is_refused(tmp_path):
    """What holds today of the case above: refused, the value and the rule named."""
    with pytest.raises(ConfigError) as err:
        load_plan(write(tmp_path, with_value(f"{L}.variants.Bad-Name", {})))
    assert err.value.key.startswith(f"{L}.variants")
    assert err.value.value == "Bad-Name" and "lowercase letters, digits and _" in err.value.allowed


def test_a_key_given_to_an_entry_without_params_says_it_takes_none(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_plan(write(tmp_path, with_value(f"{L}.variants.ns.objective", {"lrr": 0.1})))
    assert err.value.key == f"{L}.variants.ns.objective.lrr"
    assert err.value.allowed.rstrip() != "known keys"


def test_a_key_given_to_an_entry_without_params_is_refused(tmp_path):
    for path, key in [
        (f"{L}.variants.ns.objective", f"{L}.variants.ns.objective.lrr"),  # ns: no params
        (f"{L}.variants.ns.penalty", f"{L}.variants.ns.penalty.lrr"),  # none: no weight
    ]:
        value = {"name": "none", "lrr": 0.1} if "penalty" in path else {"lrr": 0.1}
        with pytest.raises(ConfigError) as err:
            load_plan(write(tmp_path, with_value(path, value)))
        assert (err.value.key, err.value.value) == (key, 0.1)


def test_missing_params_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="params file not found") as err:
        load_params(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(err.value)


def test_invalid_yaml_is_a_user_error(tmp_path):
    path = write(tmp_path, "studies: [unclosed\n  lucic: {")
    with pytest.raises(UserError, match="not valid YAML") as err:
        load_params(path)
    assert str(path) in str(err.value)


def test_a_file_that_is_not_a_mapping_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="expected a mapping of sections, got list"):
        read_yaml(write(tmp_path, "- a\n- b\n"))


# ---------------------------------------------------------------------------------------------
# The pydantic error adapter


class Inner(Block):
    rate: float = Field(0.1, gt=0, le=1)
    tags: Seq[str] = ()


class Outer(Block):
    count: int = Field(1, ge=1)
    flag: bool = False
    inner: Inner = Inner()
    table: dict[str, Inner] = {}
    low: int = 0
    high: int = 10

    @model_validator(mode="after")
    def _ordered(self) -> Outer:
        if self.low > self.high:
            raise FieldError("low", self.low, f"an int <= high ({self.high})")
        return self


@pytest.mark.parametrize(
    ("data", "key", "value", "allowed"),
    [
        ({"cuont": 2}, "top.cuont", 2, "known keys count, flag, inner, table, low, high"),
        ({"inner": {"raet": 2}}, "top.inner.raet", 2, "known keys rate, tags"),
        ({"table": {"a": {"x": 1}}}, "top.table.a.x", 1, "known keys rate, tags"),
        ({"count": "2"}, "top.count", "2", "an int"),
        ({"count": 2.0}, "top.count", 2.0, "an int"),
        ({"flag": 1}, "top.flag", 1, "true or false"),
        ({"inner": {"rate": "high"}}, "top.inner.rate", "high", "a number"),
        ({"inner": {"tags": "a"}}, "top.inner.tags", "a", "a list"),
        ({"inner": {"tags": ["a", 3]}}, "top.inner.tags[1]", 3, "a string"),
        ({"inner": 3}, "top.inner", 3, "a mapping"),
        ({"count": 0}, "top.count", 0, ">= 1"),
        ({"inner": {"rate": 0}}, "top.inner.rate", 0, "> 0.0"),
        ({"inner": {"rate": 1.5}}, "top.inner.rate", 1.5, "<= 1.0"),
        ({"low": 11}, "top.low", 11, "an int <= high (10)"),  # cross-field: moved to the field
    ],
)
def test_validate_names_the_full_key(data, key, value, allowed):
    with pytest.raises(ConfigError) as err:
        validate(Outer, data, "top")
    assert (err.value.key, err.value.value, err.value.allowed) == (key, value, allowed)
    assert str(err.value) == f"params key '{key}': got {value!r}; allowed: {allowed}"


def test_validate_with_an_empty_key_and_a_missing_value():
    class Required(Block):
        needed: int

    with pytest.raises(ConfigError) as err:
        validate(Required, {}, "")
    assert (err.value.key, err.value.value) == ("needed", "<missing>")
    assert err.value.allowed == "a value (the key is required)"
    assert validate(Required, {"needed": 3}, "").needed == 3


def test_cross_field_errors_of_the_schema_name_the_field():
    """Pydantic reports a model validator's error at the model; ours names the field refused."""
    with pytest.raises(ConfigError) as err:
        validate(Training, {"steps": 5, "num_checkpoints": 6}, "t")
    assert (err.value.key, err.value.value) == ("t.num_checkpoints", 6)
    with pytest.raises(ConfigError) as err:
        validate(Evaluation, {"num_fake": 10, "kid_subset_size": 5, "is_splits": 11}, "e")
    assert (err.value.key, err.value.value) == ("e.is_splits", 11)
    assert err.value.allowed == "an int <= num_fake (10)"
    study = copy.deepcopy(LUCIC) | {"baseline": "wgan_gpp"}
    with pytest.raises(ConfigError) as err:
        validate(Study, study, "studies.lucic")
    assert (err.value.key, err.value.value) == ("studies.lucic.baseline", "wgan_gpp")


def test_a_named_block_keeps_its_entry_fields_for_the_entry_to_check():
    block = validate(NamedBlock, {"name": "wgan", "clip": 0.01}, "objective")
    assert block.name == "wgan" and block.fields() == {"clip": 0.01}
    assert NamedBlock(name="ns").fields() == {}
    with pytest.raises(ConfigError) as err:
        validate(NamedBlock, {"clip": 0.01}, "objective")
    assert (err.value.key, err.value.value) == ("objective.name", "<missing>")
    with pytest.raises(ConfigError) as err:
        validate(NamedBlock, {"name": 3}, "objective")
    assert (err.value.key, err.value.allowed) == ("objective.name", "a string")


# ---------------------------------------------------------------------------------------------
# deep_merge


def test_deep_merge_merges_nested_mappings_and_replaces_the_rest():
    base = {"a": 1, "b": {"c": 2, "d": {"e": 3, "f": 4}}, "g": [1, 2], "h": {"i": 5}}
    override = {"b": {"d": {"e": 30}, "x": 7}, "g": [9], "h": 6, "new": {"k": 1}}
    before = copy.deepcopy(base)
    merged = deep_merge(base, override)
    assert merged == {
        "a": 1,
        "b": {"c": 2, "d": {"e": 30, "f": 4}, "x": 7},
        "g": [9],  # lists replace
        "h": 6,  # a value replaces a mapping
        "new": {"k": 1},
    }
    assert base == before  # the inputs are not modified
    assert deep_merge(base, {}) == base and deep_merge({}, override) == override


def test_deep_merge_replaces_a_named_block_whose_name_changes():
    recipe = {
        "arch": {"name": "infogan", "width": 0.25, "d_batchnorm": True},
        "objective": {"name": "wgan", "clip": 0.01},
    }
    # the same entry: its fields merge
    same = deep_merge(recipe, {"arch": {"name": "infogan", "width": 1.0}})
    assert same["arch"] == {"name": "infogan", "width": 1.0, "d_batchnorm": True}
    no_name = deep_merge(recipe, {"objective": {"clip": 0.05}})
    assert no_name["objective"] == {"name": "wgan", "clip": 0.05}
    # another entry: the old one's fields mean nothing to it, so the block is replaced whole
    other = deep_merge(recipe, {"arch": {"name": "resnet", "ch": 2}, "objective": {"name": "ns"}})
    assert other["arch"] == {"name": "resnet", "ch": 2}
    assert other["objective"] == {"name": "ns"}
    # a base block without a name is replaced by a named one
    assert deep_merge({"b": {"x": 1}}, {"b": {"name": "n", "y": 2}}) == {"b": {"name": "n", "y": 2}}


# ---------------------------------------------------------------------------------------------
# Study.recipe_for: the variant's recipe, errors keyed to whoever set the value


def lucic_study(**variants) -> Study:
    data = copy.deepcopy(LUCIC)
    data["variants"].update(variants)
    return validate(Study, data, "studies.lucic")


def test_recipe_for_merges_the_variant_into_the_recipe():
    study = lucic_study()
    recipe = study.recipe_for("wgan_gp", "studies.lucic")
    assert recipe.objective.name == "wgan" and recipe.objective.fields() == {}
    assert recipe.penalty.name == "gp" and recipe.penalty.fields() == {"weight": 10.0}
    assert recipe.arch.fields() == {"width": 0.125, "z_dim": 8, "d_batchnorm": False}
    assert recipe.optimiser == study.recipe.optimiser and recipe.training == study.recipe.training
    assert study.recipe_for("ns", "studies.lucic") == study.recipe  # no overrides: the recipe


@pytest.mark.parametrize(
    ("variant", "key", "value"),
    [
        # the variant set the bad value: its key
        ({"optimiser": {"lr_g": -1.0}}, "studies.lucic.variants.x.optimiser.lr_g", -1.0),
        ({"training": {"stepz": 3}}, "studies.lucic.variants.x.training.stepz", 3),
        ({"evaluation": {"prdc_k": 40}}, "studies.lucic.variants.x.evaluation.prdc_k", 40),
        ({"arch": {"name": 5}}, "studies.lucic.variants.x.arch.name", 5),
        # the variant made the recipe's value bad: the recipe's key (it holds the value named)
        ({"training": {"steps": 2}}, "studies.lucic.recipe.training.num_checkpoints", 4),
        ({"evaluation": {"num_fake": 10}}, "studies.lucic.recipe.evaluation.kid_subset_size", 20),
    ],
)
def test_recipe_for_errors_name_the_key_that_set_the_value(variant, key, value):
    study = lucic_study(x=variant)  # variants are checked when their recipe is built
    with pytest.raises(ConfigError) as err:
        study.recipe_for("x", "studies.lucic")
    assert (err.value.key, err.value.value) == (key, value)


def test_config_error_rekeys_entry_errors_by_owner():
    """The plan's errors about an entry's fields (recipe paths) re-keyed the same way."""
    study = lucic_study(x={"objective": {"name": "wgan", "clip": -1.0}})
    for variant, path, key in [
        ("x", "objective.clip", "studies.lucic.variants.x.objective.clip"),
        ("x", "arch.width", "studies.lucic.recipe.arch.width"),
        ("ns", "objective.clip", "studies.lucic.recipe.objective.clip"),
    ]:
        err = study.config_error(ConfigError(path, -1.0, "> 0"), variant, "studies.lucic")
        assert (err.key, err.value, err.allowed) == (key, -1.0, "> 0")


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
    with pytest.raises(ConfigError, match="params key 'studies.lucic.recipe.objective.name'"):
        reg.get("beta", "studies.lucic.recipe.objective.name")
    with pytest.raises(ConfigError):
        reg.get(["unhashable"])


REGISTRIES = [
    OBJECTIVES,
    PENALTIES,
    ARCHITECTURES,
    DATASETS,
    LATENTS,
    PUBLISHED,
    FEATURE_EXTRACTORS,
]


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_project_registries_refuse_duplicates(registry):
    name = registry.names()[0]
    entry = registry.get(name)
    with pytest.raises(ValueError, match="already registered"):
        registry.add(name, object())
    assert registry.get(name) is entry
    assert len(registry) == len(set(registry.names()))


def test_registry_kinds_are_params_keys():
    """An unknown name with no key given still names where in a recipe it came from."""
    assert OBJECTIVES.kind == "objective.name" and PENALTIES.kind == "penalty.name"
    assert ARCHITECTURES.kind == "arch.name" and FEATURE_EXTRACTORS.kind == "features.extractor"


# ---------------------------------------------------------------------------------------------
# pipeline: where stages compute


def test_resolve_device_and_threads(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    threads = torch.get_num_threads()
    set_threads(0)
    assert torch.get_num_threads() == threads
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
