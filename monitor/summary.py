"""Rich tables for `monitor ingest` (what one pass stored) and `monitor status` (each source's health,
and the broker, queues and workers of the celery executor)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from monitor.config import Settings
from monitor.distributed.status import ClusterStatus, cluster_status
from monitor.review.status import judgments_line
from storage.engine import open_database
from storage.sources import source_status


def _counts(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "0"


def summary_table(summaries: list) -> Table:
    """One row per source of an ingest pass, and a total row."""
    table = Table(title="Ingest summary")
    for header in ("source", "new", "dupes", "reposts", "rejected", "fetch failures", "detections", "poll"):
        table.add_column(header, overflow="fold")
    totals: dict[str, Any] = {"new": 0, "duplicates": 0, "reposts": 0, "rejected": {}, "failures": {}, "detections": {}}
    for s in summaries:
        table.add_row(
            s.name,
            str(s.new),
            str(s.duplicates),
            str(s.reposts),
            _counts(s.rejected),
            _counts(s.failures),
            _counts(s.detections),
            "ok" if not s.error else f"[red]{s.error}[/red]",
        )
        for key in ("new", "duplicates", "reposts"):
            totals[key] += getattr(s, key)
        for key in ("rejected", "failures", "detections"):
            for name, count in getattr(s, key).items():
                totals[key][name] = totals[key].get(name, 0) + count
    if len(summaries) > 1:
        table.add_row(
            "[bold]total[/bold]",
            str(totals["new"]),
            str(totals["duplicates"]),
            str(totals["reposts"]),
            _counts(totals["rejected"]),
            _counts(totals["failures"]),
            _counts(totals["detections"]),
            "",
        )
    return table


def print_summary(summaries: list, console: Console | None = None) -> None:
    """Print the ingest summary table."""
    (console or Console()).print(summary_table(summaries))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "never"


def status_table(rows: list[dict[str, Any]], configured: list) -> Table:
    """One row per source known to the config or the database."""
    table = Table(title="Sources")
    for header in ("source", "last poll", "last success", "fails in a row", "last error", "totals"):
        table.add_column(header, overflow="fold")
    by_name = {row["name"]: row for row in rows}
    names = list(dict.fromkeys([s.name for s in configured] + [row["name"] for row in rows]))
    kinds = {s.name: s.kind for s in configured}
    for name in names:
        row = by_name.get(name)
        if row is None:
            table.add_row(f"{name} ({kinds.get(name, '?')})", "never", "never", "0", "", "")
            continue
        failures = int(row["consecutive_failures"] or 0)
        error = f"{_when(row['last_error_at'])}: {row['last_error']}" if row["last_error"] else ""
        if failures and row["next_try_at"]:
            error += f" (next try {_when(row['next_try_at'])})"
        totals = (
            f"{row['images_accepted']} accepted, {row['images_rejected']} rejected, "
            f"{row['reposts']} reposts, {row['detections']} detections, "
            f"{row['fetch_failures']} fetch failures"
        )
        table.add_row(
            f"{name} ({row['kind']})",
            _when(row["last_polled_at"]),
            _when(row["last_success_at"]),
            str(failures),
            f"[red]{error}[/red]" if failures else error,
            totals,
        )
    return table


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    return (
        f"{seconds}s ago"
        if seconds < 120
        else (f"{seconds // 60}m ago" if seconds < 7200 else f"{seconds // 3600}h ago")
    )


def cluster_tables(status: Any, now: datetime | None = None) -> list[Table]:
    """The broker with its queue depths and the outbox, and the workers with their last heartbeat."""
    now = now or datetime.now(UTC)
    broker = Table(title="Broker and queues")
    for header in ("what", "state"):
        broker.add_column(header, overflow="fold")
    record = status.broker_record or {}
    if status.broker_error is None:
        broker.add_row(f"broker {status.broker_url}", "reachable")
    else:
        since = record.get("down_since") if not record.get("reachable", True) else None
        since_text = f" since {_when(since)} ({_age(since, now)})" if since else ""
        broker.add_row(f"broker {status.broker_url}", f"[red]unreachable{since_text}: {status.broker_error}[/red]")
    if record and not record.get("reachable", True) and status.broker_error is None:
        broker.add_row(
            "scheduler's view", f"[red]outage since {_when(record.get('down_since'))}, not yet seen to end[/red]"
        )
    for name, depth in status.queues.items():
        unknown = "unknown" if status.broker_error else "not declared yet"
        broker.add_row(f"queue {name}", unknown if depth is None else f"{depth} waiting")
    backlog = status.backlog or {}
    oldest = backlog.get("oldest")
    broker.add_row(
        "outbox",
        f"{backlog.get('pending', 0)} pending batch(es)"
        + (f", oldest written {_when(oldest)} ({_age(oldest, now)})" if oldest else ""),
    )
    if backlog.get("failed"):
        last = backlog.get("last_failure") or {}
        broker.add_row(
            "failed batches",
            f"[red]{backlog['failed']} given up after repeated errors; last: batch "
            f"{last.get('id')}: {last.get('error') or 'no error recorded'}[/red]",
        )
    workers = Table(title="Workers")
    for header in ("worker", "pid", "queues", "concurrency", "started", "last heartbeat", "tasks done"):
        workers.add_column(header, overflow="fold")
    for row in status.workers:
        workers.add_row(
            row["name"],
            str(row["pid"]),
            row["queues"],
            str(row["concurrency"]),
            _when(row["started_at"]),
            f"{_when(row['last_seen'])} ({_age(row['last_seen'], now)})",
            str(row["tasks_done"]),
        )
    return [broker, workers]


def print_status(settings: Settings, console: Console | None = None) -> None:
    """Print the status table of every source (and, with the celery executor, the broker, queues and workers)."""
    console = console or Console()
    db = open_database(settings.database.url)
    try:
        rows = source_status(db)
        judged = judgments_line(db)
        from monitor.alerts import notification_lines

        notices = notification_lines(db, 5)
        cluster: ClusterStatus | None = None
        if settings.executor.kind == "celery":
            cluster = cluster_status(settings, db)
    finally:
        db.dispose()
    console.print(status_table(rows, settings.sources))
    if judged:
        console.print(judged, markup=False, highlight=False)
    if notices:
        console.print("Recent alerts and scheduled reports:")
        for line in notices:
            console.print(f"  {line}", markup=False, highlight=False)
    for table in cluster_tables(cluster) if cluster is not None else []:
        console.print(table)


@contextmanager
def photo_progress(console: Console | None = None) -> Iterator[Callable[[Any, int], None]]:
    """A live count of photos processed per source (the total is unknown while sources stream).

    The display starts with the first committed batch, so errors before it print cleanly.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} photos"),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def on_batch(summary: Any, size: int) -> None:
        if not tasks:
            progress.start()
        if summary.name not in tasks:
            tasks[summary.name] = progress.add_task(f"ingesting {summary.name}", total=None)
        progress.advance(tasks[summary.name], size)

    try:
        yield on_batch
    finally:
        if tasks:
            progress.stop()


def print_reclassify(summary: Any, console: Console | None = None) -> None:
    """Print what a reclassify run stored and skipped."""
    table = Table(title=f"Reclassified with model version {summary.model_version_id}")
    headers = ("photos", "re-scored", "bytes changed", "unreadable", "rejected", "killed it", "new detections")
    for header in headers:
        table.add_column(header, overflow="fold")
    table.add_row(
        str(summary.images),
        str(summary.rescored),
        str(summary.changed),
        str(summary.unreadable),
        str(summary.rejected),
        str(summary.killed),
        _counts(summary.detections),
    )
    console = console or Console()
    console.print(table)
    if summary.killed:
        console.print(
            f"{summary.killed} photo(s) skipped: each killed the process re-scoring it ingest.max_photo_attempts "
            "times (in decode/classify); their earlier detections stay."
        )


@contextmanager
def reclassify_progress(console: Console | None = None) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over the stored photos being re-scored (on_progress(advance, total))."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console or Console(stderr=True), transient=True
    )
    task: list[Any] = []

    def on_progress(advance: int, total: int) -> None:
        if not task:
            progress.start()
            task.append(progress.add_task("reclassify", total=total))
        progress.advance(task[0], advance)

    try:
        yield on_progress
    finally:
        if task:
            progress.stop()
