"""The Celery executor: the scheduler writes batches to an outbox and publishes them; workers fetch and classify."""
