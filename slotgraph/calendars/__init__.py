"""What use cases and background work share about calendars: credentials, building a client, the
busy stores."""
