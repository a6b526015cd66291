"""Slotgraph: calendar-connected meeting scheduling with a typed GraphQL API.

Every module of the product lives under this one package, so no script or test module
of the same name can shadow one of ours."""
