"""Refs as JSON (bytes as base64): what the outbox, fetch-failure rows and task payloads carry."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from monitor.sources.base import ImageRef

_REF_FIELDS = ("uri", "external_id", "latitude", "longitude", "place", "caption", "author", "reach")


def b64_text(data: bytes | None) -> str | None:
    """Bytes as base64 text for JSON (None stays None)."""
    return None if data is None else base64.b64encode(data).decode("ascii")


def b64_bytes(text: str | None) -> bytes | None:
    """The bytes b64_text wrote (None stays None)."""
    return None if text is None else base64.b64decode(text)


def encode_ref(ref: ImageRef, with_data: bool = True) -> dict[str, Any]:
    """A ref as JSON; its cursor stays behind (stored with the batch that carried it)."""
    out = {name: getattr(ref, name) for name in _REF_FIELDS}
    out["posted_at"] = ref.posted_at.isoformat() if ref.posted_at else None
    out["data"] = b64_text(ref.data) if with_data else None
    return out


def decode_ref(data: dict[str, Any]) -> ImageRef:
    """The ref encode_ref wrote."""
    posted = data.get("posted_at")
    return ImageRef(
        **{name: data.get(name) for name in _REF_FIELDS},
        posted_at=datetime.fromisoformat(posted) if posted else None,
        data=b64_bytes(data.get("data")),
    )
