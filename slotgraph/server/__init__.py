"""The process: settings, the Starlette app and its lifespan, auth, logging and the CLI."""
