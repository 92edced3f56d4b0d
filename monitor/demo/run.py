"""The demo's stages, each a library function: world, config, train, evaluate, database, ingest, report."""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from monitor.demo.logos import BRANDS, brand_by_role
from monitor.demo.truth import check_report
from monitor.demo.world import Scale, World, generate_world, planned_photo_count, resolve_scale

SOURCE_NAME = "demo-feed"
WHY_BACKBONE = ("MobileNet v1 (alpha 0.25) with weights 'none', trained from scratch on the drawn logos: "
                "it needs no internet and no weights file, and is small enough to train in a minute or two "
                "on 2 CPU cores. On real photos use InceptionV3 with ImageNet weights (the default), "
                "which `monitor train` fine-tunes a head on.")


@dataclass(frozen=True)
class TrainingPlan:
    """How the demo trains its model (small, offline)."""

    backbone: str = "mobilenet_v1_025"
    weights: str = "none"
    input_size: int = 96
    epochs: int = 25
    batch_size: int = 64
    views: int = 2
    learning_rate: float = 3e-3


PLANS = {"small": TrainingPlan(epochs=15), "full": TrainingPlan()}


@dataclass
class DemoResult:
    """What a demo run produced: paths, the model's scores, the ingest summary and the headline numbers."""

    out: Path
    config_path: Path
    world: World
    plan: TrainingPlan
    evaluation: dict[str, Any] = field(default_factory=dict)
    ingested: dict[str, Any] = field(default_factory=dict)
    report_paths: list[Path] = field(default_factory=list)
    headline: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    truth: Any = None  # monitor.demo.truth.TruthCheck: the report against the feed's ground truth

    @property
    def html_report(self) -> Optional[Path]:
        return next((p for p in self.report_paths if p.suffix == ".html"), None)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


@contextmanager
def _stage(console: Console, title: str, timings: dict[str, float], key: str) -> Iterator[None]:
    console.rule(f"[bold]{title}")
    started = time.perf_counter()
    yield
    timings[key] = round(time.perf_counter() - started, 1)
    console.print(f"[dim]{title}: {timings[key]:.1f} s[/dim]")


def make_world(out: Path, seed: int, scale: "str | Scale", console: Console, workers: Optional[int] = None) -> World:
    """Draw the world into `out` with a progress bar."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    total = planned_photo_count(seed, scale)
    with _progress(console) as progress:
        task = progress.add_task("drawing photos", total=total)
        world = generate_world(out, seed, scale, workers=workers, on_progress=lambda n: progress.advance(task, n))
    counts = world.counts
    console.print(f"brands: {', '.join(f'{b.name} ({b.role})' for b in BRANDS)}")
    console.print(f"training photos per folder: {counts['train']}; held out: {sum(counts['holdout'].values())}; "
                  f"feed: {counts['feed_photos']} photos over 12 weeks; two-logo photos: {counts['two_logo_photos']}")
    own = brand_by_role("own").name
    planted = world.planted[own]
    console.print(f"planted: {own} in {planted['baseline']:.0%} of photos before the campaign, "
                  f"{planted['campaign']:.0%} during it ({world.campaign['start']} to {world.campaign['end']})")
    return world


def demo_config(world: World, plan: TrainingPlan) -> dict[str, Any]:
    """The demo's config.yaml as data: SQLite beside it, the feed folder as a source, brands and the campaign."""
    own = brand_by_role("own").name
    return {
        "database": {"url": "sqlite:///monitor.db"},
        "brands": {"own": [own], "competitors": [b.name for b in BRANDS if b.name != own]},
        "campaigns": [dict(world.campaign)],
        "sources": [{"name": SOURCE_NAME, "kind": "folder", "path": "feed", "interval": "1h"}],
        "classifier": {"model": "models/demo", "backbone": plan.backbone, "weights": plan.weights,
                       "input_size": plan.input_size, "batch_size": plan.batch_size, "epochs": plan.epochs,
                       "augmentation": {"views": plan.views, "seed": world.seed}},
        "ingest": {"batch_size": 64},
        "paths": {"inbox": "inbox", "reports": "reports", "cache": ".cache", "models": "models"},
    }


def write_config(world: World, plan: TrainingPlan) -> Path:
    """Write DIR/config.yaml and check that it loads."""
    from monitor.config import load_settings

    path = world.root / "config.yaml"
    header = "# Written by `monitor demo`: the generated world's brands, campaign, feed and model.\n"
    path.write_text(header + yaml.safe_dump(demo_config(world, plan), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    load_settings(path)
    return path


def _datasets(world: World) -> tuple[Any, Any, Any]:
    """Training photos, and the held-out photos split in two: one half calibrates the model and chooses its
    thresholds, the other half measures its error rates at exactly those thresholds."""
    from classifier.dataset import load_dataset

    calibration, test = load_dataset(world.holdout_dir, progress=False).split(0.5, world.seed)
    return load_dataset(world.train_dir, progress=False), calibration, test


def train_model(settings: Any, world: World, plan: TrainingPlan, console: Console) -> Any:
    """Train the demo's classifier on the world's labelled photos; save the bundle where the config points."""
    from classifier.scratch import train_from_scratch

    console.print(f"backbone: [bold]{plan.backbone}[/bold], weights: [bold]{plan.weights}[/bold] "
                  f"(whole network trained from random weights), input {plan.input_size} px, "
                  f"{plan.epochs} epochs x {plan.views} views")
    console.print(f"[dim]why: {WHY_BACKBONE}[/dim]")
    train_set, held_out, _ = _datasets(world)
    with _progress(console) as progress:
        photos = progress.add_task("preparing views", total=len(train_set) + len(held_out))
        epochs = progress.add_task("training", total=plan.epochs)
        model = train_from_scratch(
            train_set, backbone=plan.backbone, input_size=plan.input_size, epochs=plan.epochs, views=plan.views,
            batch_size=plan.batch_size, learning_rate=plan.learning_rate, seed=world.seed, valid_set=held_out,
            on_photo=lambda: progress.advance(photos),
            on_epoch=lambda epoch, logs: progress.update(
                epochs, advance=1, description=f"training (loss {logs.get('loss', float('nan')):.3f})"))
    model.save(settings.classifier.model)
    console.print(f"thresholds calibrated on {len(held_out)} held-out photos: "
                  + ", ".join(f"{b} {t:.2f}" for b, t in model.thresholds.items()))
    console.print(f"model bundle: {settings.classifier.model}")
    return model


def evaluate_model(model: Any, world: World, settings: Any, console: Console) -> dict[str, Any]:
    """Score the other half of the held-out photos; store the error rates measured there in the bundle.

    Like `monitor evaluate --update-rates`: the rates are counted at the stored thresholds on photos that
    did not choose them (a split), which is what the report's correction needs."""
    from classifier.bundle import update_metrics
    from classifier.error_rates import at_thresholds
    from classifier.evaluate import evaluate

    _, calibration, test = _datasets(world)
    scores: list = []
    metrics = evaluate(model, test, keep_scores=scores)
    rates = at_thresholds(test.labels(model.classes), scores[0], model.classes, model.thresholds, None,
                          source="evaluate")
    rates["detail"] = (f"split: counted on {len(test)} held-out drawn photos at the stored thresholds, "
                       f"which were chosen on the other {len(calibration)}")
    model.metrics = {**model.metrics, "error_rates": rates}
    update_metrics(settings.classifier.model, model.metrics)
    console.print(f"{len(test)} held-out photos: macro AP {metrics['macro_average_precision']:.3f}, "
                  f"brand top-1 {metrics['brand_top1_accuracy']:.3f}")
    table = Table("brand", "finds (recall)", "false alarms on no-logo photos", "on other brands' photos")
    for brand, r in rates["brands"].items():
        table.add_row(brand, f"{r['tp']}/{r['positives']} = {r['recall'] or 0:.0%}",
                      f"{r['fp_nologo']}/{r['negatives_nologo']}", f"{r['fp_other']}/{r['negatives_other']}")
    console.print(f"error rates the report corrects with ({rates['detail']}):")
    console.print(table)
    return metrics


def prepare_database(settings: Any, console: Console) -> str:
    """`monitor db upgrade` on the demo's SQLite file."""
    from storage.migrate import upgrade

    revision = upgrade(settings.database.url)
    console.print(f"database {settings.database.url} at revision {revision}")
    return revision


def ingest_feed(settings: Any, console: Console) -> dict[str, Any]:
    """One `ingest --once` pass over the feed folder through the real pipeline."""
    from monitor.pipeline import ingest_once

    with console.status("ingesting the feed (fetch, check, dedupe, classify, store)..."):
        summaries = ingest_once(settings, [SOURCE_NAME])
    summary = summaries[0]
    if summary.error:
        from monitor.errors import MonitorError

        raise MonitorError(f"ingesting the demo feed failed: {summary.error}")
    table = Table("new", "duplicates", "reposts", "rejected", "detections")
    table.add_row(str(summary.new), str(summary.duplicates), str(summary.reposts),
                  str(sum(summary.rejected.values())),
                  ", ".join(f"{k}: {v}" for k, v in sorted(summary.detections.items())) or "0")
    console.print(table)
    return {"new": summary.new, "duplicates": summary.duplicates, "reposts": summary.reposts,
            "rejected": dict(summary.rejected), "detections": dict(summary.detections)}


def write_campaign_report(settings: Any, console: Console) -> tuple[Any, list[Path]]:
    """The campaign report (CSV + HTML) through the reports package."""
    from reports.output import make_report

    campaign = settings.campaigns[0]
    report, paths = make_report(settings.database.url, None, ("csv", "html"), campaign=campaign.name,
                                configured=settings.campaigns, tracked=settings.brands.tracked,
                                reports_dir=settings.paths.reports, by="week")
    console.print(f"[bold]{report.headline}[/bold]")
    for warning in report.warnings:
        console.print(f"note: {warning}")
    return report, paths


def headline_numbers(report: Any) -> dict[str, dict[str, float]]:
    """Corrected lift during the campaign with its 95% interval (raw beside it), for every brand in the report."""
    during = report.lifts[report.lifts["window"] == "during"]
    return {row["brand"]: {"lift": float(row["corrected_lift"]), "ci_low": float(row["corrected_ci_low"]),
                           "ci_high": float(row["corrected_ci_high"]), "raw_lift": float(row["lift"]),
                           "raw_ci_low": float(row["ci_low"]), "raw_ci_high": float(row["ci_high"])}
            for _, row in during.iterrows()}


def _ratio(value: float) -> str:
    return "∞" if value == math.inf else (f"{value:.2f}" if math.isfinite(value) else "n/a")


def print_truth(check: Any, console: Console) -> None:
    """Planted vs measured lift for every brand and window (vs before), and the truth check's verdicts."""
    table = Table("brand", "vs before", "planted", "true in feed", "raw", "corrected (95% interval)", "covers truth")
    for row in check.lifts.itertuples(index=False):
        table.add_row(row.brand, row.window, f"{row.planted:.2f}x", f"{row.true:.2f}x", f"{_ratio(row.raw)}x",
                      f"{_ratio(row.corrected)}x ({_ratio(row.low)}-{_ratio(row.high)})",
                      "yes" if row.covered else "[red]no[/red]")
    console.print(table)
    for ok, seen in check.checks.values():
        console.print(f"{'[green]pass[/green]' if ok else '[red]FAIL[/red]'}  {seen}")


def print_headline(result: DemoResult, console: Console) -> None:
    """The numbers a newcomer should look at, and where the report is."""
    console.rule("[bold]Result: planted truth against the report")
    if result.truth is not None:
        print_truth(result.truth, console)
    if result.html_report:
        console.print(f"report: [bold]{result.html_report}[/bold]")
    console.print(f"config: {result.config_path}  (try: monitor --config {result.config_path} status)")


def run_demo(out: Path, seed: int = 0, scale: "str | Scale" = "full", console: Optional[Console] = None,
             plan: Optional[TrainingPlan] = None, workers: Optional[int] = None) -> DemoResult:
    """Generate the world, write the config, train, evaluate, upgrade the database, ingest, report."""
    from monitor.config import load_settings

    resolve_scale(scale)  # an unknown scale fails before anything is written
    console = console or Console()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    plan = plan or PLANS.get(scale if isinstance(scale, str) else "small", TrainingPlan())
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with _stage(console, "1/6 Drawing the world: fictional brands, scenes, a 12-week feed", timings, "world"):
        world = make_world(out, seed, scale, console, workers)
        config_path = write_config(world, plan)
        settings = load_settings(config_path)
    result = DemoResult(out=out, config_path=config_path, world=world, plan=plan, timings=timings)
    with _stage(console, "2/6 Training the logo classifier", timings, "train"):
        model = train_model(settings, world, plan, console)
    with _stage(console, "3/6 Evaluating on held-out drawn photos", timings, "evaluate"):
        result.evaluation = evaluate_model(model, world, settings, console)
    with _stage(console, "4/6 Creating the database", timings, "database"):
        prepare_database(settings, console)
    with _stage(console, "5/6 Ingesting the feed", timings, "ingest"):
        result.ingested = ingest_feed(settings, console)
    with _stage(console, "6/6 Writing the campaign report", timings, "report"):
        report, result.report_paths = write_campaign_report(settings, console)
        result.headline = headline_numbers(report)
        result.truth = check_report(world.root, result.report_paths[0].parent)
    timings["total"] = round(time.perf_counter() - started, 1)
    print_headline(result, console)
    console.print(f"cost: {timings['total']:.0f} s on {os.cpu_count()} CPU cores (drawing {timings['world']:.0f} s, "
                  f"training {timings['train']:.0f} s, ingest {timings['ingest']:.0f} s, report {timings['report']:.0f} s)")
    return result
