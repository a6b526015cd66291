"""Use cases: each opens its own transaction, enforces SPEC rules, returns domain rows or
raises a `slotgraph.usecases.errors.DomainError`."""
