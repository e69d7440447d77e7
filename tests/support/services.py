"""The real servers the tests start live in `harness.services`, shared with the benchmarks."""

from harness.services import (
    MosquittoServer,
    PostgresServer,
    PostgresStandby,
    VictoriaMetricsServer,
    dynsec_plugin,
    find_binary,
    free_port,
    wait_for_port,
)

__all__ = [
    "MosquittoServer",
    "PostgresServer",
    "PostgresStandby",
    "VictoriaMetricsServer",
    "dynsec_plugin",
    "find_binary",
    "free_port",
    "wait_for_port",
]
