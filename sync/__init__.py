"""Background work below the use cases: the job queue, the outbox of calendar writes and
emails, mail, incremental calendar sync (engine, scheduler, synced busy time) and pub/sub.

Sits beside `resolvers`' other dependencies: it may use `models` and `providers`, never
`graph` or `server` (tests/test_architecture.py)."""
