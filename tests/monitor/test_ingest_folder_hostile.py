"""The folder source against hostile or unlucky folders: FIFOs, symlinks out, huge sidecars, partial uploads,
sidecar places off the globe."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime

import pytest

from ingest_helpers import jpeg, rows, run_once
from monitor.config import SourceSettings
from monitor.errors import FetchError
from monitor.sources.base import ImageRef, SourceContext
from monitor.sources.registry import build_source

HANG = 60  # far longer than any of these polls takes; a poll still running then is stuck for good


def folder(tmp_path, inbox, **options):
    settings = SourceSettings(name="inbox", kind="folder", path=str(inbox), **options)
    return build_source(settings, SourceContext(cache_dir=tmp_path / "cache"))


def aged(*paths) -> None:
    past = int((datetime.now().timestamp() - 60) * 1e9)
    for path in paths:
        os.utime(path, ns=(past, past), follow_symlinks=False)


def finishes(work):
    """Run `work` in a thread; its result, or a failure when it is still blocked after HANG seconds."""
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(result=work()), daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), "blocked (a FIFO opened for reading waits for a writer forever)"
    return out["result"]


def test_fifos_named_like_photos_or_sidecars_are_skipped_and_never_block(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "real.jpg").write_bytes(jpeg(seed=1))
    os.mkfifo(inbox / "real.jpg.json")  # a FIFO sidecar
    os.mkfifo(inbox / "photo.jpg")
    aged(inbox / "real.jpg", inbox / "real.jpg.json", inbox / "photo.jpg")
    src = folder(tmp_path, inbox)
    refs = finishes(lambda: list(src.poll(None)))
    assert [r.external_id for r in refs] == ["real.jpg"] and refs[0].place is None
    assert finishes(lambda: src.read(refs[0])) == (inbox / "real.jpg").read_bytes()
    # Even when asked for it by name (a stored ref), the FIFO is refused without blocking.
    fifo_ref = ImageRef(uri=str(inbox / "photo.jpg"), external_id="photo.jpg")
    error = finishes(lambda: pytest.raises(FetchError, src.read, fifo_ref).value)
    assert error.reason == "not_a_file"


def test_symlinks_stay_inside_the_folder_unless_follow_symlinks(tmp_path):
    inbox, outside = tmp_path / "inbox", tmp_path / "secret"
    inbox.mkdir()
    outside.mkdir()
    (outside / "private.jpg").write_bytes(jpeg(seed=2))
    (inbox / "sub").mkdir()
    (inbox / "sub" / "inner.jpg").write_bytes(jpeg(seed=3))
    (inbox / "out.jpg").symlink_to(outside / "private.jpg")
    (inbox / "in.jpg").symlink_to(inbox / "sub" / "inner.jpg")
    aged(outside / "private.jpg", inbox / "sub" / "inner.jpg", inbox / "out.jpg", inbox / "in.jpg")
    src = folder(tmp_path, inbox)
    assert sorted(r.external_id for r in src.poll(None)) == ["in.jpg", "sub/inner.jpg"]
    with pytest.raises(FetchError) as info:
        src.read(ImageRef(uri=str(inbox / "out.jpg"), external_id="out.jpg"))
    assert info.value.reason == "outside_folder"
    following = folder(tmp_path / "b", inbox, follow_symlinks=True)
    refs = {r.external_id: r for r in following.poll(None)}
    assert sorted(refs) == ["in.jpg", "out.jpg", "sub/inner.jpg"]
    assert following.read(refs["out.jpg"]) == (outside / "private.jpg").read_bytes()


def test_an_oversized_sidecar_is_ignored_and_the_photo_kept(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.jpg").write_bytes(jpeg(seed=4))
    (inbox / "a.jpg.json").write_text(json.dumps({"place": "Oslo", "caption": "x" * 3_000_000}))
    (inbox / "b.jpg").write_bytes(jpeg(seed=5))
    (inbox / "b.jpg.json").write_text(json.dumps({"place": "Bergen"}))
    aged(*inbox.iterdir())
    refs = {r.external_id: r for r in folder(tmp_path, inbox).poll(None)}
    assert (refs["a.jpg"].place, refs["a.jpg"].caption) == (None, None)
    assert refs["b.jpg"].place == "Bergen"


def test_a_photo_still_being_written_waits_for_the_next_poll(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    whole = jpeg(size=(400, 300), seed=6)
    partial = inbox / "upload.jpg"
    partial.write_bytes(whole[: len(whole) // 2])
    src = folder(tmp_path, inbox, settle_seconds=1)
    # The upload goes on while the poll waits for the file to settle: it is not read half-written.
    finisher = threading.Timer(0.3, lambda: partial.write_bytes(whole))
    finisher.start()
    first = list(src.poll(None))
    finisher.join()
    assert first == []
    aged(partial)
    later = list(src.poll(None))
    assert [r.external_id for r in later] == ["upload.jpg"] and src.read(later[0]) == whole


def test_the_default_settle_time_is_small_but_not_zero():
    from monitor.sources.folder import FolderOptions

    assert 0 < FolderOptions(path="x").settle_seconds <= 5


def test_sidecar_places_off_the_globe_are_dropped_and_the_photos_stored(db_url, tmp_path, settings_for, classifier):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # Raw JSON text: bare NaN and 1e400 (read as inf) are what a careless exporter writes; strings are parsed too.
    sidecars = {
        "polar": '{"latitude": 91, "longitude": 10, "place": "North of north"}',
        "west": '{"latitude": "48.1", "longitude": "-200", "place": "Munich"}',
        "nanstr": '{"latitude": "NaN", "longitude": "11.5", "caption": "nan as text"}',
        "nanbare": '{"latitude": 45.0, "longitude": NaN}',
        "huge": '{"latitude": "1e400", "longitude": "2.0", "place": "Overflow"}',
        "hugebare": '{"latitude": 1e400, "longitude": -1e400}',
        "neginf": '{"latitude": 45.0, "longitude": "-Infinity"}',
        "oslo": '{"latitude": 59.91, "longitude": "10.75", "place": "Oslo"}',
        "edge": '{"latitude": -90, "longitude": 180}',
    }
    for seed, (name, sidecar) in enumerate(sidecars.items(), start=1):
        (inbox / f"{name}.jpg").write_bytes(jpeg(seed=seed))
        (inbox / f"{name}.jpg.json").write_text(sidecar, encoding="utf-8")
    aged(*inbox.iterdir())
    settings = settings_for(db_url, [{"name": "inbox", "kind": "folder", "path": str(inbox)}])
    summary = run_once(settings, classifier)[0]
    assert summary.error is None and summary.new == len(sidecars) and not summary.failures
    stored = {
        external_id.removesuffix(".jpg"): (lat, lon, place, caption)
        for external_id, lat, lon, place, caption in rows(
            db_url, "SELECT external_id, latitude, longitude, place, caption FROM images"
        )
    }
    assert set(stored) == set(sidecars)
    # One coordinate off the globe (or not a finite number) drops both: half a place is no place.
    for name in ("polar", "west", "nanstr", "nanbare", "huge", "hugebare", "neginf"):
        assert stored[name][:2] == (None, None), name
    # The other fields of those sidecars are kept, and places on the globe (its very edge too) are stored.
    assert (stored["polar"][2], stored["west"][2], stored["huge"][2]) == ("North of north", "Munich", "Overflow")
    assert stored["nanstr"][3] == "nan as text"
    assert stored["oslo"] == (59.91, 10.75, "Oslo", None)
    assert stored["edge"][:2] == (-90.0, 180.0)


def test_a_huge_caption_is_cut_and_the_photo_stored(db_url, tmp_path, settings_for, classifier):
    """A sidecar under its size cap can still hold a caption no report should carry: it is cut, the photo kept."""
    from monitor.sources.clean import CAPTION_CHARS

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "long.jpg").write_bytes(jpeg(seed=1))
    (inbox / "long.jpg.json").write_text(json.dumps({"caption": "é" * 400_000}, ensure_ascii=False), encoding="utf-8")
    (inbox / "short.jpg").write_bytes(jpeg(seed=2))
    (inbox / "short.jpg.json").write_text(json.dumps({"caption": "a normal caption"}), encoding="utf-8")
    aged(*inbox.iterdir())
    settings = settings_for(db_url, [{"name": "inbox", "kind": "folder", "path": str(inbox)}])
    summary = run_once(settings, classifier)[0]
    assert summary.error is None and summary.new == 2 and not summary.failures
    stored = dict(rows(db_url, "SELECT external_id, caption FROM images"))
    assert stored["long.jpg"] == "é" * CAPTION_CHARS and stored["short.jpg"] == "a normal caption"
