"""CLI command modules; each has `register(app)` and stays cheap to import (no TensorFlow)."""
