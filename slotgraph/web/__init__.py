"""The contacts' HTML pages (booking and, later, manage), server-rendered on top of the public
GraphQL API: this layer sits above `graph`, beside `server`, and never opens a session."""
