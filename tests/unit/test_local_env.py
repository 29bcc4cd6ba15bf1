"""infra/local/lib.sh and the developer's .env: keys that .env.example gained since the .env was
made take .env.example's values, and the scripts say which (an old .env once lacked 15 keys and
nearly every test failed with no word of why)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

LIB = Path(__file__).resolve().parents[2] / "infra" / "local" / "lib.sh"


def sourced(tree: Path, env_file: str, example: str) -> subprocess.CompletedProcess[str]:
    (tree / "infra" / "local").mkdir(parents=True)
    shutil.copy(LIB, tree / "infra" / "local" / "lib.sh")
    (tree / ".env").write_text(env_file)
    (tree / ".env.example").write_text(example)
    clean = {k: v for k, v in os.environ.items() if k not in ("FLY_A", "FLY_B", "FLY_C")}
    return subprocess.run(["bash", "-c", '. infra/local/lib.sh; echo "$FLY_A $FLY_B $FLY_C"'], cwd=tree,
                          env=clean, capture_output=True, text=True, check=True)


def test_keys_missing_from_env_take_the_example_values_and_are_named(tmp_path):
    ran = sourced(tmp_path, "FLY_A=mine\n", "# a comment\nFLY_A=default\nFLY_B=two\nexport FLY_C=3\n")
    assert ran.stdout.split() == ["mine", "two", "3"]
    assert ".env lacks FLY_B FLY_C: .env.example's values apply" in ran.stderr


def test_a_complete_env_says_nothing(tmp_path):
    ran = sourced(tmp_path, "FLY_A=mine\nFLY_B=b\nFLY_C=c\n", "FLY_A=default\nFLY_B=two\nFLY_C=3\n")
    assert ran.stdout.split() == ["mine", "b", "c"]
    assert "lacks" not in ran.stderr
