"""What the model counts given the true counts, and the inverse: the observation model behind the correction.

Per window, brand b's count is recall_b T_b + FPR_nologo_b (N - sum T) + FPR_other_b (sum T - T_b). Recall
is not one number: a logo that shares the frame with another brand is drawn smaller and found less often
(on the demo's drawn photos about 70% against 93% alone). How many of a brand's photos show another brand
changes with the others' counts (a campaign that doubles one brand puts it beside the others more often),
so a recall measured on the held-out mix would undercount the other brands during a campaign. Where the
rates give recall alone and with another brand apart, each window gets its own mix: the share of b's
photos that show another brand is 1 - prod over the other brands o of (1 - T_o / N), as if brands
appeared independently of each other, with the T solved for together (a few fixed-point steps).
"""

from __future__ import annotations

import numpy as np

STEPS = 4  # fixed-point steps for the per-window recall; the mix moves little with T, so it settles fast


def solve(
    recall: np.ndarray, fp_none: np.ndarray, fp_other: np.ndarray, observed: np.ndarray, images: np.ndarray
) -> np.ndarray:
    """True counts T (..., B, W) from observed = recall T + FPR_nologo (N - sum T) + FPR_other (sum T - T).

    A photo without brand b shows either no logo (about N - sum of all true counts) or other brands; the
    model's false alarms differ between the two, and the feed's mix differs from the held-out photos' mix.
    With one FPR for both this is Rogan-Gladen: (observed - FPR N) / (recall - FPR). FPRs are (..., B),
    recall (..., B) or per window (..., B, W); per window the system A T = observed - FPR_nologo N has
    A = diag(recall - FPR_other) + (FPR_other - FPR_nologo) 1^T.
    """
    per_window = recall[..., None] if recall.ndim == fp_none.ndim else recall
    shape = np.broadcast_shapes(per_window.shape, observed.shape, fp_none.shape + (1,))
    size = shape[-2]
    # A draw where recall barely beats the FPR would divide by ~0: floor the gap (such draws land far out).
    gap = np.moveaxis(np.broadcast_to(np.maximum(per_window - fp_other[..., :, None], 1e-3), shape), -1, -2)
    coupling = np.moveaxis(np.broadcast_to((fp_other - fp_none)[..., :, None], shape), -1, -2)
    matrix = gap[..., :, None] * np.eye(size) + coupling[..., :, None]  # (..., W, B, B)
    rhs = np.moveaxis(np.broadcast_to(observed - fp_none[..., :, None] * images, shape), -1, -2)
    return np.moveaxis(np.linalg.solve(matrix, rhs[..., None])[..., 0], -1, -2)


def recall_in_mix(alone: np.ndarray, pair: np.ndarray, truth: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Recall per brand and window (..., B, W): alone and with another brand (..., B), mixed by how many of the
    brand's photos show another brand when brands appear independently with the true counts (..., B, W)."""
    present = np.clip(truth / np.maximum(images, 1), 0.0, 1.0 - 1e-9)
    absent = np.log1p(-present)
    others_absent = np.exp(absent.sum(axis=-2, keepdims=True) - absent)
    return alone[..., None] * others_absent + pair[..., None] * (1 - others_absent)


def solve_in_mix(
    alone: np.ndarray,
    pair: np.ndarray,
    fp_none: np.ndarray,
    fp_other: np.ndarray,
    observed: np.ndarray,
    images: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(true counts, recall per window) (..., B, W): solve() with each window's recall from recall_in_mix()
    at the counts solved for. Brands without the split pass alone == pair and keep one recall."""
    shape = np.broadcast_shapes(observed.shape, alone.shape + (1,))
    if np.array_equal(alone, pair):  # one recall per brand: no mix to settle
        return solve(alone, fp_none, fp_other, observed, images), np.broadcast_to(alone[..., None], shape)
    truth = np.clip(np.broadcast_to(observed, shape), 0, images)
    for _ in range(STEPS):
        recall = recall_in_mix(alone, pair, truth, images)
        truth = np.clip(solve(recall, fp_none, fp_other, observed, images), 0, images)
    recall = recall_in_mix(alone, pair, truth, images)
    return solve(recall, fp_none, fp_other, observed, images), recall


def false_alarms(truth: np.ndarray, fp_none: np.ndarray, fp_other: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Expected false alarms per brand and window given the true counts (..., B, W)."""
    shown = truth.sum(axis=-2, keepdims=True)
    none = np.clip(images - shown, 0, None)
    other = np.clip(shown - truth, 0, None)
    return fp_none[..., :, None] * none + fp_other[..., :, None] * other
