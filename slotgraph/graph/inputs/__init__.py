"""GraphQL input types, one module per domain, each converting itself to a domain value."""
