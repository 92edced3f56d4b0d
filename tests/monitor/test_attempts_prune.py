"""Photo attempt counts whose photo never came back (item deleted, stored elsewhere) are pruned by `monitor run`
once they are `ATTEMPTS_KEPT_S` old, at the maintenance step after each poll (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import timedelta


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def test_the_daemon_prunes_attempt_counts_older_than_the_kept_age_and_keeps_the_rest(tmp_path, db_url, settings_for):
    from sqlalchemy import update

    from monitor.batch import ATTEMPTS_KEPT_S
    from monitor.daemon import Daemon
    from storage.attempts import add_attempts, attempts_of
    from storage.engine import open_database
    from storage.schema import PhotoAttempt, utcnow

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = settings_for(db_url, [{"name": "inbox", "kind": "folder", "path": str(inbox)}])
    names = ["gone", "culprit", "recent", "in_flight"]
    db = open_database(db_url)
    try:
        add_attempts(db, [sha(n) for n in names])  # as check_guarded writes them
        add_attempts(db, [sha("gone"), sha("culprit")])
        add_attempts(db, [sha("culprit")])
        now = utcnow()
        ages = {"gone": ATTEMPTS_KEPT_S + 3600, "culprit": ATTEMPTS_KEPT_S + 60, "recent": ATTEMPTS_KEPT_S - 3600}
        with db.session(write=True) as session:
            for name, age in ages.items():
                moved = update(PhotoAttempt).where(PhotoAttempt.sha256 == sha(name))
                session.execute(moved.values(last_at=now - timedelta(seconds=age)))
        # The celery executor needs no model; the step after a poll is the same for both executors.
        daemon = Daemon(settings, executor="celery")
        try:
            daemon.after_poll()
        finally:
            daemon.runner.close()
            daemon.db.dispose()
        assert attempts_of(db, [sha(n) for n in names]) == {sha("recent"): 1, sha("in_flight"): 1}
    finally:
        db.dispose()
