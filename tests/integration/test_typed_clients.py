"""The committed public schema and TypeScript types (clients/typescript) are what the supergraph
and the example operations give: a stale file fails here, like compose-check does for gateway/."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import ROOT

CONSOLE = ROOT / "console"


def test_public_schema_is_current():
    result = subprocess.run(["node", "console/public-schema.mjs", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + "\nrun `make clients` and commit clients/typescript/"


def test_generated_typescript_is_current():
    codegen = CONSOLE / "node_modules/.bin/graphql-codegen"
    if not codegen.exists():
        pytest.fail("console npm packages are missing: run infra/local/install.sh")
    result = subprocess.run([str(codegen), "--config", "codegen.yml", "--check"], cwd=CONSOLE,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + \
        "\nrun `make clients` and commit clients/typescript/generated.ts"
