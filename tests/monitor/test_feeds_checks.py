"""`monitor config check` (folders, --online feeds, --load-model, the README's example and config.yaml's
commented examples) and `monitor ingest --once` failing when every source failed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from cli import run_cli
from ingest_helpers import Reply, jpeg

ROOT = Path(__file__).resolve().parents[2]
COMMENTED_KEY = re.compile(r"^(\s*)#\s?(\s*(?:- )?[a-z_][a-z0-9_]*:(?:\s.*)?)$")  # as tests/test_guardrails.py
ENV = {
    "PARTNER_API_TOKEN": "t0ken",
    "FLICKR_KEY": "k3y",
    "SLACK_WEBHOOK_URL": "https://hooks.example.test/T000/B000/XXXX",
    "SMTP_PASSWORD": "pw",
}


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("<!-- readme-config-example -->\n```yaml\n", 1)[1].split("\n```", 1)[0]


def test_the_readme_example_passes_config_check(tmp_path):
    (tmp_path / "config.yaml").write_text(readme_example(), encoding="utf-8")
    (tmp_path / "inbox").mkdir()
    done = run_cli("config", "check", cwd=tmp_path, env=ENV)
    assert done.exit_code == 0, done.output
    assert (
        "  sources: inbox (folder), partner-api (json), acme-on-flickr (json), acme-on-mastodon (json), "
        "acme-subreddit (json), acme-channel (rss), acme-blog (rss)"
    ) in done.stdout
    assert f"  folder inbox: OK: {tmp_path / 'inbox'}" in done.stdout
    data = yaml.safe_load(readme_example())
    assert any(isinstance(s.get("fields", {}).get("image"), list) for s in data["sources"])


def test_config_yaml_with_every_example_uncommented_passes_config_check(tmp_path):
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    uncommented = "\n".join(COMMENTED_KEY.sub(r"\1\2", line) for line in text.splitlines())
    (tmp_path / "config.yaml").write_text(uncommented, encoding="utf-8")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "photos.csv").write_text("file,posted_at\n", encoding="utf-8")
    done = run_cli("config", "check", cwd=tmp_path, env=ENV)
    assert done.exit_code == 0, done.output
    assert "flickr-tag (json)" in done.stdout and "brand-blog (jsonfeed)" in done.stdout


def test_config_check_names_a_missing_folder(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "sources:\n  - {name: drop, kind: folder, path: nowhere}\n"
        "  - {name: paused, kind: folder, path: gone, enabled: false}\n"
    )
    done = run_cli("config", "check", cwd=tmp_path)
    assert done.exit_code == 1
    assert f"folder drop: FAILED: {tmp_path / 'nowhere'} is not a folder" in done.stdout
    assert "Error: folder drop:" in done.stderr and "paused" not in done.stderr


def test_config_check_online_asks_every_feed(tmp_path, server):
    server.routes["/feed"] = Reply(
        body=f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><guid>1</guid><enclosure url="{server.url("/a.jpg")}" type="image/jpeg"/></item>
      <item><guid>2</guid><enclosure url="{server.url("/b.jpg")}" type="image/jpeg"/></item>
      </channel></rss>""".encode(),
        content_type="application/rss+xml",
    )
    server.routes["/a.jpg"] = Reply(body=jpeg(seed=1), content_type="image/jpeg")
    sources = [
        {"name": "good", "kind": "rss", "url": server.url("/feed"), "allow_private": True},
        {"name": "gone", "kind": "json", "url": server.url("/api"), "allow_private": True, "fields": {"image": "img"}},
    ]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"sources": sources}))
    offline = run_cli("config", "check", cwd=tmp_path)
    assert offline.exit_code == 0 and server.hits == {}
    done = run_cli("config", "check", "--online", cwd=tmp_path)
    assert done.exit_code == 1
    assert "  feed good: OK: answers: 2 photo(s) listed" in done.stdout
    assert "feed gone: FAILED:" in done.stdout and "404" in done.stderr
    assert "Error: feed gone:" in done.stderr and "good" not in done.stderr
    assert "/a.jpg" not in server.hits  # pages only: no photo fetched


def test_config_check_load_model(tmp_path, bundle_dir):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"classifier": {"model": str(bundle_dir)}}))
    done = run_cli("config", "check", "--load-model", cwd=tmp_path)
    assert done.exit_code == 0, done.output
    assert f"  model: OK: {bundle_dir} loads" in done.stdout
    broken = tmp_path / "broken"
    broken.mkdir()
    manifest = json.loads((bundle_dir / "bundle.json").read_text())
    (broken / "bundle.json").write_text(json.dumps(manifest))  # the manifest without its weights
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"classifier": {"model": str(broken)}}))
    assert run_cli("config", "check", cwd=tmp_path).exit_code == 0  # manifest only: fine without --load-model
    done = run_cli("config", "check", "--load-model", cwd=tmp_path)
    assert done.exit_code == 1 and "Error: model:" in done.stderr and "does not load" in done.stderr


def test_ingest_once_fails_when_every_source_failed(server, sqlite_url, settings_for):
    server.routes["/ok"] = Reply(body=b'{"items": []}', content_type="application/json")
    bad = [
        {"name": "first", "kind": "rss", "url": server.url("/missing.xml"), "allow_private": True},
        {
            "name": "second",
            "kind": "json",
            "url": server.url("/missing.json"),
            "allow_private": True,
            "fields": {"image": "img"},
        },
    ]
    settings = settings_for(sqlite_url, bad)
    done = run_cli("--config", settings.config_path, "ingest", "--once")
    assert done.exit_code == 1
    assert done.stderr.startswith("Error: every source failed: first: ") and "second: " in done.stderr
    good = {
        "name": "fine",
        "kind": "json",
        "url": server.url("/ok"),
        "items": "items",
        "allow_private": True,
        "fields": {"image": "img"},
    }
    settings = settings_for(sqlite_url, [*bad, good])
    done = run_cli("--config", settings.config_path, "ingest", "--once")
    assert done.exit_code == 0, done.output
