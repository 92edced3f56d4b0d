"""The classify task in-process (Celery's own `apply`, no broker) on SQLite and PostgreSQL: a message that does
not match its outbox row, or is not the one the fetch task sealed, stores nothing, and a batch whose data is bad
fails at once instead of being retried."""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from ingest_helpers import jpeg, rows
from monitor.batch import read_items
from monitor.distributed.app import CLASSIFY_TASK, make_app
from monitor.distributed.payload import encode_items, seal_payload
from monitor.refs import decode_ref, encode_ref
from monitor.sources.base import ImageRef
from monitor.sources.readers import Readers
from storage.batches import enqueue_batch, get_batch, set_payload_digest
from storage.engine import Database, open_database
from storage.sources import ensure_source

ALWAYS = {"acme": 0.001, "globex": 0.001}


def celery_settings(settings_for, db_url):
    """Settings of one fake source that detects every brand, run by Celery on the local Redis."""
    return settings_for(
        db_url,
        [{"name": "feed", "kind": "fake"}],
        classifier={"thresholds": ALWAYS},
        executor={"kind": "celery", "broker_url": "redis://127.0.0.1:6379/15"},
    )


@contextmanager
def database(url) -> Iterator[Database]:
    """The database at `url`, disposed afterwards."""
    db = open_database(url)
    try:
        yield db
    finally:
        db.dispose()


def outbox_batch(settings, count=3, refs=None):
    """An ingest batch of `count` photos (bytes inline, as the fake source gives them; or `refs`) and its honest
    payload, sealed in the outbox row as the fetch task does before it sends the message."""
    if refs is None:
        refs = [ImageRef(uri=f"fake://feed/{n}", external_id=str(n), data=jpeg(seed=n + 1)) for n in range(count)]
    with database(settings.database.url) as db:
        source_id = ensure_source(db, "feed", "fake")
        batch_id = enqueue_batch(db, source_id, "ingest", [encode_ref(r) for r in refs])
    readers = Readers(settings)
    try:
        items = read_items(readers.get("feed"), [decode_ref(encode_ref(r)) for r in refs])
    finally:
        readers.close()
    payload = {"items": encode_items(items)}
    with database(settings.database.url) as db:
        seal_payload(db, batch_id, payload)
    return batch_id, payload


def state_of(url, batch_id):
    with database(url) as db:
        return get_batch(db, batch_id)


def test_a_forged_classify_message_cannot_mark_a_batch_done(db_url, settings_for):
    settings = celery_settings(settings_for, db_url)
    batch_id, payload = outbox_batch(settings)
    classify = make_app(settings).tasks[CLASSIFY_TASK]
    forged_uri = copy.deepcopy(payload)
    forged_uri["items"][0]["ref"]["uri"] = "fake://feed/other"
    forged_empty = {"items": []}
    forged_meta = copy.deepcopy(payload)
    forged_meta["items"][1]["ref"]["caption"] = "not what the source said"
    for forged in (forged_uri, forged_empty, forged_meta, {"nonsense": True}, None):
        classify.apply(args=[batch_id, forged]).get()
    assert state_of(db_url, batch_id)["state"] == "pending"
    assert rows(db_url, "SELECT count(*) FROM images")[0][0] == 0
    classify.apply(args=[batch_id, payload]).get()
    assert state_of(db_url, batch_id)["state"] == "done"
    assert rows(db_url, "SELECT count(*) FROM images")[0][0] == 3


def test_a_batch_with_undecodable_data_fails_at_once(db_url, settings_for):
    settings = celery_settings(settings_for, db_url)
    batch_id, payload = outbox_batch(settings)
    payload["items"][1]["data"] = "%%% not base64 %%%"
    with database(settings.database.url) as db:
        seal_payload(db, batch_id, payload)  # bad data the fetch task itself sent (not a forgery)
    make_app(settings).tasks[CLASSIFY_TASK].apply(args=[batch_id, payload])
    batch = state_of(db_url, batch_id)
    assert batch["state"] == "failed" and "classify: " in batch["result"]["error"]
    assert rows(db_url, "SELECT count(*) FROM images")[0][0] == 0


def test_forged_photos_under_the_real_refs_are_refused_and_recorded(db_url, settings_for):
    settings = celery_settings(settings_for, db_url)
    batch_id, payload = outbox_batch(settings)
    forged = copy.deepcopy(payload)  # the outbox row's refs, exactly; other bytes (with their own sha256)
    for n, entry in enumerate(forged["items"]):
        data = jpeg(seed=900 + n)
        entry["data"], entry["sha256"] = base64.b64encode(data).decode(), hashlib.sha256(data).hexdigest()
    classify = make_app(settings).tasks[CLASSIFY_TASK]
    classify.apply(args=[batch_id, forged]).get()
    batch = state_of(db_url, batch_id)
    assert batch["state"] == "pending"
    assert "does not match" in batch["result"]["error"]
    assert rows(db_url, "SELECT count(*) FROM images")[0][0] == 0
    classify.apply(args=[batch_id, payload]).get()
    assert state_of(db_url, batch_id)["state"] == "done"
    honest = sorted(entry["sha256"] for entry in payload["items"])
    assert sorted(r[0] for r in rows(db_url, "SELECT sha256 FROM images")) == honest


def test_a_classify_message_no_fetch_task_sealed_is_refused(db_url, settings_for):
    settings = celery_settings(settings_for, db_url)
    batch_id, payload = outbox_batch(settings)
    with database(settings.database.url) as db:
        set_payload_digest(db, batch_id, None)  # as a batch whose fetch never ran (or ran before the upgrade)
    make_app(settings).tasks[CLASSIFY_TASK].apply(args=[batch_id, payload]).get()
    batch = state_of(db_url, batch_id)
    assert batch["state"] == "pending" and "does not match" in batch["result"]["error"]
    assert rows(db_url, "SELECT count(*) FROM images")[0][0] == 0


def test_ordinary_hostile_fields_are_stored_by_the_celery_path_too(db_url, settings_for):
    """Issue 14 finding 3 on the Celery path: a NUL in a caption, a 400-character place and a 3 KB signed URL
    are stored with the batch's other photos at once, even in refs that skipped the sources' boundary
    (monitor.sources.clean): storage cleans every row again."""
    settings = celery_settings(settings_for, db_url)
    signed = "fake://feed/signed?" + "X-Sig=" + "a" * 3000
    hostile = [
        ImageRef(uri="fake://feed/0", external_id="0", data=jpeg(seed=1), caption="before\x00after"),
        ImageRef(uri="fake://feed/1", external_id="1", data=jpeg(seed=2), place="P" * 400, author="A" * 400),
        ImageRef(uri=signed, external_id=signed, data=jpeg(seed=3)),
    ]
    batch_id, payload = outbox_batch(settings, refs=hostile)
    make_app(settings).tasks[CLASSIFY_TASK].apply(args=[batch_id, payload]).get()
    assert state_of(db_url, batch_id)["state"] == "done"
    stored = {r[0]: r[1:] for r in rows(db_url, "SELECT external_id, caption, place, author, uri FROM images")}
    assert stored["0"][0] == "beforeafter"
    assert len(stored["1"][1]) == 300 and len(stored["1"][2]) == 300
    assert stored[signed][3] == signed  # the whole signed URL, not cut
