"""The search section, in every report whose study has ``search.trials`` (Lucic et al. 2018, sec. 5):
how each variant's setting was chosen and what the search says about the models. Per dataset:
the best FID of every trial, the budget curves (best FID of k trials, Figure 4), the chance that
one model's best of N trials beats another's, and each variant's chosen trial beside the re-runs
of its setting. Files: ``<study>/search_trials.csv``, ``budget.csv``, ``p_beat.csv`` and the
figures ``search_fid.png`` and ``budget.png``.
"""

from __future__ import annotations

import pandas as pd

from ganbench.reporting import figures
from ganbench.reporting.budget import CURVE_COLUMNS, REPLICATES, SEED
from ganbench.reporting.context import Output, Report
from ganbench.reporting.tables import DASH, md_table, pm, value


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def _trials_csv(r: Report) -> str:
    """Every trial with its setting, one column per searched recipe field (blank where a
    variant's space has no such dimension)."""
    t = r.records.trials
    keys = sorted({k for h in t["hparams"] for k in h})
    wide = pd.DataFrame([{k: h.get(k) for k in keys} for h in t["hparams"]], columns=keys)
    columns = ["dataset", "variant", "trial", "phase", "space", "seed", "status", "fid"]
    return _csv(pd.concat([t[columns].reset_index(drop=True), wide], axis=1))


def _phases(r: Report) -> dict[int, list[int]]:
    """phase -> its trials (phase 2: from ``search.narrow_from`` on, in the narrow space)."""
    s = r.study.search
    return {
        phase: [t for t in s.trials if s.phase1(t) == (phase == 1)]
        for phase in sorted(set(r.records.trials["phase"]))
    }


def _phase_name(phase: int, trials: list[int]) -> str:
    span = f"trials {min(trials)}–{max(trials)}" if len(trials) > 1 else f"trial {trials[0]}"
    return f"phase {phase}: {span}{' in the narrow space' if phase == 2 else ''}"


def _setting(hparams: dict) -> str:
    return ", ".join(f"{k} {value(v)}" for k, v in hparams.items()) or DASH


def _chosen_table(r: Report, d: str) -> list[str]:
    """Per variant: its trials, the chosen one and its setting, and the re-runs of that setting."""
    t, summary = r.trials(d), r.summaries[d].set_index("variant")
    rows = []
    for v in r.study.variants:
        tv, sel, row = t[t["variant"] == v], r.selections[(d, v)], summary.loc[v]
        ok = tv[tv["status"] == "ok"]
        chosen = sel["chosen"]
        trial = DASH if chosen is None else str(chosen)
        fid = tv.loc[tv["trial"] == chosen, "fid"]
        rows.append(
            [f"`{v}`", f"{len(ok)} / {len(tv)}", trial, DASH if fid.empty else f"{fid.iloc[0]:.1f}"]
            + [_setting(sel["hparams"]), sel["reason"]]
            + [f"{pm(row['fid_mean'], row['fid_std'], 1)} ({row['n_ok']} / {row['n_seeds']} ok)"]
        )
    header = ["variant", "trials ok / total", "chosen trial", "its FID"]
    header += ["setting (recipe path value)", "how chosen"]
    header += [f"FID of the re-runs ({r.label(d)}), mean ± std (seeds ok)"]
    return md_table(header, rows)


def _beats_table(r: Report, d: str, phase: int) -> list[str]:
    beats = r.budgets[d].beats
    beats = beats[beats["phase"] == phase].set_index(["variant", "opponent"])["p_beat"]
    names = list(r.study.variants)
    rows = [[f"`{a}`", *(DASH if a == b else f"{beats[(a, b)]:.2f}" for b in names)] for a in names]
    return md_table(["P(row beats column)", *(f"`{b}`" for b in names)], rows)


def search_md(r: Report, out: Output) -> list[str]:
    """The search section; nothing without search trials."""
    s, t = r.study.search, r.records.trials
    if not s.trials:
        return []
    labels = {d: r.label(d) for d in r.study.datasets}
    variants = list(r.study.variants)
    curves = pd.concat([r.budgets[d].curves.assign(dataset=d) for d in r.study.datasets])
    beats = pd.concat([r.budgets[d].beats.assign(dataset=d) for d in r.study.datasets])
    out.texts[f"{r.name}/search_trials.csv"] = _trials_csv(r)
    out.texts[f"{r.name}/budget.csv"] = _csv(
        curves[["dataset", "variant", "phase", *CURVE_COLUMNS]]
    )
    out.texts[f"{r.name}/p_beat.csv"] = _csv(
        beats[["dataset", "variant", "opponent", "phase", "k", "p_beat"]]
    )
    out.figures[f"{r.fig_dir}/search_fid.png"] = figures.search_fid(
        t, r.study.datasets, variants, labels
    )
    out.figures[f"{r.fig_dir}/budget.png"] = figures.budget(
        curves, r.study.datasets, variants, labels
    )
    phases = _phases(r)
    spaces = ", ".join(sorted(set(t["space"])))
    lines = [
        "## Hyperparameter search (Lucic et al. 2018)",
        "",
        f"Every variant trained {len(s.trials)} search trials per dataset ("
        + "; ".join(_phase_name(p, trials) for p, trials in phases.items())
        + f"; space {spaces}): trial 0 is the recipe as set, trial k > 0 a setting drawn at "
        "random, trained with seed 10000 + k. The select stage chose the trial with the lowest "
        "best-checkpoint FID among those of phase 1 that ended ok; its setting is what every "
        "number above re-runs on the study's seeds. A trial that diverged or failed has no FID.",
        "",
        f"![best FID of every search trial]({r.fig_dir}/search_fid.png)",
        "",
        "Best-checkpoint FID of every trial that ended ok (dots) and their box (median, "
        "quartiles, whiskers to 1.5 IQR); the label counts the trials that diverged or failed.",
        "",
        f"![best FID of k trials against k]({r.fig_dir}/budget.png)",
        "",
        "The budget analysis (Lucic et al. 2018, Figure 4): the best FID of k trials drawn with "
        f"replacement from a variant's trials of one phase, {REPLICATES:,} bootstrap replicates "
        f"(numpy seed {SEED}); line: median, band: 2.5% to 97.5% quantile. A trial that did not "
        "end ok counts as +inf, so it never wins: where some replicate drew only such trials the "
        "mean is not finite (blank in budget.csv, beside p_all_failed, the share of such "
        "replicates; the figure draws the median for this reason), and a quantile is missing "
        "where at least that share of replicates drew only failures.",
        "",
    ]
    for d in r.study.datasets:
        lines += [f"### Search: `{d}` ({r.label(d)} features)", "", *_chosen_table(r, d)]
        for phase, trials in phases.items() if len(variants) > 1 else ():
            k = len(trials)
            lines += [
                f"P(best of {k} beats), {_phase_name(phase, trials)}: the chance that the best "
                f"FID of {k} trials drawn from the row's trials is lower than the column's "
                "(bootstrap as above; a tie, two failures included, counts 1/2).",
                "",
                *_beats_table(r, d, phase),
            ]
        out.summary.setdefault(d, {})["search"] = {
            v: {"chosen": r.selections[(d, v)]["chosen"]} for v in variants
        }
    files = ("search_trials.csv", "budget.csv", "p_beat.csv")
    return lines + ["Data: " + ", ".join(f"[{r.name}/{f}]({r.name}/{f})" for f in files) + ".", ""]
