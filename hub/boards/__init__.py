"""LED notice boards: which notices go to which edge's boards (inside the edge's signed
configuration), and the boards' own report of what they show, for the console."""
