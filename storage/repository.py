"""Deprecated: the old home of the pipeline's writes; its names now live in storage.writes, storage.sources,
storage.reposts and storage.model_versions. Kept until every caller imports from those."""

from storage.model_versions import register_model_version  # noqa: F401
from storage.reposts import phash_bands  # noqa: F401
from storage.sources import due_refetches, ensure_source, get_cursor, record_poll, source_status  # noqa: F401
from storage.writes import known_sha256, save_batch, save_batch_in, save_detections_in  # noqa: F401
