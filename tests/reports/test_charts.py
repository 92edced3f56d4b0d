"""Charts marketers read: weekly buckets, a lift axis labelled 0.5x/1x/2x, reach, the after-window fade,
top posts, the offline map, period headlines with the own brand and days with data, CSV in time order."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from report_seed import END, START, Campaign, seed, window_of
from reports import build_campaign_report, build_period_report, write_report
from reports.charts import bucket_for, lift_axis, lift_chart
from reports.geo import map_chart, place_points, world_topojson
from reports.headline import campaign_headline
from reports.top_posts import safe_link


def test_weekly_from_three_weeks_daily_below() -> None:
    assert bucket_for("auto", START, START + timedelta(days=20)) == "week"
    assert bucket_for("auto", START, START + timedelta(days=19)) == "day"
    assert bucket_for("day", START, START + timedelta(days=90)) == "day"


def test_lift_axis_reads_half_one_two_on_log_and_plain_ratios_on_linear() -> None:
    wide = lift_axis([0.4, 1.3, 3.0])
    assert wide["type"] == "log" and wide["ticktext"] == ["0.5x", "1x", "2x"] and wide["tickvals"] == [0.5, 1, 2]
    narrow = lift_axis([0.92, 1.05, 1.32, 2.1])  # the case: everything under 2.1
    assert narrow["type"] == "linear" and "1x" in narrow["ticktext"]
    assert all(t.endswith("x") for t in narrow["ticktext"]) and max(narrow["tickvals"]) < 3
    assert narrow["range"][1] < 2.5 and narrow["range"][0] <= 0.92


def test_no_change_line_and_label_sit_at_1x_on_a_log_axis() -> None:
    import pandas as pd

    lifts = pd.DataFrame(
        {
            "brand": ["A", "B"],
            "window": ["during", "during"],
            "lift": [3.0, 0.4],
            "ci_low": [2.0, 0.3],
            "ci_high": [4.5, 0.6],
        }
    )
    fig = lift_chart(lifts, ["A", "B"])
    assert fig.layout.yaxis.type == "log"
    assert [s.y0 for s in fig.layout.shapes] == [1]
    label = fig.layout.annotations[0]
    assert label.text == "no change (1x)" and label.y == 0  # log10(1): plotly places log annotations in log units


def _lasting(d):
    return {"Acme": 10 if window_of(d) == "before" else 20, "Globex": 15}


def test_headline_says_whether_the_lift_lasted(sqlite_url: str, planted) -> None:
    faded = build_campaign_report(planted, Campaign())
    assert "After the campaign the lift faded: Acme was back at 1.0x" in faded.headline
    assert "likely range" in faded.headline and "95% CI" not in faded.headline
    db = seed(sqlite_url.replace("monitor.db", "lasting.db"), lambda d: 500, _lasting)
    lasted = build_campaign_report(db, Campaign())
    assert "After the campaign the lift lasted: Acme stayed at 2.0x" in lasted.headline
    db.dispose()
    rows = lasted.lifts.assign(corrected_ci_high=float("nan"))  # no correction: raw figures, said so
    assert "raw counts" in campaign_headline("Acme", [], rows, lasted.relative.iloc[0:0])


def _planted_reach(db) -> None:
    """Reach rises with the photo id; one post has a javascript: link, one a file path."""
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE images SET reach = id * 10"))
        conn.execute(
            text(
                "UPDATE images SET uri = 'javascript:alert(1)' "
                "WHERE id = (SELECT MAX(image_id) FROM detections WHERE brand = 'Acme')"
            )
        )


def test_top_posts_are_the_most_reach_with_safe_links(planted, tmp_path: Path) -> None:
    _planted_reach(planted)
    report = build_campaign_report(planted, Campaign())
    top = report.top_posts
    during = top[(top["brand"] == "Acme") & (top["window"] == "during")]
    with planted.engine.connect() as conn:
        truth = (
            conn.execute(
                text(
                    "SELECT i.id FROM detections d JOIN images i ON i.id = d.image_id WHERE d.brand = 'Acme' "
                    "AND d.posted_at >= :a AND d.posted_at < :b AND i.repost_of_id IS NULL AND i.status = 'accepted' "
                    "ORDER BY i.reach DESC LIMIT 5"
                ),
                {"a": START.isoformat(), "b": (END + timedelta(days=1)).isoformat()},
            )
            .scalars()
            .all()
        )
    assert list(during["image_id"]) == truth and list(during["rank"]) == [1, 2, 3, 4, 5]
    assert list(during["reach"]) == sorted(during["reach"], reverse=True)
    after = top[(top["brand"] == "Acme") & (top["window"] == "after")]
    assert after.iloc[0]["link"] == ""  # javascript: never becomes a link
    assert all(link.startswith("https://example.test/p/") for link in after["link"].iloc[1:])
    html = write_report(report, tmp_path, ["html"])[0].read_text(encoding="utf-8")
    shown = len(top) - 1 + len(report.examples) - (report.examples["uri"] == "javascript:alert(1)").sum()
    assert "javascript:" not in html and html.count('rel="noopener noreferrer nofollow"') == shown
    assert safe_link("https://x.test/p?token=abc") == "https://x.test/p?token=***"
    assert safe_link("ftp://x.test/a") == safe_link("/srv/photos/a.jpg") == safe_link("https:///nohost") == ""


def test_map_points_carry_planted_photos_and_lift(planted) -> None:
    report = build_campaign_report(planted, Campaign())
    points = place_points(report.places, "Acme", "before", "during").set_index("place")
    # Acme is in the first 10 (before/after) or 20 (during) of 500 photos a day, alternating Paris / New York.
    assert points.loc["Paris", "photos"] == 14 * (5 + 10 + 5) and points.loc["New York", "photos"] == 14 * 20
    assert abs(points.loc["Paris", "lift"] - 2.0) < 1e-9 and abs(points.loc["New York", "lift"] - 2.0) < 1e-9
    assert abs(points.loc["Paris", "latitude"] - 48.85) < 1e-6
    fig = map_chart(points.reset_index(), "Acme", True)
    trace = fig.data[0]
    assert trace.type == "scattergeo" and list(trace.marker.color) == [1.0, 1.0]  # log2(2x)
    assert list(trace.marker.colorbar.ticktext) == ["0.25x", "0.5x", "1x", "2x", "4x"]
    assert fig.layout.geo.resolution == 110 and fig.layout.geo.showland
    layers = json.loads(world_topojson())["objects"]
    assert {"land", "countries", "coastlines"} <= set(layers)


def test_period_headline_keeps_the_own_brand_and_counts_days_with_data(sqlite_url: str) -> None:
    quiet = {START + timedelta(days=n) for n in (2, 3, 9)}
    db = seed(
        sqlite_url,
        lambda d: 0 if d in quiet else 300,
        lambda d: {"Big": 40, "Bigger": 50, "Biggest": 60, "Mine": 3},
    )
    report = build_period_report(db, START, END, by="day", own=["Mine"], tracked=["Mine", "Big", "Bigger", "Biggest"])
    assert "(11 days with data of 14)" in report.headline and report.days_with_data == 11
    assert report.headline.index("Mine (yours)") < report.headline.index("Biggest")
    share = report.share_by_period
    empty = share[share["period"].isin(quiet)]
    assert len(empty) == 4 * 3 and empty["share"].isna().all()  # no photos: no share, not 0%
    seen = share[~share["period"].isin(quiet)]
    assert (seen.groupby("period")["share"].sum().round(9) == 1).all()
    html = write_report(report, Path(sqlite_url[len("sqlite:///") :]).parent / "out", ["html"])[0]
    assert "11 days with data of 14" in html.read_text(encoding="utf-8")
    db.dispose()


def test_csv_windows_in_time_order_with_excel_bom(planted, tmp_path: Path) -> None:
    report = build_campaign_report(planted, Campaign())
    plain = {p.name: p for p in write_report(report, tmp_path / "plain", ["csv"])}
    excel = {p.name: p for p in write_report(report, tmp_path / "excel", ["csv"], excel=True)}
    assert plain["summary.csv"].read_bytes()[:3] != b"\xef\xbb\xbf"
    assert all(p.read_bytes()[:3] == b"\xef\xbb\xbf" for p in excel.values())
    with excel["summary.csv"].open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["window"] for r in rows] == sorted((r["window"] for r in rows), key=["before", "during", "after"].index)
    assert {(r["window"], r["window_order"]) for r in rows} == {("before", "1"), ("during", "2"), ("after", "3")}
    assert all(len(r["window_start"]) == 10 and r["window_start"][4] == "-" for r in rows)
    with plain["columns.csv"].open(encoding="utf-8", newline="") as handle:
        described = {(r["file"], r["column"]) for r in csv.DictReader(handle)}
    for name, path in plain.items():
        if name != "columns.csv":
            with path.open(encoding="utf-8", newline="") as handle:
                header = next(csv.reader(handle))
            assert {(name, c) for c in header} <= described, name
    assert ("top_posts.csv", "link") in described and ("lift.csv", "window_order") in described


def test_top_posts_walk_the_reach_index_on_sqlite_and_postgresql(db_url: str) -> None:
    from reports.top_posts import load_top_posts
    from reports.windows import campaign_windows

    db = seed(db_url, lambda d: 40, lambda d: {"Acme": 8, "Globex": 4})
    with db.engine.begin() as conn:  # reach planted: a few ties, some photos without reach
        conn.execute(text("UPDATE images SET reach = (id * 37) % 101 WHERE id % 9 <> 0"))
        conn.execute(text("UPDATE images SET reach = NULL WHERE id % 9 = 0"))
    windows = campaign_windows(Campaign())
    top = load_top_posts(db, 1, ["Globex"], windows, limit=4)
    for w in windows:
        with db.engine.connect() as conn:
            truth = [
                (r.id, r.reach)
                for r in conn.execute(
                    text(
                        "SELECT i.id, i.reach FROM images i JOIN detections d ON d.image_id = i.id "
                        "WHERE d.brand = 'Globex' AND i.reach IS NOT NULL AND i.repost_of_id IS NULL "
                        "AND i.status = 'accepted' ORDER BY i.reach DESC, i.id DESC"
                    )
                )
                if w.contains_day(_day_of(conn, r.id))
            ][:4]
        got = top[top["window"] == w.name]
        assert list(zip(got["image_id"], got["reach"], strict=True)) == truth
        assert all(w.start <= t < w.end for t in got["posted_at"])
    db.dispose()


def _day_of(conn, image_id: int):
    from sqlalchemy import select

    from storage.schema import Image

    return conn.execute(select(Image.posted_at).where(Image.id == image_id)).scalar_one().date()
