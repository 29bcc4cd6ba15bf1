"""infra/local/stack.sh's SCALE: what it accepts and which instance names it knows (no servers)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import ROOT

STACK = str(ROOT / "infra/local/stack.sh")


def stack(*args: str, scale: str) -> subprocess.CompletedProcess:
    return subprocess.run([STACK, *args], env={**os.environ, "SCALE": scale}, capture_output=True, text=True)


def test_the_scale_given_is_the_scale_used():
    assert stack("scale", scale="3").stdout.strip() == "3"


@pytest.mark.parametrize("scale", ["0", "two", "-1", "100"])
def test_a_scale_that_is_not_a_count_of_instances_is_refused(scale):
    result = stack("scale", scale=scale)
    assert result.returncode != 0 and "SCALE must be a whole number" in result.stderr


def test_an_instance_beyond_the_scale_is_unknown():
    result = stack("logs", "points.3", scale="2")
    assert result.returncode != 0 and "unknown component 'points.3'" in result.stderr
    assert "points.2" in result.stderr  # the message lists what exists at that scale
