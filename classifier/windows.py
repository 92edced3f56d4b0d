"""Feature-map windows: the tiles' scores from ONE backbone pass on the enlarged photo, the tiles sharing it.

The photo is resized to `tiling.scale` times the input size, the (fully convolutional) backbone runs once, and
the model's own pooling and head score the whole map and one window per tile; the score is the max over them.
Window edges come from the map's actual size, so valid-padding backbones (InceptionV3) line up too."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image as PILImage

from classifier.backbones import backbone_spec
from classifier.images import to_rgb_array
from classifier.inference import inference_backbone
from classifier.tiling import Box, Tiling, tile_pixels


def map_windows(boxes: list[Box], height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Each fractional box as (top, bottom, left, right) cells of a height x width feature map, at least one."""
    out = []
    for box in boxes:
        left, top, right, bottom = tile_pixels(box, width, height)
        out.append((top, min(bottom, height), left, min(right, width)))
    return out


def window_function(model, tiling: Tiling, head: bool = True):
    """A cached tf.function: uint8 (N, P, P, 3) pixels -> raw scores (N, windows, C), or the windows' pooled
    features (N, windows, D) when not `head` (what window training learns from)."""
    key = f"windows:{tiling.grid}:{tiling.overlap}:{tiling.scale}:{'scores' if head else 'features'}"
    if key not in model._fns:  # in the model's cache, so invalidate_compiled forgets it with the rest
        import tensorflow as tf

        side = tiling.pass_side(model.input_size)
        spec = backbone_spec(model.backbone)
        # The model's own backbone, its inference copy cloned at the enlarged size (same layers and weights).
        backbone = inference_backbone(model._maps, side, model.precision, spec.scales_inside).model
        scale = None if spec.scales_inside else model.model.get_layer("scale_pixels")
        boxes = tiling.boxes()
        outputs = backbone.outputs if isinstance(backbone.outputs, list) else [backbone.outputs]
        shapes = [(int(o.shape[1]), int(o.shape[2])) for o in outputs]
        windows = [map_windows(boxes, h, w) for h, w in shapes]  # per map, per box
        classes = len(model.classes)

        def run(pixels):
            pixels = tf.cast(pixels, tf.float32)  # inside the graph: batches wait in a quarter of the memory
            maps = backbone(scale(pixels) if scale is not None else pixels, training=False)
            maps = [tf.cast(m, tf.float32) for m in (maps if isinstance(maps, (list, tuple)) else [maps])]
            pooled = [
                model._pool(
                    [
                        m[:, cells[i][0] : cells[i][1], cells[i][2] : cells[i][3], :]
                        for m, cells in zip(maps, windows, strict=True)
                    ]
                )
                for i in range(len(boxes))
            ]
            features = tf.stack(pooled, axis=1)  # (N, windows, D)
            if not head:
                return features
            scores = model.head(tf.reshape(features, [-1, features.shape[-1]]), training=False)
            return tf.reshape(scores, [-1, len(boxes), classes])

        signature = tf.TensorSpec([None, side, side, 3], tf.uint8)
        model._fns[key] = tf.function(run, input_signature=[signature])
    return model._fns[key]


def _batches(images: Iterable[Any], side: int, batch_size: int) -> Iterator[np.ndarray]:
    """uint8 (B, side, side, 3) batches of whole photos, area-resized, prepared one batch ahead in a thread."""

    def resized(image: Any) -> np.ndarray:
        pixels = to_rgb_array(image)
        if pixels.shape[:2] != (side, side):
            pixels = np.asarray(PILImage.fromarray(pixels).resize((side, side), PILImage.Resampling.BOX))
        return pixels

    def batches() -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        for image in images:
            pending.append(resized(image))
            if len(pending) == batch_size:
                yield np.stack(pending)
                pending = []
        if pending:
            yield np.stack(pending)

    source = batches()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="classifier-windows") as pool:
        future = pool.submit(next, source, None)
        while (batch := future.result()) is not None:
            future = pool.submit(next, source, None)
            yield batch


def window_scores(model, images: Iterable[Any], tiling: Any, batch_size: int = 32) -> np.ndarray:
    """Raw scores (N, windows, C): the whole map first, then one window per tile (tiling.boxes() order)."""
    tiling = Tiling.of(tiling)
    fn = window_function(model, tiling)
    out = [fn(batch).numpy() for batch in _batches(images, tiling.pass_side(model.input_size), batch_size)]
    if not out:
        return np.zeros((0, len(tiling.boxes()), len(model.classes)), np.float32)
    return np.concatenate(out, axis=0)


def window_features(model, images: Iterable[Any], tiling: Any, batch_size: int = 32) -> np.ndarray:
    """Pooled features (N, windows, D) of each window, in window_scores' order: the head's input per window."""
    tiling = Tiling.of(tiling)
    fn = window_function(model, tiling, head=False)
    out = [fn(batch).numpy() for batch in _batches(images, tiling.pass_side(model.input_size), batch_size)]
    if not out:
        return np.zeros((0, len(tiling.boxes()), model.feature_dim), np.float32)
    return np.concatenate(out, axis=0)


def predict_windows(
    model, images: Iterable[Any], tiling: Any, batch_size: int = 32, raw: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Max over the windows: (scores (N, C), index of the winning box (N, C)); calibrated unless `raw`."""
    scores = window_scores(model, images, tiling, batch_size)
    best = scores.max(axis=1).astype(np.float32)  # calibration is increasing: the max of calibrated is this
    return (best if raw else model.calibrated(best)), scores.argmax(axis=1)
