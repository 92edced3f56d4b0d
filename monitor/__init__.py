"""Brand exposure monitor: watch image sources, tag logos, store detections, report exposure."""

__version__ = "0.1.0"
