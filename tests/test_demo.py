"""`make demo` itself, from a clean state: its own localaws, the unchanged provision.py, uploads, queries."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.localaws, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
EXPECTED = json.loads((ROOT / "sample_data" / "expected_counts.json").read_text())


def test_the_demo_runs_the_whole_pipeline_and_answers_three_queries(tmp_path: Path):
    env = {**os.environ, "KIT_STACKS_DIR": str(tmp_path)}
    env.pop("AWS_ENDPOINT_URL", None)
    demo = subprocess.run(
        [sys.executable, "-m", "kit.demo", "--stack", "demotest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = demo.stdout
    assert demo.returncode == 0, out + demo.stderr
    assert "Stack demotest ready" in out
    assert re.search(r"localaws console: http://127\.0\.0\.1:\d+/_localaws/console\?stack=demotest\n", out)
    assert "uploaded s3://demotest-123456789012-us-east-1/raw/messy/export 2024-06-02.jsonl" in out
    assert out.count("rows · ") == 3 and "scanned" in out  # three queries, each with rows and bytes scanned
    revenue = out.split("▶ Revenue by currency and country")[1].split("▶")[0]
    rows = re.findall(r"^\s*([A-Z]{3})\s+([A-Z]{2})\s+(\d+)\s+([\d.]+)$", revenue, re.MULTILINE)
    assert {country for _, country, _, _ in rows} == {"DE", "US", "GB", "FR", "NL"}
    # Never one sum across currencies: per currency, the figures sample_data/README.md documents (status ≠ cancelled).
    per_currency = {
        currency: round(sum(float(amount) for c, _, _, amount in rows if c == currency), 2)
        for currency, _, _, _ in rows
    }
    assert per_currency == {"EUR": 4621.95, "USD": 2118.69, "GBP": 2012.20}
    cancelled = 7  # sample_data/README.md: status cancelled 7
    assert sum(int(orders) for _, _, orders, _ in rows) == EXPECTED["tables"]["orders"] - cancelled
    assert "make lab TARGET=aws" not in out, "a localaws demo must not send anyone to AWS"
    assert "quarantine/messy/broken_upload.json: invalid JSON" in out
    assert "Timing summary:" in out and "upload → queryable" in out
    assert (tmp_path / "demotest.json").exists()
