"""A photo that kills its process while it is decoded is skipped after `ingest.max_photo_attempts` kills; the
rest of the folder is stored once (real `monitor ingest` processes, SQLite and PostgreSQL).

The kill: `resource.setrlimit(RLIMIT_AS)` cannot stand in for an out-of-memory kill, because a decode over the
limit raises MemoryError (caught; the photo is rejected) where the kernel's OOM killer sends SIGKILL. So the
child process runs the real CLI with one line changed in Pillow (not in our code): a decode of more pixels than
the machine can hold gets SIGKILL, as the OOM killer would. The poison is an ordinary, highly compressed PNG
that is within `max_pixels` and `max_decode_mb` (a budget set for a bigger machine)."""

from __future__ import annotations

import hashlib
import io
import signal
import subprocess
import sys
import uuid

from PIL import Image

from ingest_helpers import BRANDS, ROOT, jpeg, rows, subprocess_env

ALWAYS = {"acme": 0.001, "globex": 0.001}
KILL_PIXELS = 4_000_000  # the stand-in machine's memory, in decoded pixels
WAIT = 300  # generous upper bound for one run on a loaded 2-core machine; not a timing assertion
OOM_CHILD = """
import os, runpy, signal, sys
from PIL import ImageFile

_load = ImageFile.ImageFile.load

def load(self):  # the kernel's OOM killer on a small machine: a decode this big gets SIGKILL
    if self.size[0] * self.size[1] > int(os.environ["KILL_PIXELS"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return _load(self)

ImageFile.ImageFile.load = load
sys.argv[0] = "monitor"
runpy.run_module("monitor.cli", run_name="__main__", alter_sys=True)
"""


def poison_png() -> bytes:
    """A 3000 x 3000 grey PNG: a few KB on the wire, 9 M pixels once decoded."""
    buffer = io.BytesIO()
    Image.new("L", (3000, 3000), 128).save(buffer, "PNG")
    return buffer.getvalue()


def on_small_machine(tmp_path, config, *args: str) -> subprocess.CompletedProcess:
    """`monitor --config CONFIG ARGS...` in a child whose decoder is killed by photos over KILL_PIXELS."""
    script = tmp_path / "oom_child.py"
    script.write_text(OOM_CHILD)
    env = subprocess_env() | {"KILL_PIXELS": str(KILL_PIXELS)}
    command = [sys.executable, str(script), "--config", str(config), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT)


def poisoned_inbox(tmp_path, db_url, make_config, good: int, seed: int):
    """A migrated database and the config of a folder of `good` photos with the poison PNG mid-batch."""
    from storage.migrate import upgrade

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(good):
        (inbox / f"p{i:02d}.jpg").write_bytes(jpeg((64, 48), seed=seed + i))
    (inbox / "p04b.png").write_bytes(poison_png())  # in the middle of the first batch
    upgrade(db_url)
    return make_config(
        db_url,
        [{"name": "inbox", "kind": "folder", "path": str(inbox)}],
        classifier={"thresholds": ALWAYS},
        ingest={"batch_size": 4, "max_photo_attempts": 3},
    )


def test_a_photo_that_kills_the_ingest_is_skipped_after_three_kills_and_the_rest_stored_once(
    tmp_path, db_url, make_config
):
    good = 10
    config = poisoned_inbox(tmp_path, db_url, make_config, good, seed=4000)
    kills = 0
    for _ in range(6):  # three kills, then a run that skips the photo; the old code was killed every time
        done = on_small_machine(tmp_path, config, "ingest", "--once")
        if done.returncode == 0:
            break
        assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
        kills += 1
    assert kills == 3, f"the poison photo killed {kills} runs in a row"
    assert "Ingest summary" in done.stdout
    stored = rows(
        db_url,
        "SELECT count(*), count(DISTINCT sha256), count(DISTINCT uri) FROM images WHERE status = 'accepted'",
    )[0]
    assert stored == (good, good, good)
    assert rows(db_url, "SELECT count(*) FROM detections")[0][0] == 2 * good
    poison = rows(db_url, "SELECT uri, reject_reason, reject_detail FROM images WHERE status = 'rejected'")
    assert len(poison) == 1
    uri, reason, detail = poison[0]
    assert uri.endswith("p04b.png") and reason == "killed_worker"
    assert detail == "killed the worker 3 times while being decoded/classified; skipped"
    assert rows(db_url, "SELECT count(*) FROM photo_attempts")[0][0] == 0
    # The folder is done: nothing is decoded or stored again.
    again = on_small_machine(tmp_path, config, "ingest", "--once")
    assert again.returncode == 0, again.stderr[-3000:]
    assert rows(db_url, "SELECT count(*) FROM images")[0][0] == good + 1


def test_a_photo_that_kills_celery_workers_is_skipped_and_its_batch_stored(tmp_path, pg_url, bundle_dir):
    """The Celery path on Redis and PostgreSQL: the pool's child dies on the photo three times (the broker
    hands the classify message back each time); then the batch is stored with the photo rejected."""
    from distributed_helpers import REDIS, delete_queues, rss_source, scalar, start, stop, tail, wait_for, write_config
    from ingest_helpers import FeedServer, Reply
    from storage.migrate import upgrade

    good = 10
    server = FeedServer()
    server.thread.start()
    items = []
    for i in range(good + 1):
        data, kind = (poison_png(), "png") if i == 5 else (jpeg((64, 48), seed=5000 + i), "jpeg")
        server.routes[f"/p{i}"] = Reply(body=data, content_type=f"image/{kind}")
        items.append(
            f"<item><guid>p{i}</guid><pubDate>Sun, 01 Mar 2026 10:{i:02d}:00 GMT</pubDate>"
            f'<media:content url="{server.url(f"/p{i}")}" medium="image"/></item>'
        )
    server.routes["/feed.xml"] = Reply(
        body=(
            '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            f"<title>photos</title>{''.join(items)}</channel></rss>"
        ).encode(),
        content_type="application/rss+xml",
    )
    tag = uuid.uuid4().hex[:8]
    upgrade(pg_url)
    # No redelivery by the scheduler while the test runs: the broker hands a dead child's message back itself.
    config = write_config(
        tmp_path / "config.yaml",
        pg_url,
        bundle_dir,
        REDIS,
        [rss_source("feed", server.url("/feed.xml"))],
        tag,
        redeliver_after=900,
    )
    script = tmp_path / "oom_child.py"
    script.write_text(OOM_CHILD)
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                str(script),
                "--config",
                str(config),
                "worker",
                "--concurrency",
                "1",
                "--name",
                f"w@{tag}",
            ],
            cwd=ROOT,
            env=subprocess_env() | {"KILL_PIXELS": str(KILL_PIXELS)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker.log_path = log_path
    scheduler = start(config, "ingest", "--source", "feed", log_dir=tmp_path, label="scheduler")
    try:
        wait_for(  # each kill costs a new child loading the model: allow for a loaded machine
            lambda: scalar(pg_url, "SELECT count(*) FROM batches WHERE state = 'done'"),
            "the batch stored",
            (scheduler, worker),
            timeout=WAIT * 2,
        )
        assert worker.poll() is None, tail(worker)  # only the pool's children died
    finally:
        code = stop(scheduler)
        stop(worker)
        server.httpd.shutdown()
        server.httpd.server_close()
        delete_queues(REDIS, [f"test.fetch.{tag}", f"test.classify.{tag}"])
    assert code == 0, tail(scheduler)
    assert log_path.read_text().count("exited with 'signal 9 (SIGKILL)'") == 3, tail(worker)
    assert rows(pg_url, "SELECT count(*), count(DISTINCT sha256) FROM images WHERE status = 'accepted'")[0] == (
        good,
        good,
    )
    assert rows(pg_url, "SELECT count(*) FROM detections")[0][0] == 2 * good
    poison = rows(pg_url, "SELECT uri, reject_reason, reject_detail FROM images WHERE status = 'rejected'")
    assert [(uri.endswith("/p5"), reason) for uri, reason, _ in poison] == [(True, "killed_worker")]
    # Fetched once: the kills cost the batch none of its `executor.max_attempts` (it is never given up for them).
    assert rows(pg_url, "SELECT state, attempts FROM batches") == [("done", 1)]
    assert rows(pg_url, "SELECT count(*) FROM photo_attempts")[0][0] == 0


def test_counts_left_by_a_crash_decide_in_process(tmp_path, db_url, settings_for, classifier):
    """In-process and fast: the counts a crash left behind (written as the guarded check writes them) make
    the photo at the limit rejected undecoded and its bystanders checked alone, on every batch of the folder."""
    from monitor.model import load_model
    from monitor.pipeline import ingest_once
    from storage.attempts import add_attempts
    from storage.engine import open_database

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    photos = {f"p{i:02d}.jpg": jpeg((64, 48), seed=6000 + i) for i in range(10)}
    for name, data in photos.items():
        (inbox / name).write_bytes(data)
    settings = settings_for(
        db_url,
        [{"name": "inbox", "kind": "folder", "path": str(inbox)}],
        classifier={"thresholds": ALWAYS},
        ingest={"batch_size": 4, "max_photo_attempts": 3},
    )
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in photos.items()}
    db = open_database(db_url)
    try:
        for _ in range(3):
            add_attempts(db, [sha["p05.jpg"]])
        add_attempts(db, [sha["p04.jpg"], sha["p06.jpg"], sha["p09.jpg"]])  # in flight at the crash
        [summary] = ingest_once(settings, db=db, model=load_model(settings, db, classifier))
    finally:
        db.dispose()
    assert (summary.new, summary.rejected, summary.error) == (10, {"killed_worker": 1}, None)
    assert rows(db_url, "SELECT uri FROM images WHERE reject_reason = 'killed_worker'")[0][0].endswith("p05.jpg")
    assert rows(db_url, "SELECT count(*) FROM images WHERE status = 'accepted'")[0][0] == 9
    assert rows(db_url, "SELECT count(*) FROM detections")[0][0] == 18
    assert rows(db_url, "SELECT count(*) FROM photo_attempts")[0][0] == 0


def test_a_stored_photo_that_kills_reclassify_is_skipped_after_three_kills_and_the_rest_rescored(
    tmp_path, db_url, make_config, classifier
):
    """The photo was stored on a bigger machine; `monitor reclassify` on the small one dies decoding it. Without
    the attempt counts every rerun died at it; now the fourth run skips it, says so, and re-scores the rest."""
    from classifier import LogoClassifier
    from monitor.config import load_settings
    from monitor.model import load_model
    from monitor.pipeline import ingest_once
    from storage.engine import open_database

    good = 10
    config = poisoned_inbox(tmp_path, db_url, make_config, good, seed=7000)  # the poison among stored photos
    settings = load_settings(config)
    with open_database(db_url) as db:  # in this process: nothing here kills a big decode
        assert ingest_once(settings, db=db, model=load_model(settings, db, classifier))[0].new == good + 1
    second = tmp_path / "model-v2"
    LogoClassifier.create(BRANDS, backbone="mobilenet_v1_025", weights="none", input_size=48).save(second)
    kills = 0
    for _ in range(6):  # three kills, then a run that skips the photo; the old code was killed every time
        done = on_small_machine(tmp_path, config, "reclassify", "-m", str(second), "-e", "local")
        if done.returncode == 0:
            break
        assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
        kills += 1
    assert kills == 3, f"the poison photo killed {kills} reclassify runs in a row"
    assert "1 photo(s) skipped: each killed the process re-scoring it" in " ".join(done.stdout.split())
    [(version,)] = rows(db_url, "SELECT max(id) FROM model_versions")
    by_version = "SELECT count(DISTINCT image_id), count(*) FROM detections WHERE model_version_id = :v"
    assert rows(db_url, by_version, v=version) == [(good, 2 * good)]  # every photo but the poison
    poison = "SELECT id FROM images WHERE uri LIKE '%p04b.png'"
    assert rows(db_url, f"SELECT count(*) FROM detections WHERE image_id = ({poison})") == [(2,)]  # the old ones
    # Only the culprit keeps a count (so the next rerun skips it too); its bystanders were cleared.
    assert rows(db_url, "SELECT attempts FROM photo_attempts") == [(3,)]
    again = on_small_machine(tmp_path, config, "reclassify", "-m", str(second), "-e", "local")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 photo(s) skipped" in " ".join(again.stdout.split())
    assert rows(db_url, "SELECT attempts FROM photo_attempts") == [(3,)]
