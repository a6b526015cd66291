"""Limits on public operations (C25, C33, C34): who the client is (`addresses`), the shared
PostgreSQL counters of strict limits (`counters`), the per-process counters of loose ones
(`local`), which operation gets which limit (`policy`), and the server-side bot check
(`botcheck`). Transport-free, like the use cases that call it."""
