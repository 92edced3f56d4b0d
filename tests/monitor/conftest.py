"""Fixtures for ingestion tests: a real HTTP server on 127.0.0.1, a tiny real model bundle, configs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest_helpers import BRANDS, FeedServer
from notify_servers import receiver, smtp  # noqa: F401  (webhook and SMTP receivers for notification tests)


@pytest.fixture
def server():
    """A running FeedServer; routes are added by the test."""
    srv = FeedServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory) -> Path:
    """A saved, untrained MobileNet-0.25 bundle at 64 px (real Keras; fine for plumbing)."""
    from classifier import LogoClassifier

    path = tmp_path_factory.mktemp("bundle") / "model"
    LogoClassifier.create(BRANDS, backbone="mobilenet_v1_025", weights="none", input_size=64).save(path)
    return path


@pytest.fixture(scope="session")
def classifier(bundle_dir):
    """The bundle loaded once for every in-process test."""
    from classifier import LogoClassifier

    return LogoClassifier.load(bundle_dir)


@pytest.fixture
def make_config(tmp_path, bundle_dir) -> Callable[..., Path]:
    """Write a config.yaml in tmp_path for a database URL and sources; returns its path."""

    def write(url: str, sources: list[dict[str, Any]], model: Path | None = None, **sections: Any) -> Path:
        data = {
            "database": {"url": url},
            "classifier": {"model": str(model or bundle_dir)},
            "ingest": {"batch_size": 8, "retries": 0, "connect_timeout": 2, "read_timeout": 3, "min_side": 16},
            "paths": {"cache": str(tmp_path / "cache")},
            "sources": sources,
        }
        for key, value in sections.items():
            data.setdefault(key, {}).update(value) if isinstance(value, dict) else data.__setitem__(key, value)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write


@pytest.fixture
def settings_for(make_config):
    """Settings loaded from a written config (the database migrated to head)."""
    from monitor.config import load_settings
    from storage.migrate import upgrade

    def build(url: str, sources: list[dict[str, Any]], **sections: Any):
        upgrade(url)
        return load_settings(make_config(url, sources, **sections))

    return build
