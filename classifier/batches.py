"""Pixel batches for prediction: whole photos or their tiles, resized and prepared one batch ahead."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image as PILImage

from classifier.images import to_rgb_array
from classifier.tiling import tile_pixels


def photo_batches(
    images: Iterable[Any], size: int, batch_size: int, boxes: Sequence[tuple] | None = None
) -> Iterator[np.ndarray]:
    """float32 (B, S, S, 3) batches of whole photos (or their tiles), prepared one batch ahead in a thread."""
    # Plain numpy/Pillow on purpose: a `tf.data.Dataset.from_generator` built per call keeps every photo it
    # was given alive (RSS grew ~1.5 MB per batch in the daemon), so in-memory photos never enter tf.data.
    boxes = boxes or [(0.0, 0.0, 1.0, 1.0)]

    def views(image: Any) -> list[np.ndarray]:
        pixels = to_rgb_array(image)
        height, width = pixels.shape[:2]
        out = []
        for box in boxes:
            left, top, right, bottom = tile_pixels(box, width, height)
            crop = pixels[top:bottom, left:right]
            if crop.shape[:2] != (size, size):
                crop = np.asarray(PILImage.fromarray(crop).resize((size, size), PILImage.Resampling.BOX))
            out.append(crop)
        return out

    def batches() -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        for image in images:
            pending.extend(views(image))
            while len(pending) >= batch_size:
                yield np.stack(pending[:batch_size]).astype(np.float32)
                pending = pending[batch_size:]
        if pending:
            yield np.stack(pending).astype(np.float32)

    source = batches()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="classifier-views") as pool:
        future = pool.submit(next, source, None)
        while (batch := future.result()) is not None:
            future = pool.submit(next, source, None)
            yield batch
