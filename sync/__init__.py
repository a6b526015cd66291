"""Background work below the use cases: incremental calendar sync (engine, scheduler,
synced busy time); the job queue, outbox and pub/sub join it here."""
