"""Property tests over the CSV import parser (hub/api/registry/imports.py): any bytes are either
refused with problems that name a line of the file, or parsed; a well-formed file parses to
exactly the rows written, whatever the column order, BOM and line endings."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.api.registry.imports import ResidentRow, UnitRow, _decode, _Problems, _Rejected, _rows

CELL = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def parse(raw: bytes, model: type[UnitRow | ResidentRow]) -> tuple[list, _Problems]:
    problems = _Problems([])
    try:
        text = _decode(raw)
    except _Rejected as exc:
        return [], exc.problems
    return list(_rows(text, model, problems)), problems


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=600),
                 st.lists(st.lists(CELL, max_size=7), max_size=8).map(
                     lambda rows: "\n".join(",".join(r) for r in rows).encode()),
                 st.lists(st.lists(CELL, max_size=6), max_size=6).map(
                     lambda rows: ("building,unit,name,type,phone,id_number\n"
                                   + "\r\n".join(",".join(r) for r in rows)).encode())),
       st.sampled_from([UnitRow, ResidentRow]))
def test_any_bytes_parse_or_are_refused_line_by_line(raw: bytes, model: type) -> None:
    rows, problems = parse(raw, model)
    lines = raw.count(b"\n") + raw.count(b"\r") + 1
    assert len(problems.items) <= problems.total
    for problem in problems.items:
        assert 1 <= problem.line <= lines + 1 and problem.reason
    for line, row, cells in rows:
        assert 2 <= line <= lines
        assert (row is None) or isinstance(row, model)
        assert set(cells) <= set(model.model_fields)
    if problems.total == 0:
        assert all(row is not None for _, row, _ in rows)


UNITS = st.lists(st.fixed_dictionaries({
    "building": st.sampled_from(["B1", "B2", "3号楼"]),
    "number": st.from_regex(r"[0-9A-Z]{1,6}", fullmatch=True),
    "floor": st.none() | st.integers(-10, 300),
    "area": st.none() | st.floats(0.5, 999.0).map(lambda x: round(x, 2)),
    "status": st.sampled_from(["vacant", "occupied", "rented"]),
}), max_size=20)


@settings(max_examples=200, deadline=None)
@given(UNITS, st.permutations(list(UnitRow.model_fields)), st.booleans(),
       st.sampled_from(["\n", "\r\n"]))
def test_well_formed_unit_files_parse_to_the_rows_written(
        units: list[dict], columns: list[str], bom: bool, newline: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(columns)
    for unit in units:
        writer.writerow(["" if unit[c] is None else unit[c] for c in columns])
    raw = (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()
    rows, problems = parse(raw, UnitRow)
    assert problems.total == 0, problems.items
    assert [row.model_dump() for _, row, _ in rows] == units  # type: ignore[union-attr]
    assert [line for line, _, _ in rows] == list(range(2, len(units) + 2))


@pytest.mark.parametrize("raw", [b"\xff\xfe b,u", b"building,number\nB1,\xc3(\n"])
def test_a_file_that_is_not_utf8_is_refused_naming_the_line(raw: bytes) -> None:
    _, problems = parse(raw, UnitRow)
    assert problems.total == 1 and "not UTF-8" in problems.items[0].reason
    assert problems.items[0].line == raw[: raw.index(b"\xff" if b"\xff" in raw else b"\xc3(")].count(b"\n") + 1
