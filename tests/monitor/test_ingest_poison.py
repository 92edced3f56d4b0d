"""A photo that kills its process while it is decoded is skipped after `ingest.max_photo_attempts` kills; the
rest of the folder is stored once (real `monitor ingest` processes, SQLite and PostgreSQL).

The kill: `resource.setrlimit(RLIMIT_AS)` cannot stand in for an out-of-memory kill, because a decode over the
limit raises MemoryError (caught; the photo is rejected) where the kernel's OOM killer sends SIGKILL. So the
child process runs the real CLI with one line changed in Pillow (not in our code): a decode of more pixels than
the machine can hold gets SIGKILL, as the OOM killer would. The poison is an ordinary, highly compressed PNG
that is within `max_pixels` and `max_decode_mb` (a budget set for a bigger machine)."""

from __future__ import annotations

import io
import signal
import subprocess
import sys

from PIL import Image

from ingest_helpers import ROOT, jpeg, rows, subprocess_env

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


def ingest_on_small_machine(tmp_path, config) -> subprocess.CompletedProcess:
    script = tmp_path / "oom_child.py"
    script.write_text(OOM_CHILD)
    env = subprocess_env() | {"KILL_PIXELS": str(KILL_PIXELS)}
    command = [sys.executable, str(script), "--config", str(config), "ingest", "--once"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT)


def test_a_photo_that_kills_the_ingest_is_skipped_after_three_kills_and_the_rest_stored_once(
    tmp_path, db_url, make_config
):
    from storage.migrate import upgrade

    good = 10
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(good):
        (inbox / f"p{i:02d}.jpg").write_bytes(jpeg((64, 48), seed=4000 + i))
    (inbox / "p04b.png").write_bytes(poison_png())  # in the middle of the first batch
    upgrade(db_url)
    config = make_config(
        db_url,
        [{"name": "inbox", "kind": "folder", "path": str(inbox)}],
        classifier={"thresholds": ALWAYS},
        ingest={"batch_size": 4, "max_photo_attempts": 3},
    )
    kills = 0
    for _ in range(6):  # three kills, then a run that skips the photo; the old code was killed every time
        done = ingest_on_small_machine(tmp_path, config)
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
    again = ingest_on_small_machine(tmp_path, config)  # the folder is done: nothing is decoded or stored again
    assert again.returncode == 0, again.stderr[-3000:]
    assert rows(db_url, "SELECT count(*) FROM images")[0][0] == good + 1
