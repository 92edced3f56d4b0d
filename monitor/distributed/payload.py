"""Refs and fetched items as JSON (bytes as base64): what the outbox stores and what tasks carry."""

from __future__ import annotations

from typing import Any

from monitor.errors import FetchError
from monitor.batch import Item
from monitor.refs import b64_bytes, b64_text, decode_ref, encode_ref


def encode_items(items: list[Item]) -> list[dict[str, Any]]:
    """Fetched items as JSON: the ref, sha256, the bytes when still needed, the fetch failure."""
    return [{"ref": encode_ref(i.ref, with_data=False), "sha256": i.sha256, "data": b64_text(i.data), "known": i.known,
             "failure": [i.failure.reason, str(i.failure)] if i.failure is not None else None} for i in items]


def decode_items(payload: list[dict[str, Any]]) -> list[Item]:
    """The items encode_items wrote."""
    items = []
    for entry in payload:
        failure = entry.get("failure")
        items.append(Item(decode_ref(entry["ref"]), sha256=entry.get("sha256"), data=b64_bytes(entry.get("data")),
                          known=bool(entry.get("known")),
                          failure=FetchError(failure[1], failure[0]) if failure else None))
    return items
