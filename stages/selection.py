"""select_<study>@<study>-<dataset>-<variant>: the variant's best search trial (Lucic et al.'s
phase 3 re-runs its setting on the study's seeds) -> selections/<study>/<...>.json.

Reads the trial records of ``metrics/<study>/search/``; no torch, so the stage costs a moment.
"""

from pathlib import Path

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params, run_name
from ganbench.errors import UserError
from ganbench.io import read_json, write_json
from ganbench.record import RunRecord, Selection, parse
from ganbench.search import selection


def main(args) -> None:
    study = load_params(args.params).study(args.study)
    trials = []
    for t in filter(study.search.phase1, study.search.trials):  # phase 3 re-runs phase 1's best
        path = (
            Path(args.search_dir) / f"{run_name(args.study, args.dataset, args.variant, 0, t)}.json"
        )
        rec = parse(RunRecord, read_json(path), path)
        if rec.search.role != "trial" or rec.search.trial != t or rec.variant != args.variant:
            raise UserError(f"{path}: not the record of trial {t} of {args.variant}")
        fid = rec.best.fid if rec.status == "ok" and rec.best is not None else None
        trials.append((t, rec.status, fid, rec.search.hparams))
    space = study.space_for(args.variant)
    chosen = selection(args.study, args.dataset, args.variant, space, trials)
    Selection.model_validate(chosen)
    write_json(args.out, chosen)
    print(f"{args.variant}: trial {chosen['chosen']} ({chosen['reason']})")


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    for flag in ("--study", "--dataset", "--variant", "--search-dir", "--out"):
        parser.add_argument(flag, required=True)
    run_stage(main, parser)
