"""Background jobs: the job queue, the outbox and its deliveries, mail."""
