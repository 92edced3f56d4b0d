"""Labelled photo sets: brand folders, `none` negatives, labels CSV, boxes CSV, seeded splits."""

from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from classifier.errors import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
NEGATIVE_FOLDER = "none"


@dataclass(frozen=True)
class Box:
    """A logo box in pixels of the original photo."""

    brand: str
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass
class Example:
    """One distinct photo (by sha256) with every brand it shows (empty: no logo)."""

    path: Path
    sha256: str
    brands: frozenset[str]
    width: int
    height: int
    paths: list[Path] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)


@dataclass
class Dataset:
    """Distinct photos with their brands, plus what was skipped and why."""

    classes: list[str]
    examples: list[Example]
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: list[list[Path]] = field(default_factory=list)
    box_problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def labels(self, classes: Sequence[str] | None = None) -> np.ndarray:
        """Multi-hot targets (N, C) in the order of `classes` (default: the data set's)."""
        classes = list(classes or self.classes)
        index = {c: i for i, c in enumerate(classes)}
        out = np.zeros((len(self.examples), len(classes)), np.float32)
        for row, example in enumerate(self.examples):
            for brand in example.brands:
                if brand in index:
                    out[row, index[brand]] = 1.0
        return out

    def fingerprint(self) -> str:
        """sha256 over the photos' hashes and labels: the identity of the training data."""
        digest = hashlib.sha256()
        for example in sorted(self.examples, key=lambda e: e.sha256):
            digest.update(f"{example.sha256}:{'|'.join(sorted(example.brands))}\n".encode())
        return digest.hexdigest()

    def subset(self, examples: list[Example]) -> Dataset:
        return replace(self, examples=examples)

    def split(self, validation: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
        """Seeded train/validation split, stratified on each photo's first brand (or 'none')."""
        if not 0 < validation < 1:
            raise DatasetError(f"validation fraction must be between 0 and 1, got {validation}")
        groups: dict[str, list[Example]] = defaultdict(list)
        for example in sorted(self.examples, key=lambda e: e.sha256):
            groups[min(example.brands) if example.brands else NEGATIVE_FOLDER].append(example)
        rng = random.Random(seed)
        train, valid = [], []
        for key in sorted(groups):
            members = groups[key]
            rng.shuffle(members)
            count = int(round(len(members) * validation)) if len(members) >= 2 else 0
            count = min(max(count, 1 if len(members) >= 3 else 0), len(members) - 1) if members else 0
            valid.extend(members[:count])
            train.extend(members[count:])
        return self.subset(train), self.subset(valid)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _inspect(path: Path) -> tuple[str, int, int]:
    """sha256 and oriented size of a photo the one decoder (classifier.images) reads; ValueError with the reason."""
    from classifier.errors import PhotoRejected
    from classifier.images import decode

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the file: {exc.strerror or exc}") from None
    if not data:
        raise ValueError("empty file")
    try:
        photo = decode(data)
    except PhotoRejected as exc:
        what = {"truncated": "broken image", "too_large": "too large", "too_small": "too small"}
        raise ValueError(f"{what.get(exc.reason, 'not an image this program reads')}: {exc.detail}") from None
    return hashlib.sha256(data).hexdigest(), photo.width, photo.height


def _read_labels_csv(path: Path) -> list[tuple[Path, frozenset[str]]]:
    if not path.is_file():
        raise DatasetError(f"labels file {path} does not exist")
    rows: list[tuple[Path, frozenset[str]]] = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        for line, row in enumerate(reader, start=1):
            if not row or (line == 1 and [c.strip().lower() for c in row[:2]] == ["path", "brands"]):
                continue
            if len(row) > 2 or not row[0].strip():
                raise DatasetError(f"{path}, line {line}: expected 'path,brands' (brands separated by |), got {row}")
            brands = frozenset(
                b.strip()
                for b in (row[1] if len(row) > 1 else "").split("|")
                if b.strip() and b.strip().lower() != NEGATIVE_FOLDER
            )
            photo = Path(row[0].strip())
            rows.append((photo if photo.is_absolute() else path.parent / photo, brands))
    return rows


def _read_boxes_csv(path: Path) -> list[tuple[str, Box, int]]:
    if not path.is_file():
        raise DatasetError(f"boxes file {path} does not exist")
    out = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        needed = {"image", "brand", "x1", "y1", "x2", "y2"}
        if not reader.fieldnames or not needed <= set(reader.fieldnames):
            raise DatasetError(f"{path}: header must be image,brand,x1,y1,x2,y2 (got {reader.fieldnames})")
        for line, row in enumerate(reader, start=2):
            try:
                box = Box(row["brand"].strip(), *(float(row[k]) for k in ("x1", "y1", "x2", "y2")))
            except (TypeError, ValueError):
                raise DatasetError(f"{path}, line {line}: coordinates must be numbers, got {row}") from None
            out.append((row["image"].strip(), box, line))
    return out


def load_dataset(
    root: str | Path | None = None,
    negatives: Iterable[str | Path] = (),
    labels_csv: str | Path | None = None,
    boxes_csv: str | Path | None = None,
    progress: bool = True,
) -> Dataset:
    """Read a labelled set: root/<Brand>/ folders (root/none = no logo), extra negative folders,
    or a labels CSV; the same bytes under several brands become one multi-label example."""
    from rich.progress import track

    labelled: list[tuple[Path, frozenset[str]]] = []
    if labels_csv is not None:
        labelled.extend(_read_labels_csv(Path(labels_csv)))
    elif root is not None:
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"data folder {root} does not exist")
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            brands = frozenset() if folder.name.lower() == NEGATIVE_FOLDER else frozenset([folder.name])
            labelled.extend((path, brands) for path in _image_files(folder))
    for folder in negatives:
        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f"negatives folder {folder} does not exist")
        labelled.extend((path, frozenset()) for path in _image_files(folder))
    if not labelled:
        raise DatasetError(f"no photos found (looked in {root or labels_csv}; expected <Brand>/*.jpg folders)")

    by_sha: dict[str, Example] = {}
    unreadable: list[tuple[Path, str]] = []
    items = track(labelled, description="Reading photos", transient=True, disable=not progress)
    for path, brands in items:
        try:
            sha, width, height = _inspect(path)
        except ValueError as exc:
            unreadable.append((path, str(exc)))
            continue
        if sha in by_sha:
            known = by_sha[sha]
            known.brands = known.brands | brands
            known.paths.append(path)
        else:
            by_sha[sha] = Example(path, sha, brands, width, height, paths=[path])
    examples = list(by_sha.values())
    duplicates = [list(e.paths) for e in examples if len(e.paths) > 1]
    classes = sorted({b for e in examples for b in e.brands})
    dataset = Dataset(classes, examples, unreadable, duplicates)
    if boxes_csv is not None:
        _attach_boxes(dataset, Path(boxes_csv))
    return dataset


def _attach_boxes(dataset: Dataset, boxes_csv: Path) -> None:
    names: dict[str, list[Example]] = defaultdict(list)
    for example in dataset.examples:
        for path in example.paths:
            names[path.name].append(example)
    for image, box, line in _read_boxes_csv(boxes_csv):
        matches = names.get(Path(image).name, [])
        targets = {id(e): e for e in matches if box.brand in e.brands}
        if not targets:
            dataset.box_problems.append(f"{boxes_csv}, line {line}: no photo {image!r} labelled {box.brand!r}")
            continue
        for example in targets.values():
            if not (0 <= box.x1 < box.x2 <= example.width + 1 and 0 <= box.y1 < box.y2 <= example.height + 1):
                dataset.box_problems.append(
                    f"{boxes_csv}, line {line}: box outside the {example.width}x{example.height} photo {image!r}"
                )
                continue
            if not any(_iou(box, other) > 0.7 for other in example.boxes if other.brand == box.brand):
                example.boxes.append(box)  # annotators often repeat a box; keep one


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = ix * iy
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


def dataset_stats(dataset: Dataset) -> dict:
    """Counts per class, negatives, multi-label photos, duplicates, unreadable files, photo sizes."""
    per_class = Counter(b for e in dataset.examples for b in e.brands)
    widths = np.array([e.width for e in dataset.examples] or [0])
    heights = np.array([e.height for e in dataset.examples] or [0])
    return {
        "photos": len(dataset.examples),
        "per_class": {c: per_class[c] for c in dataset.classes},
        "no_logo": sum(1 for e in dataset.examples if not e.brands),
        "multi_label": sum(1 for e in dataset.examples if len(e.brands) > 1),
        "boxes": sum(len(e.boxes) for e in dataset.examples),
        "duplicates": [[str(p) for p in group] for group in dataset.duplicates],
        "unreadable": [{"path": str(p), "reason": r} for p, r in dataset.unreadable],
        "box_problems": dataset.box_problems,
        "sizes": {
            "width": {"min": int(widths.min()), "median": float(np.median(widths)), "max": int(widths.max())},
            "height": {"min": int(heights.min()), "median": float(np.median(heights)), "max": int(heights.max())},
        },
    }
