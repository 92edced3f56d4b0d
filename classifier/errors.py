"""Errors the classifier package raises."""


class ClassifierError(Exception):
    """Base of every error the classifier package raises on purpose."""


class DatasetError(ClassifierError):
    """A labelled data set cannot be read or is unusable for training."""


class BundleError(ClassifierError):
    """A model bundle is missing, corrupt or does not match what the caller expects."""


class WeightsUnavailable(ClassifierError):
    """Backbone weights cannot be loaded (offline without a local weights file)."""
