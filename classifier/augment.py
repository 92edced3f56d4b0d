"""Seeded albumentations pipelines for training views (input pipeline only, never in the model)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

AUGMENT_FIELDS = (
    "views",
    "seed",
    "random_resized_crop",
    "horizontal_flip",
    "color_jitter",
    "brightness_contrast",
    "channel_dropout",
    "blur",
    "perspective",
)


@dataclass(frozen=True)
class AugmentParams:
    """The same fields as monitor.config.AugmentationSettings (any object with them will do)."""

    views: int = 4
    seed: int = 0
    random_resized_crop: float = 0.7
    horizontal_flip: float = 0.5
    color_jitter: float = 0.5
    brightness_contrast: float = 0.3
    channel_dropout: float = 0.05
    blur: float = 0.1
    perspective: float = 0.2


def augment_params(settings: Any = None, **overrides: Any) -> AugmentParams:
    """AugmentParams from None, a dict, or a settings object with the same attribute names."""
    if settings is None:
        values = asdict(AugmentParams())
    elif isinstance(settings, dict):
        values = {**asdict(AugmentParams()), **settings}
    else:
        values = {name: getattr(settings, name) for name in AUGMENT_FIELDS}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return AugmentParams(**{k: values[k] for k in AUGMENT_FIELDS})


def build_augmenter(params: AugmentParams, size: int):
    """An albumentations Compose that returns (size, size, 3) uint8 views."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations as A
    import cv2

    return A.Compose(
        [
            A.RandomResizedCrop(
                size=(size, size), scale=(0.35, 1.0), interpolation=cv2.INTER_AREA, p=params.random_resized_crop
            ),
            A.Resize(size, size, interpolation=cv2.INTER_AREA),  # a no-op after a crop
            A.HorizontalFlip(p=params.horizontal_flip),
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.3, hue=0.03, p=params.color_jitter),
            A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=params.brightness_contrast),
            A.ChannelDropout(channel_drop_range=(1, 1), fill=0, p=params.channel_dropout),
            A.Blur(blur_limit=(3, 5), p=params.blur),
            A.Perspective(scale=(0.02, 0.08), p=params.perspective),
        ],
        seed=params.seed,
    )


def view_seed(params: AugmentParams, item_key: str, view: int) -> int:
    """A seed that depends only on the settings seed, the photo and the view index."""
    digest = hashlib.sha256(f"{params.seed}:{item_key}:{view}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def augmented_view(augmenter: Any, params: AugmentParams, image: np.ndarray, item_key: str, view: int) -> np.ndarray:
    """View number `view` (>= 1) of a photo: the same pixels every time for the same inputs."""
    augmenter.set_random_seed(view_seed(params, item_key, view))
    return augmenter(image=image)["image"]


def shrink(image: np.ndarray, size: int) -> np.ndarray:
    """Downscale so the shorter side is at most 2 x size (augmenting full-size photos is wasted work)."""
    from PIL import Image

    height, width = image.shape[:2]
    scale = 2 * size / min(height, width)
    if scale >= 1:
        return image
    pil = Image.fromarray(image).resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX
    )
    return np.asarray(pil)
