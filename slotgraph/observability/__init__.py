"""What an operator sees of a running process: the `Recorder` the rest of the code reports
to (requests, provider calls, open sockets), its Prometheus implementation, the provider
registry wrapped so every provider call is measured, and the gauges read from the database
when `/metrics` is scraped (outbox, job queue, sync lag).

It sits beside the background layers: it may import providers and models, never the use
cases, the API or the web stack (the `/metrics` route itself lives in `slotgraph.server`).
"""
