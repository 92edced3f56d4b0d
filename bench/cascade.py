"""A look-closer cascade, measured (not a product scoring): bench/accuracy.py --compare cascade@K.

One backbone pass on the whole photo at the input size gives the whole-photo score and, from windows of the
same feature map, a cheap guess of which tile holds a logo; only the K most promising tiles are then cropped
and looked at (a backbone pass each), and the score is the max over the whole photo and those crops. Cost:
about 1 + K whole-photo passes (here the guess's pass and the looks score the whole photo twice, and each
photo is read twice rather than held in memory between them, so its scoring seconds overstate that). It
needs a head trained on photos and crops, not on windows, since its looks are crops.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


def cascade_scores(model, examples: Sequence, looks: int, grid: int = 3, overlap: float = 0.25) -> np.ndarray:
    """Raw scores (N, C) of `examples` (classifier.dataset.Example) under a cascade of `looks` crops."""
    from classifier.images import read_rgb
    from classifier.tiling import Tiling, tile_pixels
    from classifier.windows import window_scores

    crops = Tiling(True, grid, overlap)
    boxes = crops.boxes()
    # The guess: the crops head on the windows of the whole pass (scale 1: no larger pass than the whole photo).
    windows = Tiling(True, grid, overlap, "feature_windows", 1.0)
    guess = window_scores(model, (read_rgb(e.path) for e in examples), windows)
    order = np.argsort(-guess[:, 1:].max(axis=2), axis=1)[:, :looks] + 1  # the tiles' indices in `boxes`

    def looks() -> Iterator[np.ndarray]:  # per photo: the whole photo, then its picked tiles
        for example, picked in zip(examples, order, strict=True):
            pixels = read_rgb(example.path)
            height, width = pixels.shape[:2]
            yield pixels
            for index in picked:
                left, top, right, bottom = tile_pixels(boxes[index], width, height)
                yield pixels[top:bottom, left:right]

    scores = model.predict(looks(), raw=True)  # batched across photos
    return scores.reshape(len(examples), 1 + order.shape[1], -1).max(axis=1)
