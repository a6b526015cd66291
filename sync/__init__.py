"""Background work: the job queue, the outbox of calendar writes and emails, mail.

Sits beside `resolvers`' other dependencies: it may use `models` and `providers`, never
`graph` or `server` (tests/test_architecture.py)."""
