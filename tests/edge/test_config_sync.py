"""The edge's configuration at start-up, without a broker: one that will not start leaves the
agent up (and so reachable for the hub's next configuration), running nothing, and saying why."""

from __future__ import annotations

from pathlib import Path

from edge.agent import EdgeAgent
from edge.config import EdgeConfig


async def test_an_installation_that_will_not_start_leaves_the_agent_up_and_says_why(
        tmp_path: Path) -> None:
    config = EdgeConfig.model_validate({
        "site": "s1", "edge": "e1", "data_dir": str(tmp_path / "edge"),
        "mqtt": {"port": 1},  # no broker: the edge runs on its own
        "doors": [{"id": "d1", "reader": {"port": str(tmp_path / "no-such-tty"),
                                          "scbk": "00" * 16}}]})
    async with EdgeAgent(config) as agent:
        assert agent.doors == {}
        assert agent.configs.refused is not None
        assert agent.configs.refused[1].startswith("apply_failed: at start-up")
        state = agent.state()
        assert state.config_refused is not None and "no-such-tty" in state.config_refused
        assert state.config_version is None
