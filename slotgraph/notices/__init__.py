"""Change notices between processes: the pub/sub seam and what writers publish after commit."""
