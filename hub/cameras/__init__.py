"""Camera alerts, their snapshots and clips, and the edges' upload tokens."""
