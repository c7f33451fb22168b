"""The committed generated code equals what scripts/generate.sh produces."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "generate.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_generated_code_is_fresh() -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (dev extra) not installed")
    env = dict(os.environ, PYTHON=sys.executable)
    p = subprocess.run(["bash", str(SCRIPT), "--check"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
