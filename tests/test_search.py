"""Lucic et al. 2018's search (ganbench.search and its use in ganbench.plan): the paper's wide and
narrow ranges (shared/reference/lucic.md, "Hyperparameters"), draws that depend only on (study,
variant, trial), trial 0 as the recipe as set, the choice of the best trial and its selection
file, and search trials and re-runs resolved into runs."""

from __future__ import annotations

import copy
import math

import pytest
from ablation_helpers import LUCIC, params_of

from ganbench.errors import ConfigError
from ganbench.plan import check_study, resolve_run, searchable, study_runs
from ganbench.record import Selection
from ganbench.search import TRIAL_SEED, choose, dimensions, sample, selection

N = 400  # draws per range check


def lucic(space: str = "narrow", trials=(0, 1, 2), **search) -> dict:
    study = copy.deepcopy(LUCIC)
    study["search"] = {"space": space, "trials": list(trials), **search}
    return study


def recipe_fields(variant: str) -> dict:
    """The searchable fields of the tiny study's variant, resolved."""
    return searchable(resolve_run(params_of(lucic=lucic()), "lucic", "shapes", variant, 0).recipe)


def draws(space: str, variant: str, n: int = N) -> list[dict]:
    fields = recipe_fields(variant)
    return [sample(space, "lucic", variant, t, fields) for t in range(1, n + 1)]


def column(rows: list[dict], path: str) -> list:
    return [r[path] for r in rows]


# ---------------------------------------------------------------------------------------------
# The spaces: every draw inside the paper's ranges, both ends of each range reached


def within(values, lo, hi, log=False):
    v = [math.log10(x) for x in values] if log else values
    span = hi - lo
    assert all(lo <= x <= hi for x in v), (min(v), max(v))
    # uniform over [lo, hi]: N draws come within 3% of the span of both ends
    assert min(v) < lo + 0.03 * span and max(v) > hi - 0.03 * span


def test_wide_ranges():
    wgan, gp, began = draws("wide", "wgan"), draws("wide", "wgan_gp"), draws("wide", "began")
    within(column(wgan, "optimiser.lr_g"), -5, -2, log=True)
    within(column(wgan, "optimiser.beta1"), 0, 1)
    within(column(wgan, "objective.clip"), -3, 0, log=True)
    within(column(gp, "penalty.weight"), -1, 2, log=True)
    within(column(began, "objective.lambda_k"), -4, -2, log=True)
    within(column(began, "objective.gamma"), 0, 1)
    assert set(column(wgan, "optimiser.n_disc")) == {1, 5}
    assert set(column(gp, "arch.d_batchnorm")) == {True, False}  # wide: BN in D for every model
    for rows in (wgan, gp, began):  # one learning rate for G and D
        assert column(rows, "optimiser.lr_g") == column(rows, "optimiser.lr_d")


def test_narrow_ranges():
    wgan, gp = draws("narrow", "wgan"), draws("narrow", "wgan_gp")
    dragan, began, ns = draws("narrow", "dragan"), draws("narrow", "began"), draws("narrow", "ns")
    within(column(ns, "optimiser.lr_g"), -4, -3, log=True)
    within(column(wgan, "objective.clip"), -2, 0, log=True)
    within(column(gp, "penalty.weight"), -1, 1, log=True)
    within(column(began, "objective.gamma"), 0.6, 0.9)
    assert set(column(began, "objective.lambda_k")) == {1e-3}
    for rows in (wgan, gp, dragan, began, ns):
        assert set(column(rows, "optimiser.beta1")) == {0.5}
        assert set(column(rows, "optimiser.n_disc")) == {1}
    assert set(column(ns, "arch.d_batchnorm")) == {True, False}
    # the narrow range has no BN in D for WGAN GP and DRAGAN (the penalised models)
    assert set(column(gp, "arch.d_batchnorm")) == set(column(dragan, "arch.d_batchnorm")) == {False}


def test_a_dimension_applies_only_where_its_field_exists():
    names = {v: {d.name for d in dimensions("wide", recipe_fields(v))} for v in LUCIC["variants"]}
    assert names["ns"] == {"lr", "beta1", "n_disc", "d_batchnorm"}
    assert names["wgan"] == names["ns"] | {"clip"}
    assert names["wgan_gp"] == names["ns"] | {"penalty"}
    assert names["began"] == names["ns"] | {"lambda_k", "gamma"}
    assert names["vae"] == {"lr", "beta1", "d_batchnorm"}  # no D optimiser: no n_disc
    assert dimensions("none", recipe_fields("ns")) == []


# ---------------------------------------------------------------------------------------------
# Determinism


def test_draws_depend_only_on_study_variant_and_trial():
    fields = recipe_fields("wgan")
    first = sample("wide", "lucic", "wgan", 7, fields)
    assert sample("wide", "lucic", "wgan", 7, dict(fields)) == first
    others = [sample("wide", *key, fields) for key in
              (("lucic", "wgan", 8), ("lucic", "ns", 7), ("other", "wgan", 7))]  # fmt: skip
    assert all(o["optimiser.lr_g"] != first["optimiser.lr_g"] for o in others)


def test_a_draw_is_pinned_across_python_and_platforms():
    """sha256 of 'lucic/ns/1/lr' seeds Python's Mersenne Twister; uniform(-4, -3) of its first
    double. A change of the key or of the generator would silently re-draw every search."""
    lr = sample("narrow", "lucic", "ns", 1, recipe_fields("ns"))["optimiser.lr_g"]
    assert f"{lr:.12e}" == "8.844730861778e-04"  # computed once, by hand, from the recipe above


def test_trial_zero_is_the_recipe_as_set():
    for space in ("wide", "narrow"):
        fields = recipe_fields("wgan")
        zero = sample(space, "lucic", "wgan", 0, fields)
        assert zero == {k: fields[k] for k in zero}
        assert "objective.clip" in zero


# ---------------------------------------------------------------------------------------------
# Choosing the best trial; the selection file


def test_choose_takes_the_lowest_fid_among_ok_trials():
    assert choose([(0, "ok", 30.0), (1, "ok", 20.0), (2, "ok", 25.0)]) == 1
    assert choose([(0, "ok", 30.0), (1, "diverged", None), (2, "failed", None)]) == 0
    assert choose([(3, "ok", 20.0), (1, "ok", 20.0), (2, "ok", 21.0)]) == 1  # tie: lower index
    assert choose([(0, "ok", float("nan")), (1, "ok", 5.0)]) == 1
    assert choose([(0, "diverged", None)]) is None and choose([]) is None


def test_the_selection_holds_only_what_the_re_runs_train_on():
    trials = [(0, "ok", 30.0, {"optimiser.lr_g": 1e-4}), (1, "ok", 20.0, {"optimiser.lr_g": 5e-4})]
    out = selection("lucic", "shapes", "ns", "narrow", trials)
    Selection.model_validate(out)
    assert out["chosen"] == 1 and out["hparams"] == {"optimiser.lr_g": 5e-4}
    # a trial that does not win leaves the file (and so the re-runs) as it was
    worse = trials + [(2, "ok", 40.0, {"optimiser.lr_g": 9e-4})]
    assert selection("lucic", "shapes", "ns", "narrow", worse) == out
    failed = selection("lucic", "shapes", "ns", "narrow", [(0, "diverged", None, {})])
    assert failed["chosen"] is None and failed["hparams"] == {}
    assert "recipe as set" in failed["reason"]
    none = selection("lucic", "shapes", "ns", "none", [])
    assert none["chosen"] is None and "no search" in none["reason"]


# ---------------------------------------------------------------------------------------------
# Trials and re-runs as runs


def test_a_trial_run_trains_its_drawn_setting_on_its_own_seed():
    params = params_of(lucic=lucic("wide"))
    spec = resolve_run(params, "lucic", "shapes", "wgan", trial=2)
    assert spec.name == "lucic-shapes-wgan-t2" and spec.seed == TRIAL_SEED + 2
    hp = spec.search["hparams"]
    assert spec.search == {"space": "wide", "role": "trial", "trial": 2, "hparams": hp}
    r = spec.recipe
    assert r.optimiser.lr_g == r.optimiser.lr_d == hp["optimiser.lr_g"]
    assert r.objective.fields()["clip"] == hp["objective.clip"]
    assert r.arch.fields()["d_batchnorm"] == hp["arch.d_batchnorm"]


def test_a_re_run_trains_the_selected_setting():
    params = params_of(lucic=lucic())
    chosen = Selection(study="lucic", dataset="shapes", variant="ns", space="narrow", chosen=2,
                       hparams={"optimiser.lr_g": 3e-4, "optimiser.lr_d": 3e-4}, reason="x")  # fmt: skip
    spec = resolve_run(params, "lucic", "shapes", "ns", 1, selected=chosen)
    assert spec.name == "lucic-shapes-ns-1" and spec.seed == 1
    assert spec.recipe.optimiser.lr_g == spec.recipe.optimiser.lr_d == 3e-4
    assert spec.search == {"space": "narrow", "role": "seed", "trial": 2,
                           "hparams": {"optimiser.lr_d": 3e-4, "optimiser.lr_g": 3e-4}}  # fmt: skip
    plain = resolve_run(params, "lucic", "shapes", "ns", 1)
    assert plain.search["trial"] is None and plain.recipe.optimiser.lr_g == 0.001


def test_study_runs_are_trials_then_re_runs():
    runs = study_runs(params_of(lucic=lucic(trials=(0, 4))), "lucic")
    names = [r.name for r in runs]
    v = list(LUCIC["variants"])
    assert names == [f"lucic-shapes-{m}-t{t}" for m in v for t in (0, 4)] + [
        f"lucic-shapes-{m}-{s}" for m in v for s in (0, 1)
    ]


def test_the_narrow_phase_and_a_variant_s_own_space():
    study = lucic("wide", trials=(0, 1, 2, 3), narrow_from=2)
    study["variants"]["ns"]["search"] = {"space": "none"}
    params = params_of(lucic=study)
    spaces = {t: resolve_run(params, "lucic", "shapes", "wgan", trial=t).search["space"]
              for t in (0, 1, 2, 3)}  # fmt: skip
    assert spaces == {0: "wide", 1: "wide", 2: "narrow", 3: "narrow"}
    ns = resolve_run(params, "lucic", "shapes", "ns", trial=1)
    assert ns.search["space"] == "none" and ns.search["hparams"] == {}
    assert ns.recipe == resolve_run(params, "lucic", "shapes", "ns", 0).recipe


@pytest.mark.parametrize(
    "search, key, value",
    [
        ({"space": "narrow", "trials": [0, 0]}, "studies.lucic.search.trials", [0, 0]),
        ({"space": "broad", "trials": []}, "studies.lucic.search.space", "broad"),
        ({"space": "wide", "trials": [0], "narrow_from": 0}, "studies.lucic.search.narrow_from", 0),
        ({"space": "wide", "trials": [0], "extra": 1}, "studies.lucic.search.extra", 1),
    ],
)
def test_bad_search_params_name_the_key(search, key, value):
    with pytest.raises(ConfigError) as err:
        params_of(lucic=lucic() | {"search": search})
    assert (err.value.key, err.value.value) == (key, value)


def test_a_trial_outside_the_list_and_a_seed_in_the_trial_range_are_refused():
    params = params_of(lucic=lucic(trials=(0, 1)))
    with pytest.raises(ConfigError) as err:
        resolve_run(params, "lucic", "shapes", "ns", trial=5)
    assert (err.value.key, err.value.value) == ("studies.lucic.search.trials", 5)
    study = lucic() | {"seeds": [0, TRIAL_SEED]}
    with pytest.raises(ConfigError) as err:
        check_study("lucic", params_of(lucic=study).study("lucic"))
    assert (err.value.key, err.value.value) == ("studies.lucic.seeds", TRIAL_SEED)
