"""baselines_<study>@<dataset>: the sanity rows, real train vs reference (floor) and the study's
baseline G untrained (ceiling) -> metrics/<study>/baselines-<dataset>.json."""

from ganbench.cli import run_stage, stage_parser
from ganbench.data import load_prepared
from ganbench.evaluation.baselines import sanity_rows
from ganbench.io import write_json
from ganbench.metrics.evaluate import Reference
from ganbench.metrics.features import extractor_from_params
from ganbench.plan import load_plan, resolve_run
from ganbench.runtime import resolve_device, set_threads


def main(args) -> None:
    params = load_plan(args.params)
    study = params.study(args.study)
    spec = resolve_run(params, args.study, args.dataset, study.baseline, min(study.seeds))
    set_threads(params.pipeline.threads)
    device = resolve_device(params.pipeline.device)
    extractor = extractor_from_params(params.features, trained_weights=args.weights, device=device)
    data = load_prepared(args.data)
    record = sanity_rows(data, extractor, Reference.load(args.reference), spec, device)
    write_json(args.metrics, record)
    print({k: round(v["fid"], 2) for k, v in record["rows"].items()})


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    for flag in ("--study", "--dataset", "--data", "--weights", "--reference", "--metrics"):
        parser.add_argument(flag, required=True)
    run_stage(main, parser)
