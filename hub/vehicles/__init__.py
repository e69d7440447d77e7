"""Vehicles: each household's registered cars, visitor-car passes, blocked plates, and the
stays (entry to exit) the lanes report; compiled into the edges' signed snapshots."""
