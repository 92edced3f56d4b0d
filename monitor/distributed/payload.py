"""Refs and fetched items as JSON (bytes as base64): what the outbox stores and what tasks carry."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from monitor.batch import Item
from monitor.errors import FetchError
from monitor.refs import b64_bytes, b64_text, decode_ref, encode_ref
from monitor.sources.base import ImageRef


def encode_items(items: list[Item]) -> list[dict[str, Any]]:
    """Fetched items as JSON: the ref, sha256, the bytes when still needed, the fetch failure."""
    return [
        {
            "ref": encode_ref(i.ref, with_data=False),
            "sha256": i.sha256,
            "data": b64_text(i.data),
            "known": i.known,
            "failure": [i.failure.reason, str(i.failure)] if i.failure is not None else None,
        }
        for i in items
    ]


def decode_items(payload: list[dict[str, Any]]) -> list[Item]:
    """The items encode_items wrote."""
    items = []
    for entry in payload:
        failure = entry.get("failure")
        items.append(
            Item(
                decode_ref(entry["ref"]),
                sha256=entry.get("sha256"),
                data=b64_bytes(entry.get("data")),
                known=bool(entry.get("known")),
                failure=FetchError(failure[1], failure[0]) if failure else None,
            )
        )
    return items


def matches_outbox(batch: dict[str, Any], payload: Any) -> bool:
    """Whether a classify payload carries exactly the refs of its outbox row (an ingest batch), or only stored
    photos with their stored sha256 (a reclassify batch): a message forged on the broker cannot mark a batch
    done with other photos."""
    try:
        entries = payload["items"]
        if batch["kind"] == "reclassify":
            stored = {(row["uri"], str(row["id"])): row["sha256"] for row in batch["refs"]}
            return all(stored.get((e["ref"]["uri"], e["ref"]["external_id"]), object()) == e["sha256"] for e in entries)
        sent = Counter(_key(decode_ref(e["ref"])) for e in entries)
        return sent == Counter(_key(decode_ref(r)) for r in batch["refs"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def _key(ref: ImageRef) -> str:
    return json.dumps(encode_ref(ref, with_data=False), sort_keys=True)
