"""LogoClassifier: a frozen backbone plus a multi-label head, batched prediction, bundles."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.backbones import backbone_spec, build_backbone, weights_identity
from classifier.batches import photo_batches
from classifier.errors import ClassifierError
from classifier.head import OUTPUT_LAYER, POOLINGS, build_head, poolers
from classifier.images import DEFAULT_LIMITS, DecodeLimits, read_rgb
from classifier.inference import check_precision, inference_backbone
from classifier.tiling import Tiling, tile_boxes


@dataclass(frozen=True)
class Detection:
    """One brand found in one photo; box in fractions of the photo (from the tile that fired)."""

    brand: str
    confidence: float
    box: tuple[float, float, float, float] | None = None


class LogoClassifier:
    """Multi-label logo classifier: preprocessing and backbone inside the Keras model."""

    def __init__(
        self,
        classes: Sequence[str],
        backbone: str,
        input_size: int,
        weights_id: str,
        dropout: float = 0.2,
        hidden: int = 256,
        pooling: str = "avg",
        mid_level: bool = False,
        ensemble: int = 1,
        precision: str = "auto",
        _base_weights: Any = None,
    ):
        from classifier.tf_import import import_tensorflow

        import_tensorflow()  # first, so TensorFlow's start-up notices stay off the terminal
        import keras
        from keras import layers

        if pooling not in POOLINGS:
            raise ClassifierError(f"unknown pooling {pooling!r} (choose one of: {', '.join(POOLINGS)})")
        if int(ensemble) < 1:
            raise ClassifierError(f"an ensemble needs at least one head, got {ensemble}")
        if not classes:
            raise ClassifierError("a classifier needs at least one brand")
        if len(set(classes)) != len(classes):
            raise ClassifierError(f"brand names repeat: {list(classes)}")
        spec = backbone_spec(backbone)
        self.classes: list[str] = list(classes)
        self.backbone = spec.name
        self.input_size = int(input_size)
        self.weights_id = weights_id
        self.dropout = float(dropout)
        self.hidden = int(hidden)
        self.pooling = pooling
        self.mid_level = bool(mid_level)
        self.ensemble = int(ensemble)
        self.precision = check_precision(precision)  # asked for; compute_precision says what runs
        self.thresholds: dict[str, float] = {c: 0.5 for c in self.classes}
        self.metrics: dict[str, Any] = {}
        self.calibration: Any = None  # classifier.calibration.Calibration once trained (None: raw scores)
        self.info: dict[str, Any] = {}
        self.checksum: str | None = None
        self.bundle_path: Path | None = None

        base = build_backbone(spec.name, _base_weights, self.input_size)
        self.base = base
        # With mid_level, one functional model over the same (shared) layers also returns the mid block.
        self._maps = (
            keras.Model(base.input, [base.get_layer(spec.mid_layer).output, base.output], name=f"{base.name}_tapped")
            if self.mid_level
            else base
        )
        self._poolers = poolers(self.pooling, 2 if self.mid_level else 1)
        pixels = keras.Input((self.input_size, self.input_size, 3), name="pixels")
        x = pixels if spec.scales_inside else layers.Rescaling(1 / 127.5, offset=-1.0, name="scale_pixels")(pixels)
        features = self.pooled_features(x, training=False)
        self.head = build_head(
            int(features.shape[-1]), len(self.classes), self.dropout, self.hidden, members=self.ensemble
        )
        self.feature_model = keras.Model(pixels, features, name="features")
        self.model = keras.Model(pixels, self.head(features), name="logo_classifier")
        self._fns: dict[str, Any] = {}

    def pooled_features(self, pixels, training: bool = False):
        """The backbone's feature map(s) on scaled pixels, pooled and concatenated: the head's input."""
        return self._pool(self._maps(pixels, training=training))

    def _pool(self, maps):
        """Feature map(s) -> pooled and concatenated features."""
        maps = list(maps) if isinstance(maps, (list, tuple)) else [maps]
        parts = [pool(fmap) for fmap, pools in zip(maps, self._poolers[:-1]) for pool in pools]
        return parts[0] if len(parts) == 1 else self._poolers[-1](parts)

    @property
    def head_members(self) -> list:
        """The head's members as models of their own (sharing its layers): each one is trained separately."""
        import keras

        if self.ensemble == 1:
            return [self.head]
        return [
            keras.Model(self.head.inputs, self.head.get_layer(f"{OUTPUT_LAYER}_{index}").output)
            for index in range(self.ensemble)
        ]

    @property
    def feature_layout(self) -> dict[str, Any]:
        """What the pooled features are made of (part of the feature cache key and of the bundle)."""
        return {"pooling": self.pooling, "mid_level": self.mid_level}

    # -- construction and bundles ------------------------------------------------------------
    @classmethod
    def create(
        cls,
        classes: Sequence[str],
        backbone: str = "inception_v3",
        weights: Any = "imagenet",
        input_size: int | None = None,
        dropout: float = 0.2,
        hidden: int = 256,
        pooling: str = "avg",
        mid_level: bool = False,
        ensemble: int = 1,
        precision: str = "auto",
    ) -> LogoClassifier:
        """An untrained head on a backbone (weights 'imagenet', 'none' or a file); thresholds 0.5.

        pooling 'avg_max' also keeps the strongest response of each channel (a small logo survives it);
        mid_level also pools an intermediate block (logos are mid-level patterns); ensemble averages
        that many heads; precision (auto | float32 | bfloat16) is the backbone's arithmetic when predicting."""
        spec = backbone_spec(backbone)
        return cls(
            classes,
            spec.name,
            int(input_size or spec.default_size),
            weights_identity(weights),
            dropout,
            hidden,
            pooling,
            mid_level,
            ensemble,
            precision,
            _base_weights=weights,
        )

    @classmethod
    def load(cls, bundle_dir: str | Path, precision: str = "auto") -> LogoClassifier:
        """Load and check a bundle directory (BundleError explains what is wrong)."""
        from classifier.bundle import load_bundle

        return load_bundle(cls, Path(bundle_dir), precision)

    def save(self, bundle_dir: str | Path) -> Path:
        """Write the weights and bundle.json into `bundle_dir`; sets checksum and bundle_path."""
        from classifier.bundle import save_bundle

        return save_bundle(self, Path(bundle_dir))

    def set_feature_statistics(self, features: np.ndarray) -> None:
        """Standardise head inputs with the mean and variance of these (training) features."""
        from classifier.head_data import column_statistics

        norm = self.head.get_layer("feature_norm")
        mean, variance = column_statistics(features)
        floor = max(float(variance.mean()) * 1e-4, 1e-30)
        norm.moving_mean.assign(mean)
        norm.moving_variance.assign(np.maximum(variance, floor))

    @property
    def feature_dim(self) -> int:
        return int(self.feature_model.output.shape[-1])

    # -- compiled functions ------------------------------------------------------------------
    def _fn(self, name: str):
        """A cached tf.function over float32 (N, S, S, 3) batches of 0..255 pixels: 'scores' or 'features'.

        The backbone runs as its inference copy (see classifier.inference); pooling and head are the model's own."""
        if name not in self._fns:
            import tensorflow as tf

            backbone = self.inference_backbone.model
            scale = None if backbone_spec(self.backbone).scales_inside else self.model.get_layer("scale_pixels")
            head = self.head if name == "scores" else None

            def run(pixels):
                maps = backbone(scale(pixels) if scale is not None else pixels, training=False)
                maps = [tf.cast(m, tf.float32) for m in (maps if isinstance(maps, (list, tuple)) else [maps])]
                features = self._pool(maps)
                return head(features, training=False) if head is not None else features

            spec = tf.TensorSpec([None, self.input_size, self.input_size, 3], tf.float32)
            self._fns[name] = tf.function(run, input_signature=[spec])
        return self._fns[name]

    @property
    def inference_backbone(self):
        """The backbone copy prediction runs (batch norm folded, in the resolved precision), built on first use."""
        if "backbone" not in self._fns:
            spec = backbone_spec(self.backbone)
            self._fns["backbone"] = inference_backbone(self._maps, self.input_size, self.precision, spec.scales_inside)
        return self._fns["backbone"]

    @property
    def compute_precision(self) -> str:
        """What the backbone computes in when predicting and caching features: float32 or bfloat16."""
        return self.inference_backbone.precision

    def invalidate_compiled(self) -> None:
        """Forget the compiled functions and the backbone's inference copy: call after changing backbone weights."""
        self._fns.clear()

    def set_precision(self, precision: str) -> None:
        """Predict in another precision (auto | float32 | bfloat16) from now on."""
        self.precision = check_precision(precision)
        self.invalidate_compiled()

    def _run(self, batches, name: str = "scores") -> np.ndarray:
        out = [self._fn(name)(batch).numpy() for batch in batches]
        width = len(self.classes) if name == "scores" else self.feature_dim
        return np.concatenate(out, axis=0) if out else np.zeros((0, width), np.float32)

    def _resize_graph(self):
        """A graph function: one uint8 photo of any size -> (S, S, 3) float32, area-resized."""
        import tensorflow as tf

        size = self.input_size
        return lambda image: tf.image.resize(tf.cast(image, tf.float32), [size, size], method="area")

    # -- prediction ----------------------------------------------------------------------------
    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        """Raw head scores (N, C) as the bundle's calibrated probabilities (unchanged for older bundles)."""
        if self.calibration is None:
            return np.asarray(scores, dtype=np.float32)
        return self.calibration.apply(scores, self.classes)

    def predict(self, images: Iterable[Any], batch_size: int = 32, raw: bool = False) -> np.ndarray:
        """Probabilities (N, C) for RGB uint8 arrays of any size or PIL images (a list or a lazy iterator);
        calibrated unless `raw`."""
        scores = self._run(photo_batches(images, self.input_size, batch_size)).astype(np.float32)
        return scores if raw else self.calibrated(scores)

    def predict_files(
        self, paths: Sequence[str | Path], batch_size: int = 32, limits: DecodeLimits = DEFAULT_LIMITS
    ) -> np.ndarray:
        """Probabilities (N, C) from image files, decoded (classifier.images, the one decoder) in threads
        while the model runs."""

        def decoded(pool) -> Iterator[np.ndarray]:
            pending: list = []
            for path in paths:  # a bounded window of photos in flight, not every file at once
                pending.append(pool.submit(read_rgb, path, limits))
                if len(pending) > 2 * batch_size:
                    yield pending.pop(0).result()
            for future in pending:
                yield future.result()

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="classifier-decode") as pool:
            return self.predict(decoded(pool), batch_size)

    def features(self, images: Iterable[Any], batch_size: int = 32) -> np.ndarray:
        """Pooled backbone features (N, D) of whole photos; `images` may be a lazy iterator."""
        return self._run(photo_batches(images, self.input_size, batch_size), name="features")

    def predict_tiled(
        self, images: Iterable[Any], grid: int = 2, overlap: float = 0.25, batch_size: int = 32, raw: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Max over the whole photo and grid tiles: (scores (N, C), index of the winning box (N, C))."""
        boxes = tile_boxes(grid, overlap)
        scores = self._run(photo_batches(images, self.input_size, batch_size, boxes)).reshape(
            -1, len(boxes), len(self.classes)
        )
        best = scores.max(axis=1).astype(np.float32)  # calibration is increasing: the max of calibrated is this
        return (best if raw else self.calibrated(best)), scores.argmax(axis=1)

    def scores(self, images: Iterable[Any], tiling: Any = None, batch_size: int = 32, raw: bool = False) -> np.ndarray:
        """Probabilities with or without tiling (see classifier.tiling.Tiling); calibrated unless `raw`."""
        tiling = Tiling.of(tiling)
        if tiling.on:
            return self._tiled(images, tiling, batch_size, raw)[0]
        return self.predict(images, batch_size, raw)

    def _tiled(self, images: Iterable[Any], tiling: Tiling, batch_size: int, raw: bool = False):
        """(scores, winning box) over tiling's boxes: crops, or windows of one feature map (classifier.windows)."""
        if tiling.windows:
            from classifier.windows import predict_windows

            return predict_windows(self, images, tiling, batch_size, raw)
        return self.predict_tiled(images, tiling.grid, tiling.overlap, batch_size, raw)

    def detect(
        self,
        images: Sequence[Any],
        thresholds: dict[str, float] | None = None,
        tiling: Any = None,
        batch_size: int = 32,
    ) -> list[list[Detection]]:
        """Brands at or above their threshold per photo, highest confidence first."""
        limits = {**self.thresholds, **(thresholds or {})}
        unknown = sorted(set(thresholds or {}) - set(self.classes))
        if unknown:
            raise ClassifierError(
                f"thresholds given for brands the model does not know: {', '.join(unknown)}"
                f" (model brands: {', '.join(self.classes)})"
            )
        images = list(images)
        tiling = Tiling.of(tiling)
        tiled = tiling.on
        if tiled:
            boxes = tiling.boxes()
            scores, winner = self._tiled(images, tiling, batch_size)
        else:
            scores, winner, boxes = self.predict(images, batch_size), None, None
        results = []
        for row in range(len(images)):
            found = []
            for col, brand in enumerate(self.classes):
                confidence = float(scores[row, col])
                if confidence >= limits[brand]:
                    box = boxes[int(winner[row, col])] if tiled else None
                    found.append(Detection(brand, confidence, box))
            results.append(sorted(found, key=lambda d: -d.confidence))
        return results
