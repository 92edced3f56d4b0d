"""Multi-label logo classifier: backbones, data, training, evaluation, prediction, bundles.

Importing this package stays light (no TensorFlow); `LogoClassifier` loads on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LogoClassifier", "Detection"]


def __getattr__(name: str) -> Any:
    if name in ("LogoClassifier", "Detection"):
        from classifier import model

        return getattr(model, name)
    raise AttributeError(f"module 'classifier' has no attribute {name!r}")
