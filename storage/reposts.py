"""Near-duplicate (repost) search: perceptual hashes within a Hamming distance, in a batch and in the database."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import combinations
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.records import ImageRecord
from storage.schema import Image
from storage.statements import chunks

PHASH_BITS = 64
BAND_BITS = 16
BANDS = PHASH_BITS // BAND_BITS
_MAX_NEIGHBOURS = 1000  # probes per band beyond which comparing with every stored hash is cheaper


def phash_bands(phash: str | None) -> tuple[int | None, ...]:
    """The 64-bit hash as four 16-bit integers (None for no hash)."""
    if phash is None:
        return (None,) * BANDS
    return _split(phash_int(phash))


def phash_int(phash: str) -> int:
    try:
        if len(phash) != PHASH_BITS // 4:
            raise ValueError(phash)
        return int(phash, 16)
    except ValueError:
        raise StorageError(
            f"perceptual hash {phash!r} is not {PHASH_BITS // 4} hex digits (imagehash.phash with hash_size=8)"
        ) from None


@lru_cache(maxsize=16)
def _flip_masks(radius: int) -> tuple[int, ...]:
    """XOR masks that flip up to `radius` bits of a band (0 first)."""
    masks = [0]
    for flips in range(1, radius + 1):
        masks.extend(sum(1 << bit for bit in bits) for bits in combinations(range(BAND_BITS), flips))
    return tuple(masks)


def _split(value: int) -> tuple[int, ...]:
    mask = (1 << BAND_BITS) - 1
    return tuple((value >> (BAND_BITS * (BANDS - 1 - i))) & mask for i in range(BANDS))


class _NearIndex:
    """Hashes filed by band value: the earliest entry within `distance` of a hash, without comparing all."""

    def __init__(self, distance: int):
        self.distance = distance
        self.masks = _flip_masks(distance // BANDS) if _use_bands(distance) else ()
        self.scan = not self.masks
        self.entries: list[tuple[Any, int, Any]] = []
        self.bands: list[dict[int, list[tuple[Any, int, Any]]]] = [defaultdict(list) for _ in range(BANDS)]

    def add(self, order: Any, value: int, target: Any) -> None:
        entry = (order, value, target)
        self.entries.append(entry)
        if not self.scan:
            for band, part in enumerate(_split(value)):
                self.bands[band][part].append(entry)

    def first(self, value: int) -> Any:
        """The target of the earliest entry within `distance` of `value`, or None."""
        if self.scan:
            pool: Iterable[tuple[Any, int, Any]] = self.entries
        else:
            pool = (
                entry
                for band, part in enumerate(_split(value))
                for mask in self.masks
                for entry in self.bands[band].get(part ^ mask, ())
            )
        near = [entry for entry in pool if (entry[1] ^ value).bit_count() <= self.distance]
        return min(near, key=lambda entry: entry[0])[2] if near else None


def _use_bands(distance: int) -> bool:
    """Whether band lookups beat a full scan at this distance (few enough flip masks)."""
    return len(_flip_masks(distance // BANDS)) <= _MAX_NEIGHBOURS


def _xor(a: str, b: str) -> str:
    return f"(({a} | {b}) - ({a} & {b}))"  # a ^ b for non-negative ints; SQLite has no XOR operator


def _popcount16(x: str) -> str:
    """SQL for the number of set bits of a 16-bit integer expression (SWAR, portable)."""
    x1 = f"({x} - (({x} >> 1) & 21845))"
    x2 = f"(({x1} & 13107) + (({x1} >> 2) & 13107))"
    x3 = f"(({x2} + ({x2} >> 4)) & 3855)"
    return f"(({x3} + ({x3} >> 8)) & 31)"


_XOR_SQL = ", ".join(f"{_xor(f'i.phash_b{k}', f'q.h{k}')} AS x{k}" for k in range(BANDS))
_DISTANCE_SQL = " + ".join(_popcount16(f"c.x{k}") for k in range(BANDS))
_PROBE_COLUMNS = ("pos", "band", "v", "h0", "h1", "h2", "h3")
_PROBE_ROWS = 20_000  # probe rows per statement
# The probes travel as one parameter (a JSON text on SQLite, arrays on PostgreSQL), so the
# statement text stays the same and is prepared once; q is the outer loop of the join.
_PROBES_FROM = {
    "sqlite": "SELECT "
    + ", ".join(f"json_extract(value, '$[{n}]') AS {c}" for n, c in enumerate(_PROBE_COLUMNS))
    + " FROM json_each(:probes)",
    "postgresql": "SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c} AS integer[])" for c in _PROBE_COLUMNS)
    + ") AS p("
    + ", ".join(_PROBE_COLUMNS)
    + ")",
}


@lru_cache(maxsize=8)
def _near_sql(dialect: str, by_band: bool) -> Any:
    """The statement returning (probe position, image id) for stored photos within :distance."""
    head = f"WITH q AS MATERIALIZED ({_PROBES_FROM[dialect]}) "
    if by_band:
        pairs = " UNION ALL ".join(
            f"SELECT q.pos, i.id, {_XOR_SQL} FROM q CROSS JOIN images i WHERE q.band = {band} AND i.phash_b{band} = q.v"
            for band in range(BANDS)
        )
    else:  # so far apart that probing would read everything anyway
        pairs = f"SELECT q.pos, i.id, {_XOR_SQL} FROM q CROSS JOIN images i WHERE i.phash_b0 IS NOT NULL"
    return text(f"{head}SELECT DISTINCT c.pos, c.id FROM ({pairs}) AS c WHERE {_DISTANCE_SQL} <= :distance")


def _probe_params(dialect: str, rows: list[tuple[int, ...]]) -> dict[str, Any]:
    if dialect == "sqlite":
        return {"probes": json.dumps(rows)}
    return {column: [row[n] for row in rows] for n, column in enumerate(_PROBE_COLUMNS)}


def stored_originals(session: Session, records: Sequence[ImageRecord], distance: int) -> dict[str, int]:
    """For accepted records near a stored accepted photo: sha256 -> id of the earliest one's original.

    Multi-index hashing: two hashes within `distance` differ in at most distance // 4 bits of
    some 16-bit band, so each record probes its bands' near values through the band indexes, and
    the exact Hamming distance is computed in SQL from the same index entries; only matches
    come back.
    """
    probes = [(pos, _split(phash_int(r.phash))) for pos, r in enumerate(records) if r.phash and r.status == "accepted"]
    if not probes:
        return {}
    dialect = session.get_bind().dialect.name
    by_band = _use_bands(distance)
    masks = _flip_masks(distance // BANDS) if by_band else (0,)
    rows = [
        (pos, band, part ^ mask, *h)
        for pos, h in probes
        for band, part in (enumerate(h) if by_band else [(0, 0)])
        for mask in masks
    ]
    earliest: dict[int, int] = {}
    statement = _near_sql(dialect, by_band)
    for start in range(0, len(rows), _PROBE_ROWS):
        params = {**_probe_params(dialect, rows[start : start + _PROBE_ROWS]), "distance": distance}
        for pos, image_id in session.execute(statement, params):
            if pos not in earliest or image_id < earliest[pos]:
                earliest[pos] = image_id
    originals: dict[int, int | None] = {}
    for chunk_ids in chunks(sorted(set(earliest.values()))):
        originals.update(session.execute(select(Image.id, Image.repost_of_id).where(Image.id.in_(chunk_ids))).all())
    return {records[pos].sha256: originals[image_id] or image_id for pos, image_id in earliest.items()}


def assign_reposts(
    session: Session, records: Sequence[ImageRecord], rows: dict[str, dict[str, Any]], distance: int
) -> dict[str, str]:
    """Set repost_of_id on rows near a stored image; return {sha: sha of the in-batch original}."""
    stored = stored_originals(session, records, distance)
    index = _NearIndex(distance)  # this batch's accepted photos, for copies within the batch
    in_batch: dict[str, str] = {}
    for position, record in enumerate(records):
        if not record.phash or record.status != "accepted":
            continue
        value = phash_int(record.phash)
        original = ("stored", stored[record.sha256]) if record.sha256 in stored else index.first(value)
        if original is None:
            original = ("batch", record.sha256)
        elif original[0] == "stored":
            rows[record.sha256]["repost_of_id"] = original[1]
        else:
            in_batch[record.sha256] = original[1]
        index.add((1, position), value, original)
    return in_batch
