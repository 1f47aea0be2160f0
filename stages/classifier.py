"""classifier@<dataset>: train the offline feature network; write its weights and test accuracy."""

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.data import load_prepared
from ganbench.errors import UserError
from ganbench.io import sha256_file, write_json
from ganbench.metrics.classifier import train_classifier
from ganbench.metrics.features import save_classifier
from ganbench.record import ClassifierRecord
from ganbench.runtime import resolve_device, set_threads


def main(args) -> None:
    params = load_params(args.params)
    cfg, data = params.classifier, load_prepared(args.data)
    device = resolve_device(params.pipeline.device)
    set_threads(params.pipeline.threads)
    model, accuracy = train_classifier(
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        width=cfg.width,
        seed=cfg.seed,
        device=str(device),
    )
    if accuracy < cfg.min_accuracy:
        raise UserError(
            f"classifier test accuracy {accuracy:.4f} is below classifier.min_accuracy "
            f"= {cfg.min_accuracy}; raise classifier.epochs or classifier.width"
        )
    meta = {
        "dataset": data.name,
        "test_accuracy": accuracy,
        "epochs": cfg.epochs,
        "width": cfg.width,
        "lr": cfg.lr,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
    }
    save_classifier(args.out, model.cpu(), meta)
    record = {**meta, "weights_sha256": sha256_file(args.out)}
    ClassifierRecord.model_validate(record)  # the schema the reports read
    write_json(args.metrics, record)


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    for flag in ("--data", "--out", "--metrics"):
        parser.add_argument(flag, required=True)
    run_stage(main, parser)
