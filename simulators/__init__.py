"""Real-protocol stand-ins for hardware, for tests, the demo and benchmarks."""

from simulators.osdp_door import OsdpDoorSimulator

__all__ = ["OsdpDoorSimulator"]
