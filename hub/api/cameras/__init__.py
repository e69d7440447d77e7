"""Camera alerts, snapshots and clips."""
