"""Model bundles: a directory with the Keras weights and bundle.json, checked when loaded."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier.backbones import BACKBONES
from classifier.calibration import Calibration
from classifier.errors import BundleError, ClassifierError

FORMAT = 1
MANIFEST = "bundle.json"
WEIGHTS = "model.weights.h5"
REQUIRED = ("format", "classes", "thresholds", "backbone", "input_size", "weights_file", "weights_sha256")


def file_sha256(path: Path) -> str:
    """sha256 of one file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bundle_checksum(bundle_dir: Path) -> str:
    """sha256 over the names and contents of every file in the bundle (sorted)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in bundle_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(bundle_dir).as_posix().encode() + b"\0")
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shaped the model."""
    import keras
    import numpy
    import tensorflow

    versions = {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
    }
    try:
        import albumentations

        versions["albumentations"] = albumentations.__version__
    except ImportError:  # only needed for training
        pass
    return versions


def save_bundle(model: Any, bundle_dir: Path) -> Path:
    """Write weights + bundle.json; sets model.checksum and model.bundle_path."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    weights = bundle_dir / WEIGHTS
    model.model.save_weights(str(weights))
    manifest = {
        "format": FORMAT,
        "classes": model.classes,
        "thresholds": {c: float(model.thresholds[c]) for c in model.classes},
        "backbone": model.backbone,
        "input_size": model.input_size,
        "weights_identity": model.weights_id,
        "head": {"dropout": model.dropout, "hidden": model.hidden, "ensemble": model.ensemble, **model.feature_layout},
        "weights_file": WEIGHTS,
        "weights_sha256": file_sha256(weights),
        "metrics": model.metrics,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
        **{k: v for k, v in model.info.items() if k not in ("format",)},
    }
    (bundle_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    model.checksum = bundle_checksum(bundle_dir)
    model.bundle_path = bundle_dir.resolve()
    return bundle_dir


def read_manifest(bundle_dir: Path) -> dict[str, Any]:
    """bundle.json, checked for the keys a loader needs."""
    if not bundle_dir.is_dir():
        raise BundleError(
            f"model bundle {bundle_dir} does not exist or is not a directory "
            f"(train one with `monitor train DATA_DIR --out {bundle_dir}`)"
        )
    path = bundle_dir / MANIFEST
    if not path.is_file():
        raise BundleError(f"model bundle {bundle_dir}: {MANIFEST} is missing; this is not a model bundle")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"model bundle {bundle_dir}: {MANIFEST} is unreadable: {exc}") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"model bundle {bundle_dir}: {MANIFEST} must hold a JSON object")
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise BundleError(f"model bundle {bundle_dir}: {MANIFEST} lacks {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise BundleError(
            f"model bundle {bundle_dir}: format {manifest['format']!r} is not supported "
            f"(this version reads format {FORMAT})"
        )
    if manifest["backbone"] not in BACKBONES:
        raise BundleError(
            f"model bundle {bundle_dir}: backbone {manifest['backbone']!r} is unknown (known: {', '.join(BACKBONES)})"
        )
    classes = manifest["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise BundleError(f"model bundle {bundle_dir}: classes must be a non-empty list of brand names")
    thresholds = manifest["thresholds"]
    if not isinstance(thresholds, dict) or set(thresholds) != set(classes):
        raise BundleError(f"model bundle {bundle_dir}: thresholds must name exactly the classes {classes}")
    return manifest


def _output_width(weights: Path) -> int | None:
    """How many brands the saved head scores (from the last Dense layer's bias), if readable."""
    import h5py

    with h5py.File(weights, "r") as handle:
        group = handle.get("layers/sequential/layers")
        if group is None:
            return None
        dense = [name for name in group if re.fullmatch(r"dense(_\d+)?", name)]
        if not dense:
            return None
        last = max(dense, key=lambda n: int(n.split("_")[1]) if "_" in n else 0)
        bias = group.get(f"{last}/vars/1")
        return None if bias is None else int(bias.shape[0])


def load_bundle(cls: Any, bundle_dir: Path, precision: str = "auto") -> Any:
    """Read and check a bundle, then build the model and load its weights."""
    manifest = read_manifest(bundle_dir)
    weights = bundle_dir / str(manifest["weights_file"])
    if not weights.is_file():
        raise BundleError(f"model bundle {bundle_dir}: weights file {weights.name} is missing")
    try:
        width = _output_width(weights)
    except Exception as exc:  # h5py raises OSError and others on damaged files
        raise BundleError(
            f"model bundle {bundle_dir}: weights file {weights.name} is corrupt (not a readable HDF5 file: {exc})"
        ) from None
    if width is not None and width != len(manifest["classes"]):
        raise BundleError(
            f"model bundle {bundle_dir}: the weights score {width} brands but {MANIFEST} "
            f"lists {len(manifest['classes'])} ({', '.join(manifest['classes'])})"
        )
    if file_sha256(weights) != manifest["weights_sha256"]:
        raise BundleError(
            f"model bundle {bundle_dir}: weights file {weights.name} is corrupt or was replaced "
            f"(its sha256 differs from the one in {MANIFEST})"
        )
    head = manifest.get("head") or {}
    try:
        model = cls(
            manifest["classes"],
            manifest["backbone"],
            int(manifest["input_size"]),
            manifest.get("weights_identity", "unknown"),
            float(head.get("dropout", 0.2)),
            int(head.get("hidden", 256)),
            str(head.get("pooling", "avg")),  # older bundles: average only
            bool(head.get("mid_level", False)),
            int(head.get("ensemble", 1)),
            precision,
            _base_weights=None,
        )
    except (ClassifierError, ValueError, TypeError) as exc:
        raise BundleError(f"model bundle {bundle_dir}: cannot build the model it describes: {exc}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns per layer before raising; the error says it all
            model.model.load_weights(str(weights))
    except Exception as exc:  # Keras raises ValueError/KeyError on layout mismatches
        raise BundleError(
            f"model bundle {bundle_dir}: the weights do not fit backbone {manifest['backbone']!r} "
            f"at {manifest['input_size']} px with {len(manifest['classes'])} brands "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    model.thresholds = {c: float(manifest["thresholds"][c]) for c in model.classes}
    model.metrics = manifest.get("metrics") or {}
    model.calibration = Calibration.from_dict(model.metrics.get("calibration"))  # None: an older bundle, raw scores
    model.info = {
        k: v
        for k, v in manifest.items()
        if k not in REQUIRED
        and k not in ("classes", "thresholds", "metrics", "head", "weights_identity", "versions", "saved_at")
    }
    model.checksum = bundle_checksum(bundle_dir)
    model.bundle_path = bundle_dir.resolve()
    return model


def update_metrics(bundle_dir: Path, metrics: dict[str, Any]) -> str:
    """Replace the metrics in a bundle's manifest (the weights stay); returns the bundle's new checksum."""
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    manifest["metrics"] = metrics
    path = bundle_dir / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return bundle_checksum(bundle_dir)
