"""Mutation fields, one module per domain; each returns a union of success and errors."""
