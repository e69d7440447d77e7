"""Migration 0023a (texts kept as codes): rows written before read in either language."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect, text

from hub.db import downgrade, run_migrations, sync_url
from hub.texts import render_or

pytestmark = pytest.mark.integration
_TS = "2026-12-01 08:00:00"


def _params(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else json.loads(str(value))


def test_old_rows_get_codes_and_read_in_chinese(db_url: str) -> None:
    run_migrations(db_url, "0007")
    run_migrations(db_url, "0008")  # alarms, notices, devices, work orders as deployed before
    engine = create_sync_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sites (id, name, timezone) VALUES ('s', 'S', 'UTC')"))
            conn.execute(text(
                "INSERT INTO alarms (site_id, type, severity, dedup_key, message, state, count, "
                "first_seen, last_seen, raised_at, device) VALUES ('s', 'fire_alarm', 'critical', "
                "'k', 'FIRE ALARM at B1-fire: zone 2', 'active', 1, :ts, :ts, :ts, 'B1-fire')"),
                {"ts": _TS})
            conn.execute(text(
                "INSERT INTO devices (id, site_id, edge, name, device_type, model, status, "
                "created_at) VALUES (7, 's', 'e', 'B1-lift-1', 'elevator', 'm', 'online', :ts)"),
                {"ts": _TS})
            conn.execute(text(
                "INSERT INTO device_faults (device_id, code, text, text_zh, raised_at, "
                "last_raised_at, raise_count) VALUES (7, 'Err41', 'Safety circuit open', "
                "'安全回路断开', :ts, :ts, 1)"), {"ts": _TS})
            for kind, code, title in (("fault", "Err41", "B1-lift-1: Err41 Safety circuit open"),
                                      ("repair", None, "漏水")):
                conn.execute(text(
                    "INSERT INTO work_orders (site_id, kind, source, device_id, fault_code, "
                    "title, description, skill, priority, state, created_at, due_at) VALUES "
                    "('s', :kind, 'rule', 7, :code, :title, '', 'x', 'high', 'open', :ts, :ts)"),
                    {"kind": kind, "code": code, "title": title, "ts": _TS})
            conn.execute(text(
                "INSERT INTO notices (site_id, title, body, valid_from, source, created_by, "
                "created_at) VALUES ('s', '电梯停用 Elevator out of service: B1-lift-1', 'b', "
                ":ts, 'rule:elevator-out-of-service', 'rule:elevator-out-of-service', :ts)"),
                {"ts": _TS})
        run_migrations(db_url, "0023a")
        with engine.connect() as conn:
            code, params, message = conn.execute(text(
                "SELECT message_code, message_params, message FROM alarms")).one()
            assert render_or(code, _params(params), "zh", message) == "火灾报警 · B1-fire"
            assert render_or(code, _params(params), "en", message) == "Fire alarm · B1-fire"
            orders = conn.execute(text(
                "SELECT title_code, title_params, title FROM work_orders ORDER BY id")).all()
            assert [render_or(c, _params(p) if p else None, "zh", t) for c, p, t in orders] == [
                "B1-lift-1：Err41 安全回路断开", "漏水"]
            code, params, title = conn.execute(text(
                "SELECT text_code, text_params, title FROM notices")).one()
            assert render_or(f"{code}.title", _params(params), "zh", title) == "电梯停用：B1-lift-1"
        downgrade(db_url, "0008")  # 0023a alone (0007 and 0008 stay)
        assert "message_code" not in {c["name"] for c in inspect(engine).get_columns("alarms")}
        run_migrations(db_url)  # and up again, to every head
        assert "title_code" in {c["name"] for c in inspect(engine).get_columns("work_orders")}
    finally:
        engine.dispose()


def test_0023b_gives_preventive_orders_their_code(db_url: str) -> None:
    run_migrations(db_url, "0023a")
    engine = create_sync_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sites (id, name, timezone) VALUES ('s', 'S', 'UTC')"))
            for kind, description in (("preventive", "every 30 days"), ("repair", "漏水")):
                conn.execute(text(
                    "INSERT INTO work_orders (site_id, kind, source, title, description, skill, "
                    "priority, state, created_at, due_at) VALUES ('s', :kind, 'pm', 't', :d, "
                    "'x', 'normal', 'open', :ts, :ts)"), {"kind": kind, "d": description,
                                                          "ts": _TS})
        run_migrations(db_url, "0023b")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT description_code, description_params, description "
                                     "FROM work_orders ORDER BY id")).all()
        assert [render_or(c, _params(p) if p else None, "zh", d) for c, p, d in rows] == [
            "每 30 天", "漏水"]
        downgrade(db_url, "0023a")
        columns = {c["name"] for c in inspect(engine).get_columns("work_order_history")}
        assert "note_code" not in columns
    finally:
        engine.dispose()
