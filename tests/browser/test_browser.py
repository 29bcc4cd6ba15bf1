"""Browser tests: the console and the storefront widget driven end to end in Debian's chromium.

The scenarios live in tests/browser/*.test.mjs (node:test + playwright-core, which drives an
installed browser and never downloads one); this test runs them against the running stack and
fails with their output. Screenshots go to test-artifacts/browser/ (git-ignored; CI keeps them).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def stack_with_console():
    from tests.stack import ensure_stack, healthy
    ensure_stack()
    assert healthy(f"http://127.0.0.1:{os.environ.get('CONSOLE_PORT', '4100')}/readyz"), "console is not ready"


@pytest.mark.parametrize("suite", ["console", "widget"])
def test_browser_suite(stack_with_console, suite):
    assert os.path.exists(CHROMIUM), f"chromium not found at {CHROMIUM} (infra/local/install.sh installs it)"
    assert (ROOT / "console/node_modules/playwright-core").exists(), "run infra/local/install.sh (console npm packages)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{suite}-*.png"):  # keep only this run's screenshots
        old.unlink()
    env = {**os.environ, "CHROMIUM_PATH": CHROMIUM, "BROWSER_ARTIFACTS": str(ARTIFACTS)}
    result = subprocess.run(
        ["node", "--test", "--test-reporter=spec", f"tests/browser/{suite}.test.mjs"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{suite} browser tests failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
