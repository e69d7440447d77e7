"""Access: groups, schedules, the holiday calendar, door modes and anti-passback, remote door
commands, door states, the access log and dead letters."""
