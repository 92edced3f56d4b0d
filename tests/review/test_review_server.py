"""The review server on 127.0.0.1: who may use it, what it refuses, and the uncertain mode."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import BRANDS, Feed

from cli import run_cli
from monitor.review.server import ReviewError, check_bind, start_server
from monitor.review.session import ReviewSession
from reports.audited import audited_rates
from storage.judgments import judgments

TOKEN = "s3cret-token-0123456789"


def request(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, bytes, dict]:
    data = json.dumps(body).encode() if body is not None else None
    base = {"Content-Type": "application/json", "X-Review": "1"} if body is not None else {}
    req = urllib.request.Request(url, data=data, headers={**base, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_other_interfaces_need_a_token() -> None:
    assert check_bind(None, None) == "127.0.0.1"
    with pytest.raises(ReviewError, match="--token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ReviewError, match="16 characters"):
        check_bind("0.0.0.0", "short")
    assert check_bind("0.0.0.0", TOKEN) == "0.0.0.0"


def test_cli_refuses_an_open_interface_without_a_token(feed: Feed, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": feed.url}}), encoding="utf-8")
    result = run_cli("--config", config, "review", "--host", "0.0.0.0", "--port", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --host 0.0.0.0 opens the review app")
    assert len(result.stderr.splitlines()) == 1


def test_token_host_and_request_checks(feed: Feed) -> None:
    session = ReviewSession(feed.db, judged_by="tester")
    server = start_server(session, "127.0.0.1", 0, TOKEN)
    try:
        photo = session.queue[0].image_id
        assert request(server.url)[0] == 403
        assert request(server.url + "?token=wrong-token-0123456789")[0] == 403
        status, _, headers = request(server.url + f"?token={TOKEN}")
        assert status == 200 and "HttpOnly" in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";")[0]
        assert request(server.url + f"photo/{photo}/full", headers={"Cookie": cookie})[0] == 200
        auth = {"X-Review-Token": TOKEN}
        assert request(server.url + "judge", {"image_id": photo, "present": []})[0] == 403
        plain_form = urllib.request.Request(server.url + "judge", data=b"image_id=1", headers={"X-Review-Token": TOKEN})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(plain_form, timeout=30)
        assert refused.value.code == 400
        status, body, _ = request(server.url + "judge", {"image_id": photo, "present": ["Nope"]}, auth)
        assert status == 400 and b"unknown brand" in body
        outside = max(feed.truth) + 1000
        assert request(server.url + "judge", {"image_id": outside, "present": []}, auth)[0] == 400
        assert request(server.url + "judge", {"image_id": "x", "present": "Acme"}, auth)[0] == 400
        assert judgments(feed.db, 1) == []
        status, body, _ = request(server.url + "judge", {"image_id": photo, "present": ["Acme"]}, auth)
        assert status == 200 and json.loads(body) == {"ok": True, "stored": len(BRANDS)}
    finally:
        server.shutdown()

    open_server = start_server(session, None, 0, None)
    try:
        assert request(open_server.url)[0] == 200
        assert request(open_server.url, headers={"Host": "evil.example:80"})[0] == 403
    finally:
        open_server.shutdown()


def test_uncertain_mode_orders_by_closeness_to_thresholds_and_stays_out_of_the_rates(feed: Feed) -> None:
    session = ReviewSession(feed.db, mode="uncertain", judged_by="tester")
    closeness = [min(abs(s - 0.5) for s in p.detected.values()) for p in session.queue]
    assert closeness == sorted(closeness) and session.queue
    server = start_server(session, None, 0, None)
    try:
        status, body, _ = request(server.url)
        assert status == 200 and b"Uncertain mode (active learning)" in body and b"not a random sample" in body
        for entry in session.queue[:5]:
            assert request(server.url + "judge", {"image_id": entry.image_id, "present": []})[0] == 200
    finally:
        server.shutdown()
    assert {r["mode"] for r in judgments(feed.db, 1)} == {"uncertain"}
    assert audited_rates(feed.db, 1) is None  # nothing from the random sample yet


def test_monitor_status_says_how_many_judgments_each_brand_has(feed: Feed, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": feed.url}}), encoding="utf-8")
    session = ReviewSession(feed.db, judged_by="tester")
    for entry in session.queue[:4]:
        session.judge(entry.image_id, [])
    uncertain = ReviewSession(feed.db, mode="uncertain", judged_by="tester")
    judged = {entry.image_id for entry in session.queue[:4]}
    uncertain.judge(next(p.image_id for p in uncertain.queue if p.image_id not in judged), ["Acme"])
    result = run_cli("--config", config, "status")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("Judgments for model version 1"))
    assert line.endswith("Acme 4 (+1 uncertain), Globex 4 (+1 uncertain), Initech 4 (+1 uncertain)")


def test_a_photo_judged_only_for_active_learning_is_not_skipped_by_the_random_sample(feed: Feed) -> None:
    from storage.judgments import Verdict, save_judgments

    sample = ReviewSession(feed.db, judged_by="tester")
    for entry in sample.queue[:3]:
        sample.judge(entry.image_id, [])
    fourth = sample.queue[3].image_id
    save_judgments(feed.db, 1, [Verdict(fourth, b, False) for b in BRANDS], "uncertain", "tester")
    assert sample.first_unjudged() == 3
    assert "uncertain mode: judge again to count it here" in sample.items(3, 1)[0]["judged_by"][0]
    sample.judge(fourth, [])
    assert sample.first_unjudged() == 4
    assert {r["mode"] for r in judgments(feed.db, 1) if r["image_id"] == fourth} == {"sample"}
