"""free_port: loopback ports a server can take without racing outgoing connections or
another xdist worker (CI saw `EADDRINUSE` with ports from the kernel's ephemeral range)."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

import pytest

from harness import services


def _ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_ports_lie_below_the_ephemeral_range_and_are_free() -> None:
    ports = [services.free_port() for _ in range(50)]
    assert len(set(ports)) == 50  # handed out in turn, not the same port again
    for port in ports:
        assert services._LOWEST_PORT <= port < _ephemeral_low()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_each_xdist_worker_has_its_own_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        slices.append(services._port_range())
    for (low_a, high_a), (low_b, _) in itertools.pairwise(slices):
        assert high_a <= low_b and low_a < high_a
    assert slices[-1][1] <= _ephemeral_low()


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    port = services.free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port + 1 if port + 1 < services._port_range()[1] else port))
        holder.listen()
        taken = holder.getsockname()[1]
        services._next_port[:] = [taken]
        assert services.free_port() != taken
