"""Building devices: registry, state, faults and telemetry."""
