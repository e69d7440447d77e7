"""MQTT topic names, all under `lintel/v1/{site}/{edge}/`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from wire.errors import WireError

ROOT = "lintel/v1"
EVENT_KINDS = ("access", "door", "device", "telemetry", "camera", "agent", "vehicle", "lane",
               "homesec")
HUB_SHARE_GROUP = "hub"

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_EDGE_TOPIC = re.compile(rf"^{ROOT}/(?P<site>{_NAME})/(?P<edge>{_NAME})/(?P<rest>.+)$")


def prefix(site: str, edge: str) -> str:
    return f"{ROOT}/{site}/{edge}"


def event(site: str, edge: str, kind: str) -> str:
    if kind not in EVENT_KINDS:
        raise WireError(f"unknown event kind {kind!r}; expected one of {', '.join(EVENT_KINDS)}")
    return f"{prefix(site, edge)}/evt/{kind}"


def state(site: str, edge: str) -> str:
    return f"{prefix(site, edge)}/state"


def perm(site: str, edge: str) -> str:
    return f"{prefix(site, edge)}/perm"


def perm_delta(site: str, edge: str) -> str:
    """Hub → edge, QoS 1, not retained: the credentials changed between two versions."""
    return f"{prefix(site, edge)}/perm/delta"


def stored(site: str, edge: str) -> str:
    """Hub → edge, QoS 1, signed (wire.stored.StoredRanges): the sequence numbers a hub
    worker has committed. Only these leave the edge's outbox: a broker's PUBACK is not
    storage (a broker killed before its autosave forgets what it acknowledged)."""
    return f"{prefix(site, edge)}/stored"


def config(site: str, edge: str) -> str:
    """Hub → edge, QoS 1, retained, signed (wire.config.ConfigSnapshot): the edge's installation
    (lines, doors, readers, devices, cameras), versioned; the edge applies it live."""
    return f"{prefix(site, edge)}/config"


def cmd(site: str, edge: str) -> str:
    return f"{prefix(site, edge)}/cmd"


def cmd_ack(site: str, edge: str) -> str:
    return f"{prefix(site, edge)}/cmd/ack"


# Filters the hub subscribes to. Events go through a shared subscription so that
# several hub workers split the stream; state and acks are small and go to all.
HUB_EVENTS = f"{ROOT}/+/+/evt/+"
HUB_STATE = f"{ROOT}/+/+/state"
HUB_CMD_ACK = f"{ROOT}/+/+/cmd/ack"


def shared(topic_filter: str, group: str = HUB_SHARE_GROUP) -> str:
    return f"$share/{group}/{topic_filter}"


@dataclass(frozen=True, slots=True)
class TopicParts:
    site: str
    edge: str
    channel: str  # "evt", "state", "perm", "config", "cmd", "cmd/ack"
    kind: str | None = None  # the event kind, for "evt"


@dataclass(frozen=True, slots=True)
class TopicPrefix:
    site: str
    edge: str
    rest: str  # what follows `lintel/v1/{site}/{edge}/`


def parse_prefix(topic: str) -> TopicPrefix:
    """Site, edge and the rest of any topic under ROOT, whatever its channel."""
    match = _EDGE_TOPIC.match(topic)
    if not match:
        raise WireError(f"topic {topic!r} is not under {ROOT}/<site>/<edge>/")
    return TopicPrefix(match["site"], match["edge"], match["rest"])


@lru_cache(maxsize=4096)  # the hub parses every message's topic; few distinct ones recur
def parse(topic: str) -> TopicParts:
    """Split a Lintel topic into its parts, or raise WireError saying why it is not one."""
    match = _EDGE_TOPIC.match(topic)
    if not match:
        raise WireError(f"topic {topic!r} is not under {ROOT}/<site>/<edge>/")
    site, edge, rest = match["site"], match["edge"], match["rest"]
    if rest.startswith("evt/"):
        kind = rest[4:]
        if kind not in EVENT_KINDS:
            raise WireError(f"topic {topic!r}: unknown event kind {kind!r}")
        return TopicParts(site, edge, "evt", kind)
    if rest in ("state", "perm", "config", "cmd", "cmd/ack"):
        return TopicParts(site, edge, rest)
    raise WireError(f"topic {topic!r}: unknown channel {rest!r}")
