"""Incremental calendar sync: the engine, scheduling of syncs, push channels."""
