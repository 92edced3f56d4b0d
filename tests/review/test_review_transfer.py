"""`review import` stores good lines and reports bad ones by line; `review export` writes the training layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import BRANDS, Feed, plant_feed

from classifier.dataset import load_dataset
from cli import run_cli
from storage.judgments import Verdict, judged_counts, judgments, save_judgments


@pytest.fixture
def config(feed: Feed, tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {"database": {"url": feed.url}, "brands": {"own": ["Acme"], "competitors": ["Globex", "Initech"]}}
        ),
        encoding="utf-8",
    )
    return path


def test_import_stores_good_lines_and_reports_each_bad_one_with_its_line(
    feed: Feed, config: Path, tmp_path: Path
) -> None:
    good = feed.sha[1], feed.sha[2]
    lines = [
        "sha256,brand,present",
        f"{good[0]},Acme,1",  # 2
        f"{good[0].upper()},Globex,false",  # 3: upper-case hex is the same photo
        f"{'f' * 64},Acme,1",  # 4: unknown photo
        f"{good[1]},Acmee,0",  # 5: unknown brand, with a hint
        f"{good[1]},Initech,maybe",  # 6: bad present
        "not-a-hash,Acme,1",  # 7
        f"{good[1]},Initech,TRUE",  # 8
        f"{good[1]},Initech",  # 9: a column short
        f'"{good[1]}"x,Globex,1',  # 10: does not parse (text after a closing quote)
        f'{good[1]},"Globex,1',  # 11: an unbalanced quote costs its own line only
        f"{good[1]},Globex,{'1' * 200_000}",  # 12: a field past the csv module's limit
        f"{good[1]},Globex,0\r",  # 13: Windows line ends are fine
        "",
    ]
    csv_file = tmp_path / "verdicts.csv"
    csv_file.write_text("\n".join(lines), encoding="utf-8")
    result = run_cli("--config", config, "review", "import", csv_file)
    assert result.exit_code == 0, result.output
    assert "stored 4 judgment(s), skipped 8 line(s)" in result.stdout
    errors = result.stderr.splitlines()
    assert [int(line.split(":")[1]) for line in errors] == [4, 5, 6, 7, 9, 10, 11, 12]
    assert all("cannot parse the line" in line for line in errors[5:])
    assert "no stored photo" in errors[0] and "did you mean 'Acme'?" in errors[1]
    stored = {(r["sha256"], r["brand"]): (r["present"], r["mode"]) for r in judgments(feed.db, 1)}
    assert stored == {
        (good[0], "Acme"): (True, "sample"),
        (good[0], "Globex"): (False, "sample"),
        (good[1], "Initech"): (True, "sample"),
        (good[1], "Globex"): (False, "sample"),
    }

    csv_file.write_text(f"sha256,brand,present\n{good[0]},Acme,0\n", encoding="utf-8")  # judging again updates
    assert run_cli("--config", config, "review", "import", "--not-random", csv_file).exit_code == 0
    assert judged_counts(feed.db, 1) == {"Acme": {"uncertain": 1}, "Globex": {"sample": 2}, "Initech": {"sample": 1}}
    assert [r["present"] for r in judgments(feed.db, 1) if r["brand"] == "Acme"] == [False]

    csv_file.write_text("sha,brand\n", encoding="utf-8")
    bad = run_cli("--config", config, "review", "import", csv_file)
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: ") and len(bad.stderr.splitlines()) == 1


def test_export_writes_brand_and_none_folders_that_load_as_a_training_set(db_url: str, tmp_path: Path) -> None:
    feed = plant_feed(db_url, tmp_path / "photos", photos=30, seed=3)
    try:
        judged = list(feed.truth)[:12]
        save_judgments(
            feed.db, 1, [Verdict(i, b, feed.truth[i][b]) for i in judged for b in BRANDS], "sample", "tester"
        )
        partial = list(feed.truth)[12]  # judged for one brand only, absent: not known to be logo-free
        save_judgments(feed.db, 1, [Verdict(partial, "Acme", False)], "uncertain", "tester")
        (feed.folder / "photo-1.jpg").unlink()  # the file is gone: its thumbnail (if any) stands in
        from monitor.review.transfer import export_judgments

        out = tmp_path / "export"
        result = export_judgments(feed.db, out)
        expected: dict[str, set[str]] = {}
        for i in judged:
            shown = [b for b in BRANDS if feed.truth[i][b]]
            for folder in shown or ["none"]:
                expected.setdefault(folder, set()).add(feed.sha[i])
        from storage.judgments import photo

        if photo(feed.db, 1)["jpeg"]:
            assert (result.from_thumbnail, result.unreadable) == (1, [])
        else:
            assert (result.from_thumbnail, result.unreadable) == (0, [feed.sha[1]])
            expected = {k: v - {feed.sha[1]} for k, v in expected.items() if v - {feed.sha[1]}}
        written: dict[str, set[str]] = {}
        for path in out.rglob("*.jpg"):
            written.setdefault(path.parent.name, set()).add(path.stem)
        assert written == expected
        assert sum(result.written.values()) == sum(len(v) for v in expected.values())
        assert feed.sha[partial] not in set().union(*written.values())
        dataset = load_dataset(out)  # what `monitor train` reads: each photo once, with every brand it shows
        shown = sorted(sorted(e.brands) for e in dataset.examples)
        assert shown == sorted(
            sorted(b for b in BRANDS if feed.truth[i][b]) for i in judged if i != 1 or photo(feed.db, 1)["jpeg"]
        )
    finally:
        feed.db.dispose()
