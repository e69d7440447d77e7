"""What tests and benchmarks share: the real servers they start, the one percentile function,
the machine's load beside every figure, and the event log's loss and duplicate counts."""
