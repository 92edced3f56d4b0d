"""Import TensorFlow without its start-up notices on the terminal (everything else it prints still shows)."""

from __future__ import annotations

import os
import re
import sys
import tempfile

# Printed from C++ before logging is set up, so TF_CPP_MIN_LOG_LEVEL does not silence them (TF 2.21).
NOTICES = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|I0000 \S+ +\d+ (port|cpu_feature_guard)\.cc:\d+\]"
    r"|To enable the following instructions: .* rebuild TensorFlow)"
)


def import_tensorflow():
    """`import tensorflow`, with stderr (the file descriptor) held during the import and replayed minus NOTICES."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (some embedders): import as is
        import tensorflow

        return tensorflow
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [
                line
                for line in held.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not NOTICES.match(line)
            ]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
    return tensorflow
