"""`reclassify` in this process (the local executor): re-read photos, skip changed or vanished ones, store once."""

from __future__ import annotations

from ingest_helpers import BRANDS, jpeg, rows

ALWAYS = {"acme": 0.001, "globex": 0.001}


def test_local_reclassify_skips_changed_and_unreadable_photos_and_stores_a_version_once(
    tmp_path, sqlite_url, settings_for, classifier
):
    from classifier import LogoClassifier
    from monitor.model import load_model
    from monitor.pipeline import ingest_once
    from monitor.reclassify import reclassify
    from storage.engine import open_database

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(5):
        (inbox / f"p{i}.jpg").write_bytes(jpeg((64, 48), seed=500 + i))
    settings = settings_for(
        sqlite_url, [{"name": "inbox", "kind": "folder", "path": str(inbox)}], classifier={"thresholds": ALWAYS}
    )
    with open_database(sqlite_url) as db:
        assert ingest_once(settings, db=db, model=load_model(settings, db, classifier))[0].new == 5
    (inbox / "p0.jpg").write_bytes(jpeg((64, 48), seed=999))  # other bytes at the same uri
    (inbox / "p1.jpg").unlink()
    second = tmp_path / "model-v2"
    LogoClassifier.create(BRANDS, backbone="mobilenet_v1_025", weights="none", input_size=48).save(second)
    seen: list[tuple[int, int]] = []

    summary = reclassify(settings, second, on_progress=lambda step, total: seen.append((step, total)))
    assert (summary.images, summary.rescored, summary.changed, summary.unreadable) == (5, 3, 1, 1)
    assert summary.detections == {"acme": 3, "globex": 3} and sum(step for step, _ in seen) == 5
    again = reclassify(settings, second)
    assert (again.model_version_id, again.rescored, again.detections) == (summary.model_version_id, 3, {})
    assert rows(
        sqlite_url, "SELECT count(*) FROM detections WHERE model_version_id = :v", v=summary.model_version_id
    ) == [(6,)]
