"""The GraphQL API surface: types, inputs, typed errors, loaders and schema assembly."""
