"""Protocol-level fake providers (Google, Microsoft identity + Graph, EWS) served on
loopback and driven through the adapters' real client code."""
