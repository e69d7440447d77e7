"""Guard patrol: checkpoints, routes, rounds and readings."""
