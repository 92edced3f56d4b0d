"""The classifier a process scores photos with: loaded once, its model version registered."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.tiling import AS_TRAINED, Tiling
from monitor.config import Settings
from monitor.errors import MonitorError
from storage.engine import Database
from storage.model_versions import register_model_version

log = logging.getLogger("monitor.ingest")


class ModelUnavailable(MonitorError):
    """No usable model bundle: the daemon cannot classify photos."""


@dataclass
class LoadedModel:
    """The classifier, loaded once per process, and its registered model version."""

    classifier: Any  # classifier.LogoClassifier (TensorFlow loads with it, so not imported here)
    version_id: int
    thresholds: dict[str, float]
    tiling: Any
    batch_size: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tiled(self) -> bool:
        return Tiling.of(self.tiling).on

    @property
    def work_side(self) -> int:
        return Tiling.of(self.tiling).work_side(self.classifier.input_size)

    def detect(self, images: list[Any]) -> list[list[Any]]:
        """Detections per image; one inference at a time per process."""
        with self.lock:
            return self.classifier.detect(
                images, thresholds=self.thresholds or None, tiling=Tiling.of(self.tiling), batch_size=self.batch_size
            )


def load_model(settings: Settings, db: Database, classifier: Any = None) -> LoadedModel:
    """Load the bundle at settings.classifier.model (unless `classifier` is given) and register its version."""
    path = settings.classifier.model
    if classifier is None:
        classifier = load_classifier(path, settings)
    unknown = sorted(set(settings.classifier.thresholds) - set(classifier.classes))
    if unknown:
        log.warning("classifier.thresholds names brands the model does not know: %s", ", ".join(unknown))
    thresholds = {k: v for k, v in settings.classifier.thresholds.items() if k in classifier.classes}
    tiling = Tiling.resolve(configured_tiling(settings.classifier.tiling), classifier.info)
    mismatch = calibration_mismatch(classifier.info, settings.classifier.tiling)
    if mismatch:
        log.warning("model %s: %s", path, mismatch)
    version_id = register_model_version(
        db,
        classifier.checksum,
        str(classifier.bundle_path or path),
        classifier.backbone,
        classifier.input_size,
        classifier.classes,
        classifier.thresholds,
        classifier.metrics,
    )
    return LoadedModel(classifier, version_id, thresholds, tiling, settings.classifier.batch_size)


def configured_tiling(tiling: Any, flag: bool | None = None, training: bool = False) -> Tiling | str:
    """classifier.tiling as a Tiling, with --tiling/--no-tiling (`flag`) applied; `auto` (unless a flag says)
    trains on the tiles and scores with AS_TRAINED, the tiling the bundle's head was trained on."""
    enabled = tiling.enabled if flag is None else flag
    if enabled == "auto":
        if not training:
            return AS_TRAINED
        enabled = True
    return Tiling(bool(enabled), tiling.grid, tiling.overlap, tiling.mode, tiling.scale)


def calibration_mismatch(info: dict, tiling: Any) -> str | None:
    """Why the bundle's thresholds do not fit how classifier.tiling scores photos (tiled or not, which grid), or
    None; always None for `auto`, which scores as the bundle was trained."""
    training = info.get("training")
    if not isinstance(training, dict) or "tiling" not in training:
        return None  # bundles from before tiling was recorded, or trained elsewhere
    scoring = configured_tiling(tiling) if hasattr(tiling, "enabled") and not isinstance(tiling, Tiling) else tiling
    return None if scoring == AS_TRAINED else Tiling.of(scoring).mismatch(training.get("tiling"))


def load_classifier(path: Path, settings: Settings) -> Any:
    """The LogoClassifier bundle at `path` in settings.classifier.precision, or ModelUnavailable saying how to
    train one."""
    how = (
        f"train one with `monitor --config {settings.config_path or 'config.yaml'} train` "
        f"(it writes the bundle to {path}), or point classifier.model at an existing bundle"
    )
    if not path.exists():
        raise ModelUnavailable(f"no model bundle at {path}; {how}")
    # classifier.model pulls in TensorFlow: only a process that classifies pays for it.
    from classifier import LogoClassifier
    from classifier.errors import ClassifierError

    try:
        return LogoClassifier.load(path, settings.classifier.precision)
    except ClassifierError as exc:
        raise ModelUnavailable(f"the model bundle at {path} is not usable ({exc}); {how}") from None
