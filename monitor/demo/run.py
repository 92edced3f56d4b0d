"""The demo's stages, each a library function: world, config, train, evaluate, database, ingest, report."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich import box
from rich.console import Console
from rich.table import Column, Table

from monitor.demo.logos import BRANDS, brand_by_role
from monitor.demo.model import PLANS, TrainingPlan, evaluate_model, progress_bar, train_model
from monitor.demo.truth import check_report
from monitor.demo.world import Scale, World, generate_world, planned_photo_count, resolve_scale

SOURCE_NAME = "demo-feed"


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
    def html_report(self) -> Path | None:
        return next((p for p in self.report_paths if p.suffix == ".html"), None)


@contextmanager
def _stage(console: Console, title: str, timings: dict[str, float], key: str) -> Iterator[None]:
    console.rule(f"[bold]{title}")
    started = time.perf_counter()
    yield
    timings[key] = round(time.perf_counter() - started, 1)
    console.print(f"[dim]{title}: {timings[key]:.1f} s[/dim]")


def make_world(out: Path, seed: int, scale: str | Scale, console: Console, workers: int | None = None) -> World:
    """Draw the world into `out` with a progress bar."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    total = planned_photo_count(seed, scale)
    with progress_bar(console) as progress:
        task = progress.add_task("drawing photos", total=total)
        world = generate_world(out, seed, scale, workers=workers, on_progress=lambda n: progress.advance(task, n))
    counts = world.counts
    console.print(f"brands: {', '.join(f'{b.name} ({b.role})' for b in BRANDS)}")
    console.print(
        f"training photos per folder: {counts['train']}; held out: {sum(counts['holdout'].values())}; "
        f"feed: {counts['feed_photos']} photos over 12 weeks; two-logo photos: {counts['two_logo_photos']}"
    )
    own = brand_by_role("own").name
    planted = world.planted[own]
    console.print(
        f"planted: {own} in {planted['baseline']:.0%} of photos before the campaign, "
        f"{planted['campaign']:.0%} during it ({world.campaign['start']} to {world.campaign['end']})"
    )
    return world


def demo_config(world: World, plan: TrainingPlan) -> dict[str, Any]:
    """The demo's config.yaml as data: SQLite beside it, the feed folder as a source, brands and the campaign."""
    own = brand_by_role("own").name
    return {
        "database": {"url": "sqlite:///monitor.db"},
        "brands": {"own": [own], "competitors": [b.name for b in BRANDS if b.name != own]},
        "campaigns": [dict(world.campaign)],
        "sources": [{"name": SOURCE_NAME, "kind": "folder", "path": "feed", "interval": "1h"}],
        "classifier": {
            "model": "models/demo",
            "backbone": plan.backbone,
            "weights": plan.weights,
            "input_size": plan.input_size,
            "batch_size": plan.batch_size,
            "epochs": plan.epochs,
            "augmentation": {"views": plan.views, "seed": world.seed},
        },
        "ingest": {"batch_size": 64},
        "paths": {"inbox": "inbox", "reports": "reports", "cache": ".cache", "models": "models"},
    }


def write_config(world: World, plan: TrainingPlan) -> Path:
    """Write DIR/config.yaml and check that it loads."""
    from monitor.config import load_settings

    path = world.root / "config.yaml"
    header = "# Written by `monitor demo`: the generated world's brands, campaign, feed and model.\n"
    path.write_text(
        header + yaml.safe_dump(demo_config(world, plan), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    load_settings(path)
    return path


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
    table.add_row(
        str(summary.new),
        str(summary.duplicates),
        str(summary.reposts),
        str(sum(summary.rejected.values())),
        ", ".join(f"{k}: {v}" for k, v in sorted(summary.detections.items())) or "0",
    )
    console.print(table)
    return {
        "new": summary.new,
        "duplicates": summary.duplicates,
        "reposts": summary.reposts,
        "rejected": dict(summary.rejected),
        "detections": dict(summary.detections),
    }


def write_campaign_report(settings: Any, console: Console) -> tuple[Any, list[Path]]:
    """The campaign report (CSV + HTML) through the reports package."""
    from reports.output import make_report

    campaign = settings.campaigns[0]
    report, paths = make_report(
        settings.database.url,
        None,
        ("csv", "html"),
        campaign=campaign.name,
        configured=settings.campaigns,
        tracked=settings.brands.tracked,
        reports_dir=settings.paths.reports,
        by="week",
    )
    console.print(f"[bold]{report.headline}[/bold]")
    for warning in report.warnings:
        console.print(f"note: {warning}")
    return report, paths


def headline_numbers(report: Any) -> dict[str, dict[str, float]]:
    """Corrected lift during the campaign with its 95% interval (raw beside it), for every brand in the report."""
    during = report.lifts[report.lifts["window"] == "during"]
    return {
        row["brand"]: {
            "lift": float(row["corrected_lift"]),
            "ci_low": float(row["corrected_ci_low"]),
            "ci_high": float(row["corrected_ci_high"]),
            "raw_lift": float(row["lift"]),
            "raw_ci_low": float(row["ci_low"]),
            "raw_ci_high": float(row["ci_high"]),
        }
        for _, row in during.iterrows()
    }


def _ratio(value: float) -> str:
    return "∞" if value == math.inf else (f"{value:.2f}" if math.isfinite(value) else "n/a")


def print_truth(check: Any, console: Console) -> None:
    """Planted vs measured lift for every brand and window (vs before), and the truth check's verdicts."""
    # Short headers, no side borders, the interval in a column of its own: it fits 80 columns, where one
    # "corrected (95% interval)" cell used to read "1.97x (1.85-2.…".
    table = Table(
        Column("brand", min_width=6),
        "window",
        *(Column(name, no_wrap=True) for name in ("planted", "in feed", "raw", "corrected", "95% interval")),
        Column("covers", min_width=3),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="lifts against the window before the campaign; in feed: the true lift among the photos drawn "
        "(planted: the rate they were drawn from); covers: the corrected interval covers truth",
    )
    for row in check.lifts.itertuples(index=False):
        table.add_row(
            row.brand,
            row.window,
            f"{row.planted:.2f}x",
            f"{row.true:.2f}x",
            f"{_ratio(row.raw)}x",
            f"{_ratio(row.corrected)}x",
            f"{_ratio(row.low)}-{_ratio(row.high)}",
            "yes" if row.covered else "[red]no[/red]",
        )
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


def run_demo(
    out: Path,
    seed: int = 0,
    scale: str | Scale = "full",
    console: Console | None = None,
    plan: TrainingPlan | None = None,
    workers: int | None = None,
) -> DemoResult:
    """Generate the world, write the config, train, evaluate, upgrade the database, ingest, report."""
    from monitor.config import load_settings

    resolve_scale(scale)  # an unknown scale fails before anything is written
    console = console or Console()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    plan = plan or PLANS.get(scale if isinstance(scale, str) else "small", TrainingPlan())
    timings: dict[str, float] = {}
    started, cpu_started = time.perf_counter(), _cpu_seconds()
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
    timings["cpu"] = round(_cpu_seconds() - cpu_started, 1)
    print_headline(result, console)
    console.print(
        f"cost: {timings['total']:.0f} s on {os.cpu_count()} CPU cores, {timings['cpu']:.0f} s of CPU time "
        f"(drawing {timings['world']:.0f} s, training {timings['train']:.0f} s, ingest {timings['ingest']:.0f} s, "
        f"report {timings['report']:.0f} s); machine load {os.getloadavg()[0]:.1f} at the end"
        + (" (other work was running: the wall time is longer than on an idle machine)" if _busy() else "")
    )
    return result


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the drawing workers)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _busy() -> bool:
    """Whether more runnable work than cores was waiting over the last 5 minutes (the demo uses all cores)."""
    return os.getloadavg()[1] > 1.5 * (os.cpu_count() or 1)
