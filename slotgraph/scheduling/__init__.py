"""Pure scheduling rules: no I/O, no imports from the rest of Slotgraph."""
