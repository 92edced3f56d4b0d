"""Refs and fetched items as JSON (bytes as base64): what the outbox stores and what tasks carry."""

from __future__ import annotations

import base64
from typing import Any, Optional

from monitor.errors import FetchError
from monitor.pipeline import Item, decode_ref, encode_ref


def _b64(data: Optional[bytes]) -> Optional[str]:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: Optional[str]) -> Optional[bytes]:
    return None if text is None else base64.b64decode(text)


def encode_items(items: list[Item]) -> list[dict[str, Any]]:
    """Fetched items as JSON: the ref, sha256, the bytes when still needed, the fetch failure."""
    return [{"ref": encode_ref(i.ref, with_data=False), "sha256": i.sha256, "data": _b64(i.data), "known": i.known,
             "failure": [i.failure.reason, str(i.failure)] if i.failure is not None else None} for i in items]


def decode_items(payload: list[dict[str, Any]]) -> list[Item]:
    """The items encode_items wrote."""
    items = []
    for entry in payload:
        failure = entry.get("failure")
        items.append(Item(decode_ref(entry["ref"]), sha256=entry.get("sha256"), data=_unb64(entry.get("data")),
                          known=bool(entry.get("known")),
                          failure=FetchError(failure[1], failure[0]) if failure else None))
    return items
