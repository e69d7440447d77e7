"""Guard patrol (巡更): checkpoints, routes with a time allowance per stop, rounds walked by a
guard, readings proven by the checkpoint's rotating code and the guard's phone signature,
and a sweep that raises missed-checkpoint and stopped-guard alarms once (docs/patrol.md)."""
