"""What use cases and background work share about calendars: credentials, building a client,
the busy stores, and the rules both sides apply, each written once: which calendars
availability checks (S12, C5, C45: `checked`), the connection used for meetings and its
default calendar (C3: `default_calendar`), and lost access (C2, S13: `lost_access`)."""
