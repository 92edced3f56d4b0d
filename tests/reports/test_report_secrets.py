"""A real report over photos, failing sources and fetch failures whose URLs carry credentials shows none of them."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import String, cast, literal

from report_seed import START, Campaign, seed, window_of
from reports.output import make_report
from storage import sources, writes
from storage.records import DetectionRecord, FetchFailureRecord, ImageRecord
from storage.schema import Image, Source

# Each value has a '-' so it cannot turn up by chance in a thumbnail's base64.
SECRETS = ("S3CRET-apikey", "T0KEN-value", "S1G-value", "PA55-word", "FEED-pa55", "ACC3SS-tok", "K3Y-fail")
PHOTO = "https://user:PA55-word@cdn.example.test/p/{}.jpg?api_key=S3CRET-apikey&token=T0KEN-value&sig=S1G-value&size=l"
FEED_ERROR = "HTTP 503 from https://feeder:FEED-pa55@api.example.test/v1/feed?page=2&access_token=ACC3SS-tok"


def _store_secret_bearing_rows(db) -> None:
    """Every seeded photo's uri carries secrets (as stored, whole, for fetching); plus rows through the real writes."""
    images = Image.__table__
    with db.engine.begin() as conn:
        prefix, suffix = PHOTO.split("{}")
        conn.execute(images.update().values(uri=literal(prefix) + cast(images.c.id, String) + literal(suffix)))
        # Source 2 as a version that stored poll errors unredacted left it; reports must redact on reading.
        conn.execute(Source.__table__.update().where(Source.__table__.c.id == 2).values(last_error=FEED_ERROR))
    # Photos with the most reach, so they are the top posts, stored the way ingest stores them.
    posted = datetime.combine(START, datetime.min.time(), tzinfo=UTC) + timedelta(days=3, hours=12)
    top = [
        ImageRecord(
            sha256=f"{n:064x}".replace("0", "f", 1),
            uri=PHOTO.format(f"top{n}"),
            external_id=PHOTO.format(f"top{n}"),
            posted_at=posted + timedelta(minutes=n),
            time_source="source",
            reach=10**9 + n,
            detections=[DetectionRecord("Acme", 0.95), DetectionRecord("Globex", 0.9)],
        )
        for n in range(3)
    ]
    failure = FetchFailureRecord(
        "https://cdn.example.test/broken.jpg?key=K3Y-fail", "http_404", "GET https://cdn.example.test/b?key=K3Y-fail"
    )
    result = writes.save_batch(db, 1, 1, top, failures=[failure])
    assert (result.new, result.failures) == (3, 1)
    sources.record_poll(db, 1, False, "timeout reading https://user:PA55-word@cdn.example.test/feed?sig=S1G-value")


def test_no_secret_from_a_source_url_reaches_any_report_file(db_url: str, tmp_path: Path) -> None:
    db = seed(db_url, lambda d: 40, lambda d: {"Acme": 8 if window_of(d) == "during" else 4, "Globex": 5})
    try:
        _store_secret_bearing_rows(db)
        with db.engine.connect() as conn:  # the secrets are there to leak: photo and failure uris are kept whole
            stored = " ".join(
                str(value)
                for table in ("images", "sources", "fetch_failures")
                for row in conn.exec_driver_sql(f"SELECT * FROM {table}")
                for value in row
            )
    finally:
        db.dispose()
    assert [secret for secret in SECRETS if secret not in stored] == []
    out = tmp_path / "report"
    _, written = make_report(db_url, out, ("csv", "html"), campaign="spring", configured=[Campaign()])
    files = {path.name: html.unescape(path.read_text(encoding="utf-8")) for path in written}  # &amp; read as &
    assert {"report.html", "examples.csv", "top_posts.csv", "failing_sources.csv"} <= set(files)
    assert sorted(files) == sorted(p.name for p in out.iterdir())  # every file it wrote is checked
    for name, text in files.items():
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"{name} shows {leaked}"
    # What is not secret still says where each photo and error came from.
    for name in ("report.html", "examples.csv"):
        assert "https://user:***@cdn.example.test/p/" in files[name]
        assert "api_key=***&token=***&sig=***&size=l" in files[name]
    assert "https://user:***@cdn.example.test/p/top2.jpg?api_key=***" in files["top_posts.csv"]
    failing = files["failing_sources.csv"]
    assert "https://feeder:***@api.example.test/v1/feed?page=2&access_token=***" in failing
    assert "https://user:***@cdn.example.test/feed?sig=***" in failing
    assert "api.example.test/v1/feed" in files["report.html"]
