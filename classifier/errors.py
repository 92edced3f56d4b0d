"""Errors the classifier package raises."""


class ClassifierError(Exception):
    """Base of every error the classifier package raises on purpose."""


class DatasetError(ClassifierError):
    """A labelled data set cannot be read or is unusable for training."""


class BundleError(ClassifierError):
    """A model bundle is missing, corrupt or does not match what the caller expects."""


class WeightsUnavailable(ClassifierError):
    """Backbone weights cannot be loaded (offline without a local weights file)."""


class PhotoRejected(ClassifierError):
    """A photo cannot be decoded or is outside the limits; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
