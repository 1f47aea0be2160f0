"""The plan: a study's (dataset, variant, seed) resolved into a RunSpec against every registry, the
rules between registry entries (a penalty needs a logit D, labels need a labelled dataset and a
conditional architecture and objective, the objective's prior of z and D, the architecture's fit
to the data), the published rows a study names, and the RunSpec's serialisation and training key.
Every refusal names the params key that set the offending value."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pytest
import yaml
from ablation_helpers import LUCIC, RESNET, lucic_run, params_of, resnet_run, study_with
from torch import nn

from ganbench.config import Params, validate
from ganbench.data import DATASETS
from ganbench.errors import ConfigError
from ganbench.losses import OBJECTIVES, PENALTIES
from ganbench.losses.objectives import BEGAN, VAE, HingeGAN, NonSaturatingGAN, WassersteinGAN
from ganbench.models import ARCHITECTURES, Architecture, InfoGANParams, build_infogan
from ganbench.models.infogan import Autoencoder, Critic, Encoder, Generator
from ganbench.models.resnet import ResNetDiscriminator, ResNetGenerator
from ganbench.plan import (
    RunSpec,
    build_networks,
    build_objective,
    check_study,
    load_plan,
    resolve_run,
    run_name,
    study_runs,
)
from ganbench.published import PUBLISHED


def lucic_error(variant: str = "x", **overrides) -> ConfigError:
    """The error resolving lucic/shapes/<variant>/0, with ``overrides`` as variant x."""
    params = params_of(lucic=study_with(LUCIC, {"x": overrides}))
    with pytest.raises(ConfigError) as err:
        resolve_run(params, "lucic", "shapes", variant, 0)
    return err.value


def resnet_error(variant: str = "x", dataset: str = "shapes32", **overrides) -> ConfigError:
    study = study_with(RESNET, {"x": overrides})
    study["datasets"] = [dataset]
    with pytest.raises(ConfigError) as err:
        resolve_run(params_of(sagan=study), "sagan", dataset, variant, 0)
    return err.value


# ---------------------------------------------------------------------------------------------
# Resolution


def test_a_lucic_run_resolves_with_every_entry_filled():
    spec = lucic_run("ns", 1)
    assert (spec.study, spec.dataset, spec.variant, spec.seed) == ("lucic", "shapes", "ns", 1)
    assert spec.name == run_name("lucic", "shapes", "ns", 1) == "lucic-shapes-ns-1"
    assert spec.image_shape == (1, 28, 28) and spec.num_classes == 0  # unconditional
    assert spec.z_dim == 8
    # the architecture's own fields, with the ones the objective implies
    assert spec.recipe.arch.name == "infogan"
    assert spec.recipe.arch.fields() == {
        "width": 0.125,
        "z_dim": 8,
        "d_batchnorm": True,
        "bn_eps": 1e-3,  # compare_gan v1's batch_norm epsilon
        "discriminator": "critic",
        "g_activation": "lrelu",
    }
    assert spec.recipe.objective.fields() == {} and spec.recipe.penalty.fields() == {}


@pytest.mark.parametrize(
    ("variant", "arch", "objective", "penalty"),
    [
        ("wgan", {"discriminator": "critic", "d_batchnorm": True}, {"clip": 0.01}, ("none", {})),
        ("wgan_gp", {"d_batchnorm": False}, {"clip": None}, ("gp", {"weight": 10.0})),
        ("dragan", {}, {}, ("dragan", {"weight": 10.0})),
        ("began", {"discriminator": "autoencoder"}, {"gamma": 0.75, "lambda_k": 1e-3}, None),
        ("vae", {"discriminator": "encoder", "g_activation": "relu"}, {}, None),
    ],
)
def test_entries_are_filled_from_their_params_models(variant, arch, objective, penalty):
    spec = lucic_run(variant)
    fields = spec.recipe.arch.fields()
    assert {k: fields[k] for k in arch} == arch
    assert spec.recipe.objective.fields() == objective
    if penalty is not None:
        assert (spec.recipe.penalty.name, spec.recipe.penalty.fields()) == penalty


def test_a_resnet_run_is_conditional_and_takes_the_data_shape():
    spec = resnet_run("attention")
    assert spec.image_shape == (1, 32, 32) and spec.num_classes == 4
    assert spec.recipe.arch.fields()["g_attention"] == (16,)
    assert spec.recipe.arch.fields()["d_attention"] == (8,)
    assert spec.recipe.arch.fields()["init"] == "ortho"  # a default of the entry, filled in
    unconditional = resnet_run(training={"conditional": False})
    assert unconditional.num_classes == 0


def test_a_variant_replaces_a_named_block_whose_name_changes():
    """The recipe's WGAN with clipping; a variant naming another objective drops ``clip``
    (it would be an unknown key of ns), a variant naming the same one keeps it."""
    study = study_with(
        LUCIC,
        {"to_ns": {"objective": {"name": "ns"}}, "more_clip": {"objective": {"clip": 0.05}}},
        objective={"name": "wgan", "clip": 0.01},
    )
    params = params_of(lucic=study)
    ns = resolve_run(params, "lucic", "shapes", "to_ns", 0)
    assert (ns.recipe.objective.name, ns.recipe.objective.fields()) == ("ns", {})
    clip = resolve_run(params, "lucic", "shapes", "more_clip", 0)
    assert clip.recipe.objective.fields() == {"clip": 0.05}


def test_variants_override_any_block_and_leave_the_rest():
    spec = resnet_run(
        "x",
        variants={"x": {"optimiser": {"lr_d": 1e-3}, "training": {"batch_size": 16}}},
    )
    base = resnet_run()
    assert spec.recipe.optimiser.lr_d == 1e-3 and spec.recipe.training.batch_size == 16
    assert spec.recipe.optimiser.lr_g == base.recipe.optimiser.lr_g
    assert spec.recipe.training.model_copy(update={"batch_size": 8}) == base.recipe.training
    assert spec.recipe.arch == base.recipe.arch


def test_by_dataset_sets_the_runs_length_and_checkpoints():
    spec = lucic_run(training={"by_dataset": {"shapes": {"steps": 7, "num_checkpoints": 7}}})
    assert (spec.recipe.training.steps, spec.recipe.training.num_checkpoints) == (7, 7)
    assert spec.recipe.training.by_dataset == {}  # resolved: the run's own length
    two = study_with(LUCIC, training={"by_dataset": {"shapes": {"steps": 8}}})
    two["datasets"] = ["shapes", "celeba"]
    params = params_of(lucic=two)
    base = params.study("lucic").recipe.training
    shapes = resolve_run(params, "lucic", "shapes", "ns", 0).recipe.training
    assert (shapes.steps, shapes.num_checkpoints) == (8, base.num_checkpoints)  # unset: inherited
    celeba = resolve_run(params, "lucic", "celeba", "ns", 0).recipe.training
    assert (celeba.steps, celeba.num_checkpoints) == (20, base.num_checkpoints)
    # num_checkpoints must fit every dataset's length
    with pytest.raises(ConfigError) as err:
        params_of(lucic=study_with(LUCIC, training={"by_dataset": {"shapes": {"steps": 3}}}))
    assert err.value.key == "studies.lucic.recipe.training.by_dataset.shapes.num_checkpoints"
    assert "steps=3" in err.value.allowed


@pytest.mark.parametrize(
    ("args", "key", "value"),
    [
        (("lucic", "mnist", "ns", 0), "studies.lucic.datasets", "mnist"),
        (("lucic", "shapes", "gan", 0), "studies.lucic.variants", "gan"),
        (("lucic", "shapes", "ns", 7), "studies.lucic.seeds", 7),
        (("biggan", "shapes", "ns", 0), "studies", "biggan"),
    ],
)
def test_runs_outside_the_study_are_refused(args, key, value):
    with pytest.raises(ConfigError) as err:
        resolve_run(params_of(lucic=LUCIC), *args)
    assert (err.value.key, err.value.value) == (key, value)


# ---------------------------------------------------------------------------------------------
# The rules between entries


@pytest.mark.parametrize("objective", ["began", "vae"])
@pytest.mark.parametrize("penalty", ["gp", "dragan"])
def test_a_penalty_needs_a_logit_objective(objective, penalty):
    latent = {"training": {"latent": "normal"}} if objective == "vae" else {}
    err = lucic_error(objective={"name": objective}, penalty={"name": penalty}, **latent)
    assert (err.key, err.value) == ("studies.lucic.variants.x.penalty.name", penalty)
    assert err.allowed == "none: this objective has no logit D"
    # the same penalty in the study's recipe: the recipe's key
    study = study_with(LUCIC, penalty={"name": penalty})
    with pytest.raises(ConfigError) as err:
        resolve_run(params_of(lucic=study), "lucic", "shapes", "began", 0)
    assert err.value.key == "studies.lucic.recipe.penalty.name"


@pytest.mark.parametrize("name", [n for n in OBJECTIVES.names() if OBJECTIVES.get(n).takes_penalty])
def test_every_logit_objective_takes_a_penalty(name):
    params = params_of(
        lucic=study_with(LUCIC, {"x": {"objective": {"name": name}, "penalty": {"name": "gp"}}})
    )
    spec = resolve_run(params, "lucic", "shapes", "x", 0)
    assert spec.recipe.penalty.name == "gp"


def test_labels_need_a_labelled_dataset():
    study = study_with(LUCIC, {"x": {"training": {"conditional": True}}})
    study["datasets"] = ["celeba"]  # no labels
    with pytest.raises(ConfigError) as err:
        resolve_run(params_of(lucic=study), "lucic", "celeba", "x", 0)
    assert (err.value.key, err.value.value) == (
        "studies.lucic.variants.x.training.conditional",
        True,
    )
    assert err.value.allowed == "false: the dataset has no labels"


def test_labels_need_a_conditional_architecture():
    err = lucic_error(training={"conditional": True})
    assert (err.key, err.value) == ("studies.lucic.variants.x.training.conditional", True)
    assert err.allowed == "false: arch infogan is unconditional"


def test_labels_need_a_conditional_objective(monkeypatch):
    """No registered conditional architecture builds the D of a label-free objective; a test
    entry that would lets the objective's own rule show."""
    fake = Architecture(
        InfoGANParams, build_infogan, lambda *a: None, ("critic", "autoencoder", "encoder"), True
    )
    monkeypatch.setitem(ARCHITECTURES._entries, "conditional_infogan", fake)
    err = lucic_error(
        arch={"name": "conditional_infogan"},
        objective={"name": "began"},
        training={"conditional": True},
    )
    assert (err.key, err.value) == ("studies.lucic.variants.x.training.conditional", True)
    assert err.allowed == "false: objective began takes no labels"


def test_the_vae_needs_the_normal_prior():
    err = lucic_error(objective={"name": "vae"})
    assert (err.key, err.value) == ("studies.lucic.recipe.training.latent", "uniform")
    assert err.allowed == "one of normal"
    err = lucic_error(objective={"name": "vae"}, training={"latent": "uniform"})
    assert err.key == "studies.lucic.variants.x.training.latent"


@pytest.mark.parametrize("objective", ["began", "vae"])
def test_the_architecture_must_build_the_objectives_discriminator(objective):
    err = resnet_error(objective={"name": objective}, training={"conditional": False})
    assert (err.key, err.value) == ("studies.sagan.variants.x.objective.name", objective)
    assert err.allowed == "an objective whose D is one of critic (resnet)"


def test_arch_fields_the_objective_implies_cannot_be_set_otherwise():
    err = lucic_error(arch={"discriminator": "encoder"})
    assert (err.key, err.value) == ("studies.lucic.variants.x.arch.discriminator", "encoder")
    assert err.allowed == "critic (the objective's)"
    err = lucic_error(arch={"g_activation": "relu"})
    assert (err.key, err.allowed) == (
        "studies.lucic.variants.x.arch.g_activation",
        "lrelu (the objective's)",
    )
    # agreeing with the objective is allowed
    spec = resolve_run(
        params_of(lucic=study_with(LUCIC, {"x": {"arch": {"discriminator": "critic"}}})),
        "lucic", "shapes", "x", 0,
    )  # fmt: skip
    assert spec.recipe.arch.fields()["discriminator"] == "critic"


@pytest.mark.parametrize("penalty", ["gp", "dragan"])
def test_several_processes_refuse_a_penalty(penalty):
    err = resnet_error(penalty={"name": penalty}, training={"nproc": 2})
    assert (err.key, err.value) == ("studies.sagan.variants.x.penalty.name", penalty)
    assert err.allowed == "none when training.nproc > 1"
    spec = resnet_run("x", variants={"x": {"training": {"nproc": 2}}})
    assert spec.recipe.training.nproc == 2 and spec.recipe.penalty.name == "none"


def test_architecture_rules_on_the_data(monkeypatch):
    # InfoGAN's two stride-2 layers need 4 | H, W: a 30x30 dataset is refused at arch.name
    odd = SimpleNamespace(name="odd30", image_shape=(1, 30, 30), num_classes=0)
    monkeypatch.setitem(DATASETS._entries, "odd30", odd)
    study = copy.deepcopy(LUCIC) | {"datasets": ["odd30"]}
    params = validate(Params, {"datasets": ["odd30"], "studies": {"lucic": study}}, "")
    with pytest.raises(ConfigError) as err:
        resolve_run(params, "lucic", "odd30", "ns", 0)
    assert (err.value.key, err.value.value) == ("studies.lucic.recipe.arch.name", "infogan")
    assert "30x30" in err.value.allowed
    # the ResNet's rules: attention where the channels split into 8 heads' worth, skip-z
    err = resnet_error(arch={"g_attention": [16], "ch": 3})
    assert (err.key, err.value) == ("studies.sagan.variants.x.arch.g_attention", (16,))
    assert "multiple of 8" in err.allowed
    err = resnet_error(arch={"skip_z": True})
    assert (err.key, err.value) == ("studies.sagan.variants.x.arch.skip_z", True)


def test_a_resnet_on_images_it_has_no_plan_for_names_the_arch_and_the_data():
    """The resolution comes from the data: the error names the key that chose the architecture
    and says which image size did not fit (ResNetConfig's plans: 32, 64, 128)."""
    err = resnet_error("baseline", dataset="shapes")  # 28x28: no ResNet plan
    assert err.key == "studies.sagan.recipe.arch.name" and err.value == "resnet"
    assert "1x28x28 images" in err.allowed and "resolution 28: one of 32, 64, 128" in err.allowed


# ---------------------------------------------------------------------------------------------
# Studies: runs, published rows, the whole params file


def test_study_runs_are_every_dataset_variant_and_seed():
    study = copy.deepcopy(LUCIC) | {"datasets": ["shapes", "celeba"], "seeds": [3, 1]}
    params = params_of(lucic=study)
    runs = study_runs(params, "lucic")
    assert [(r.dataset, r.variant, r.seed) for r in runs] == [
        (d, v, s) for d in ("shapes", "celeba") for v in LUCIC["variants"] for s in (3, 1)
    ]
    assert len({r.name for r in runs}) == len(runs)
    assert study_runs(params_of(lucic=copy.deepcopy(LUCIC) | {"seeds": []}), "lucic") == []


def test_check_study_accepts_rows_of_the_published_table():
    params = params_of(lucic=LUCIC, sagan=RESNET)
    for name, study in params.studies.items():
        check_study(name, study)
    table = PUBLISHED.get("lucic2018_table2")
    rows = {r for v in params.study("lucic").variants.values() for r in v.paper_rows}
    assert rows <= set(table.row_keys)


@pytest.mark.parametrize(
    ("study", "key", "value"),
    [
        (
            study_with(LUCIC, {"x": {"paper_rows": ["ns", "wgan_gpp"]}}),
            "studies.lucic.variants.x.paper_rows",
            "wgan_gpp",
        ),
        (
            copy.deepcopy(LUCIC) | {"report": {"published": "sagan2019"}},  # rows of another paper
            "studies.lucic.variants.mm.paper_rows",
            "mm",
        ),
        (
            copy.deepcopy(LUCIC) | {"report": {"published": "lucic2019"}},
            "studies.lucic.report.published",
            "lucic2019",
        ),
    ],
)
def test_check_study_refuses_rows_outside_the_published_table(study, key, value):
    params = params_of(lucic=study)
    with pytest.raises(ConfigError) as err:
        check_study("lucic", params.study("lucic"))
    assert (err.value.key, err.value.value) == (key, value)
    if key.endswith("paper_rows"):
        table = PUBLISHED.get(study["report"]["published"])
        assert err.value.allowed == "one of " + ", ".join(table.row_keys)


def test_check_study_without_a_published_table_accepts_any_rows():
    study = study_with(LUCIC, {"x": {"paper_rows": ["anything"]}})
    study["report"] = {"published": None}
    check_study("lucic", params_of(lucic=study).study("lucic"))


def test_load_plan_resolves_every_run_before_any_work(tmp_path):
    """A bad variant of the second study stops load_plan, however far from the first run."""
    data = {
        "datasets": ["shapes", "shapes32"],
        "studies": {
            "lucic": LUCIC,
            "sagan": study_with(RESNET, {"late": {"arch": {"d_attention": [3]}}}),
        },
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_plan(path)
    assert err.value.key == "studies.sagan.variants.late.arch.d_attention"
    del data["studies"]["sagan"]["variants"]["late"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert set(load_plan(path).studies) == {"lucic", "sagan"}


def test_the_default_params_resolve_every_run():
    params = load_plan("params.yaml")
    assert {"lucic", "sagan", "biggan"} <= set(params.studies)
    for name, study in params.studies.items():
        assert study.baseline in study.variants
        per_pair = len(study.search.trials) + len(study.seeds)  # trials, then re-runs
        assert len(study_runs(params, name)) == len(study.datasets) * len(study.variants) * per_pair
    lucic = {
        v: resolve_run(params, "lucic", "fashion_mnist", v, 0)
        for v in params.study("lucic").variants
    }
    objectives = {s.recipe.objective.name for s in lucic.values()}
    assert objectives == set(OBJECTIVES.names()) - {"hinge"}  # Lucic et al.'s eight models
    assert {s.recipe.penalty.name for s in lucic.values()} == set(PENALTIES.names())
    rows = [r for v in params.study("lucic").variants.values() for r in v.paper_rows]
    assert sorted(rows) == sorted(PUBLISHED.get("lucic2018_table2").row_keys)
    assert all(s.num_classes == 0 for s in lucic.values())
    assert len(params.study("lucic").seeds) >= 5  # the best setting's re-runs (issue 10)
    for name in ("sagan", "biggan"):
        study = params.study(name)
        assert len(study.seeds) >= 4  # per ablation row (issue 10)
        for v in study.variants:
            spec = resolve_run(params, name, study.datasets[0], v, study.seeds[0])
            assert spec.recipe.arch.name == "resnet" and spec.num_classes > 0
    # BigGAN rows 5-8 use channels x1.5 and batch x4 of the baseline; row 8 adds ortho reg.
    base = resolve_run(params, "biggan", "fashion_mnist32", "baseline", 0)
    ortho = resolve_run(params, "biggan", "fashion_mnist32", "ortho", 0)
    assert ortho.recipe.arch.fields()["ch"] == 1.5 * base.recipe.arch.fields()["ch"]
    assert ortho.recipe.training.batch_size == 4 * base.recipe.training.batch_size
    assert base.recipe.training.ortho_beta == 0 and ortho.recipe.training.ortho_beta == 1e-4
    assert ortho.recipe.arch.fields()["skip_z"] and ortho.recipe.arch.fields()["shared_embedding"]
    attention32 = resolve_run(params, "sagan", "fashion_mnist32", "attention32", 0)
    assert attention32.recipe.arch.fields()["g_attention"] == (32,)
    every_row = load_plan("configs/ablations_cpu.yaml")  # the rows the default leaves out
    attention8 = resolve_run(every_row, "sagan", "fashion_mnist32", "attention8", 0)
    assert attention8.recipe.arch.fields()["g_attention"] == (8,)
    assert (
        len(every_row.study("sagan").variants) == 9 and len(every_row.study("biggan").variants) == 7
    )


# ---------------------------------------------------------------------------------------------
# RunSpec: serialisation and the training key


@pytest.mark.parametrize("variant", list(LUCIC["variants"]))
def test_runspec_round_trips_through_json(variant):
    spec = lucic_run(variant, 1)
    d = json.loads(json.dumps(spec.to_dict()))
    keys = {"study", "dataset", "variant", "seed", "recipe", "image_shape", "num_classes"}
    assert set(d) == keys | {"search"}
    back = RunSpec.from_dict(d)
    assert back == spec
    assert back.to_dict() == spec.to_dict() and back.training_key() == spec.training_key()


def test_runspec_of_a_resnet_run_round_trips_its_training():
    spec = resnet_run("attention")
    back = RunSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert back.to_dict() == spec.to_dict() and back.training_key() == spec.training_key()
    assert back.recipe.training == spec.recipe.training and back.image_shape == spec.image_shape
    G1, _ = build_networks(spec)
    G2, _ = build_networks(back)
    assert [n for n, _ in G1.named_parameters()] == [n for n, _ in G2.named_parameters()]


def test_runspec_of_a_resnet_run_with_attention_round_trips_exactly():
    spec = resnet_run("attention")
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_training_key_ignores_evaluation_and_figures():
    spec = lucic_run()
    same = lucic_run(
        evaluation={"num_fake": 60, "seed": 7, "truncation": [1.0]},
        figures={"grid_size": 5, "grid_truncation": [0.5]},
    )
    assert same.recipe.evaluation != spec.recipe.evaluation
    assert same.training_key() == spec.training_key()
    assert json.loads(spec.training_key())["recipe"].keys() == {
        "arch",
        "objective",
        "penalty",
        "optimiser",
        "training",
    }
    for other in (
        lucic_run(seed=1),
        lucic_run("mm"),
        lucic_run(arch={"width": 0.25}),
        lucic_run(penalty={"name": "dragan"}),
        lucic_run(optimiser={"lr_d": 2e-3}),
        lucic_run(training={"resume_every": 4}),
        lucic_run(training={"steps": 21}),
    ):
        assert other.training_key() != spec.training_key(), other.recipe


# ---------------------------------------------------------------------------------------------
# Building what a RunSpec names


@pytest.mark.parametrize(
    ("variant", "cls", "penalty", "d"),
    [
        ("ns", NonSaturatingGAN, None, Critic),
        ("wgan_gp", WassersteinGAN, 10.0, Critic),
        ("hinge", HingeGAN, None, Critic),
        ("began", BEGAN, None, Autoencoder),
        ("vae", VAE, None, Encoder),
    ],
)
def test_build_objective_and_networks(variant, cls, penalty, d):
    spec = lucic_run(variant)
    objective = build_objective(spec)
    assert type(objective) is cls
    assert (objective.penalty and objective.penalty.weight) == penalty
    if penalty is not None:
        assert objective.penalty.fn is PENALTIES.get("gp")
    assert objective.params == cls.Params(**spec.recipe.objective.fields())
    G, D = build_networks(spec)
    assert type(G) is Generator and type(D) is d
    bns = [m for m in D.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bool(bns) == spec.recipe.arch.fields()["d_batchnorm"]


def test_build_networks_of_a_resnet_run():
    spec = resnet_run("attention")
    G, D = build_networks(spec)
    assert type(G) is ResNetGenerator and type(D) is ResNetDiscriminator
    assert G.cfg.num_classes == 4 and G.cfg.resolution == 32 and G.cfg.image_channels == 1
    assert type(build_objective(spec)) is HingeGAN
