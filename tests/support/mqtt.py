"""The plain subscriber the tests use lives in `harness.mqtt`, shared with the benchmarks."""

from harness.mqtt import Collector

__all__ = ["Collector"]
