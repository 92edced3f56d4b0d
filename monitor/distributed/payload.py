"""Refs and fetched items as JSON (bytes as base64): what the outbox stores and what tasks carry."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from monitor.batch import Item
from monitor.errors import FetchError
from monitor.refs import b64_bytes, b64_text, decode_ref, encode_ref
from monitor.sources.base import ImageRef
from storage.batches import set_payload_digest
from storage.engine import Database


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


def payload_digest(payload: Any) -> str | None:
    """The hex sha256 of a classify payload as canonical JSON (None when it is not JSON at all)."""
    try:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def sealed(batch: dict[str, Any], payload: Any) -> bool:
    """Whether the payload is the one whose digest the fetch task kept in the batch's row (see seal_payload)."""
    return batch.get("payload_sha256") is not None and payload_digest(payload) == batch["payload_sha256"]


def seal_payload(db: Database, batch_id: int, payload: dict[str, Any]) -> None:
    """Keep the digest of the classify payload in the batch's outbox row before the message is sent: the
    classify task refuses any other message (bytes a forger swapped in under the real refs included)."""
    set_payload_digest(db, batch_id, payload_digest(payload))


def _key(ref: ImageRef) -> str:
    return json.dumps(encode_ref(ref, with_data=False), sort_keys=True)
