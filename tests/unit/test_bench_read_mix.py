"""The bench's read mix (tests/bench/readpath.py) starts in steady state: its 50 visits under way are
each at a random point of themselves, what they read before is sent first and unmeasured, so the
measured requests open with about one visit's first panel read (a miss) in ten, not with 50 of them."""

from __future__ import annotations

import random

from tests.bench import readpath


def first_reads(requests: list[list], seen: set[str]) -> list[bool]:
    """For each request in order: is it its visit's first panel read (a cache miss in the bench)?"""
    out = []
    for template, _headers, variables, _label in requests:
        visit = variables["visit"] if template == readpath.PANEL else None
        out.append(visit is not None and visit not in seen)
        if visit is not None:
            seen.add(visit)
    return out


def test_the_measured_mix_opens_in_steady_state():
    before, measured = readpath.mix_requests(1000, 200, random.Random(21), "t")
    seen: set[str] = set()
    first_reads(before, seen)  # sent before the measurement: their panels are stored by then
    misses = first_reads(measured, seen)
    assert len(measured) == 1000
    assert sum(misses[:50]) <= 15  # started all at once, all 50 would be
    assert 80 <= sum(misses) <= 120  # one request in ten over the run


def test_each_visit_is_whole_across_the_two_parts():
    before, measured = readpath.mix_requests(500, 200, random.Random(7), "t")
    by_visit: dict[str, list[int]] = {}
    for template, _headers, variables, _label in before + measured:
        if template == readpath.PANEL:
            by_visit.setdefault(variables["visit"], []).append(template)
    under_way = [f"t-{number}" for number in range(readpath.ACTIVE_VISITS)]  # the 50 begun before the measurement
    assert [len(by_visit[v]) for v in under_way] == [5] * len(under_way)  # five panel reads each, none lost or doubled
