"""`monitor dataset stats`, `monitor train`, `monitor evaluate`, `monitor predict`: the classifier."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _settings(ctx: typer.Context):
    """The config's settings, or the defaults when no config file exists and none was asked for."""
    from monitor.config import Settings, config_path

    if ctx.obj.config is None and not config_path().exists():
        return Settings()
    return ctx.obj.settings


def register(app: typer.Typer) -> None:
    """Add the `dataset` group and the `train`, `evaluate` and `predict` commands."""
    group = typer.Typer(help="Inspect labelled photo sets.", no_args_is_help=True)

    @group.command("stats")
    def stats(
        data_dir: Path | None = typer.Argument(None, help="Folder with one sub-folder per brand (none/ = no logo)."),
        negatives: list[Path] = typer.Option([], "--negatives", help="Extra folder of no-logo photos (repeatable)."),
        labels: Path | None = typer.Option(None, "--labels", help="CSV of path,brands (brands separated by |)."),
        boxes: Path | None = typer.Option(None, "--boxes", help="CSV of image,brand,x1,y1,x2,y2."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    ) -> None:
        """Count photos per brand, duplicates, unreadable files and photo sizes.

        Example: monitor dataset stats data/logos --negatives data/scenes
        """
        from classifier.workflows import stats as dataset_stats

        result = dataset_stats(data_dir, negatives, labels, boxes)
        if as_json:
            typer.echo(json.dumps(result, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        console = Console()
        table = Table(title=f"{result['photos']} distinct photos")
        table.add_column("class")
        table.add_column("photos", justify="right")
        for brand, count in result["per_class"].items():
            table.add_row(brand, str(count))
        table.add_row("(no logo)", str(result["no_logo"]))
        console.print(table)
        sizes = result["sizes"]
        console.print(f"multi-brand photos: {result['multi_label']}   boxes: {result['boxes']}")
        console.print(
            f"width min/median/max: {sizes['width']['min']}/{sizes['width']['median']:.0f}/"
            f"{sizes['width']['max']}   height: {sizes['height']['min']}/{sizes['height']['median']:.0f}/"
            f"{sizes['height']['max']}"
        )
        console.print(f"duplicates (same bytes, counted once): {len(result['duplicates'])}")
        for paths in result["duplicates"]:
            console.print("  " + "  =  ".join(paths), highlight=False)
        console.print(f"unreadable files (skipped): {len(result['unreadable'])}")
        for entry in result["unreadable"]:
            console.print(f"  {entry['path']}: {entry['reason']}", highlight=False)
        for problem in result["box_problems"]:
            console.print(f"  box skipped: {problem}", highlight=False)

    app.add_typer(group, name="dataset")

    @app.command("train")
    def train(
        ctx: typer.Context,
        data_dir: Path | None = typer.Argument(None, help="Folder with one sub-folder per brand (none/ = no logo)."),
        out: Path = typer.Option(..., "--out", help="Bundle directory to write."),
        backbone: str | None = typer.Option(
            None, help="inception_v3, mobilenet_v2, efficientnet_b0, mobilenet_v1_025."
        ),
        weights: str | None = typer.Option(None, help="imagenet, none, or a local weights file."),
        negatives: list[Path] = typer.Option([], "--negatives", help="Extra folder of no-logo photos (repeatable)."),
        boxes: Path | None = typer.Option(None, "--boxes", help="CSV image,brand,x1,y1,x2,y2: also learn from crops."),
        labels: Path | None = typer.Option(None, "--labels", help="CSV of path,brands instead of folders."),
        epochs: int | None = typer.Option(None, help="Most head-training epochs (early stopping)."),
        input_size: int | None = typer.Option(None, "--input-size", help="Pixels per side (default: the backbone's)."),
        views: int | None = typer.Option(None, "--views", help="Augmented views per photo (default: config)."),
        fine_tune: int = typer.Option(0, "--fine-tune", help="Then unfreeze the top N backbone layers."),
        target_precision: float | None = typer.Option(
            None, "--target-precision", help="Thresholds for this precision instead of the best F1."
        ),
        validation: float = typer.Option(0.2, help="Fraction of photos held out for validation."),
        seed: int = typer.Option(0, help="Seed of the split and the training."),
        cache: Path | None = typer.Option(None, help="Feature cache folder (default: paths.cache/features)."),
        tiling: bool | None = typer.Option(
            None,
            "--tiling/--no-tiling",
            help="Train the head and calibrate thresholds on tiles, or on whole photos (default: classifier.tiling; "
            "auto trains on feature windows).",
        ),
    ) -> None:
        """Train a logo classifier on labelled photos and save a model bundle.

        Example: monitor train data/logos --negatives data/scenes --out models/current
        """
        from classifier.workflows import train_bundle

        settings = _settings(ctx).classifier
        model, dataset = train_bundle(
            data_dir,
            out,
            negatives=negatives,
            labels=labels,
            boxes=boxes,
            backbone=backbone or settings.backbone,
            weights=weights or settings.weights,
            input_size=input_size or settings.input_size,
            epochs=epochs or settings.epochs,
            augmentation=settings.augmentation,
            views=views,
            validation=validation,
            seed=seed,
            cache_dir=cache or (_settings(ctx).paths.cache / "features"),
            fine_tune=fine_tune,
            target_precision=target_precision,
            batch_size=settings.batch_size,
            precision=settings.precision,
            tiling=_tiling(settings, tiling, training=True),
        )
        for path, reason in dataset.unreadable:
            typer.echo(f"skipped {path}: {reason}", err=True)
        metrics = model.metrics
        typer.echo(f"saved {out} ({len(model.classes)} brands, {model.backbone} at {model.input_size} px)")
        if metrics:
            typer.echo(
                f"validation: macro AP {_fmt(metrics['macro_average_precision'])}, brand top-1 "
                f"{_fmt(metrics['brand_top1_accuracy'])}, no-logo false positives "
                f"{_fmt(metrics['nologo_false_positive_rate'])}"
            )
            rates = metrics["error_rates"]
            typer.echo(
                f"error rates ({rates['method']}, {rates['photos']} photos): "
                + ", ".join(
                    f"{b} recall {_fmt(r['recall'])}, false alarms {_fmt(r['fpr'])}" for b, r in rates["brands"].items()
                )
            )

    @app.command("evaluate")
    def evaluate(
        ctx: typer.Context,
        data_dir: Path | None = typer.Argument(None, help="Labelled folder to evaluate on."),
        model: Path | None = typer.Option(None, "--model", help="Bundle directory (default: classifier.model)."),
        negatives: list[Path] = typer.Option([], "--negatives", help="Extra folder of no-logo photos (repeatable)."),
        labels: Path | None = typer.Option(None, "--labels", help="CSV of path,brands instead of folders."),
        json_path: Path | None = typer.Option(None, "--json", help="Write the metrics as JSON here."),
        html_path: Path | None = typer.Option(None, "--html", help="Write an HTML report here."),
        tiling: bool | None = typer.Option(
            None, "--tiling/--no-tiling", help="Default: classifier.tiling (auto: as the bundle was trained)."
        ),
        update_rates: bool = typer.Option(
            False, "--update-rates", help="Store the error rates measured here in the bundle (for reports)."
        ),
    ) -> None:
        """Measure a model bundle on labelled photos: AP, top-1, false positives, error rates, per brand.

        Example: monitor evaluate --model models/current data/test --json eval.json --html eval.html
        """
        from classifier.workflows import evaluate_bundle

        settings = _settings(ctx).classifier
        metrics = evaluate_bundle(
            model or settings.model,
            data_dir,
            negatives=negatives,
            labels=labels,
            tiling=_tiling(settings, tiling),
            json_path=json_path,
            html_path=html_path,
            batch_size=settings.batch_size,
            precision=settings.precision,
            update_rates=update_rates,
        )
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{metrics['photos']} photos")
        for column in ("brand", "precision", "recall", "f1", "ap", "support"):
            table.add_column(column, justify="left" if column == "brand" else "right")
        for brand, row in metrics["per_brand"].items():
            table.add_row(brand, *(_fmt(row[k]) for k in ("precision", "recall", "f1", "ap", "support")))
        console = Console()
        console.print(table)
        for key in (
            "macro_average_precision",
            "brand_top1_accuracy",
            "nologo_false_positive_rate",
            "micro_precision",
            "micro_recall",
        ):
            console.print(f"{key}: {_fmt(metrics[key])}")
        rates = metrics["error_rates"]["brands"]
        console.print(
            "error rates at the stored thresholds: "
            + ", ".join(
                f"{b} recall {_fmt(r['recall'])} ({r['tp']}/{r['positives']}), false alarms {_fmt(r['fpr'])} "
                f"({r['fp']}/{r['negatives']})"
                for b, r in rates.items()
            ),
            highlight=False,
        )
        if "rates_stored" in metrics:
            console.print(f"error rates stored in {metrics['rates_stored']['bundle']} (source: evaluate)")

    @app.command("predict")
    def predict(
        ctx: typer.Context,
        images: list[Path] = typer.Argument(..., help="Photo files."),
        model: Path | None = typer.Option(None, "--model", help="Bundle directory (default: classifier.model)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        tiling: bool | None = typer.Option(
            None, "--tiling/--no-tiling", help="Default: classifier.tiling (auto: as the bundle was trained)."
        ),
    ) -> None:
        """Show the brands a model bundle sees in photos.

        Example: monitor predict --model models/current photo1.jpg photo2.jpg
        """
        from classifier.workflows import predict_paths

        settings = _settings(ctx).classifier
        results = predict_paths(
            model or settings.model,
            images,
            tiling=_tiling(settings, tiling),
            thresholds=settings.thresholds,
            batch_size=settings.batch_size,
            precision=settings.precision,
        )
        if as_json:
            typer.echo(json.dumps(results, indent=2))
            return
        for entry in results:
            if "error" in entry:
                typer.echo(f"{entry['path']}: error: {entry['error']}")
            elif entry["detections"]:
                found = ", ".join(f"{d['brand']} (about {d['confidence']:.0%} likely)" for d in entry["detections"])
                typer.echo(f"{entry['path']}: {found}")
            else:
                typer.echo(f"{entry['path']}: no logo")


def _tiling(settings, flag: bool | None, training: bool = False):
    """classifier.tiling, with --tiling/--no-tiling applied (`auto` scores as the bundle was trained)."""
    from monitor.model import configured_tiling

    return configured_tiling(settings.tiling, flag, training)


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
