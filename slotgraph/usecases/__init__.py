"""Use cases: each opens its own transaction, enforces the rules of docs/spec.md, returns domain
rows or raises a `slotgraph.usecases.errors.DomainError`.

Every use case (what a GraphQL field, the OAuth callback, a push route or robots.txt
calls) has one shape: `services` (`slotgraph.usecases.services.Services`) first, then the
`viewer` (or the booking `Manager`) where there is one, then its inputs. "Now" is
`services.clock()`, read once per use case and handed down to its steps.

Two kinds of functions here are not use cases in that sense and keep narrower arguments:
- building blocks that run inside the caller's transaction and take its `session`
  (`accounts`, `tokens.issue_token`, `tasks.task_sync_toggled`, the idempotency helpers
  of `bookings`), used by use cases, the demo seed, the CLI and tests;
- the batched reads of `reads` behind the DataLoaders, which take a sessionmaker and ids
  (see that module for why).
"""
