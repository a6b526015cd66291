"""Background work below the use cases: job queue, outbox, and pub/sub feeding subscriptions."""
