"""The console in a real browser (Debian's chromium, driven by Playwright): provision a stack, upload one file, and
watch the S3 event, the Lambda invocation, the crawl and the new table appear on the page. Waits on the page's DOM,
never on time; saves a screenshot to .pytest_cache/console-browser-test.png.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

pytestmark = [pytest.mark.localaws, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "orders" / "orders_2024-06-02.jsonl"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# No downloads, no background traffic: the test runs offline.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BOUND_MS = 240_000  # an upper bound for the pipeline to finish, not a measurement


def test_an_upload_shows_its_event_invocation_crawl_and_new_table(localaws, localaws_env, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: the browser test needs Debian's chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make env installs it)")
    stack = "console"
    env = {**os.environ, "KIT_STACKS_DIR": str(tmp_path)}
    provision = subprocess.run(
        [sys.executable, "provision.py", "--stack", stack], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert provision.returncode == 0, provision.stdout + provision.stderr
    bucket = json.loads((tmp_path / f"{stack}.json").read_text())["bucket"]
    key = f"raw/orders/{SAMPLE.name}"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{localaws_env}/_localaws/console?stack={stack}")
            page.wait_for_function("Number(document.body.dataset.polls || 0) >= 1", timeout=BOUND_MS)
            # no transform invocation yet (the catalog updater may already show one: S3's s3:TestEvent, sent to the
            # catalog queue when provision configured the notification, reaches it on its own schedule)
            transform_rows = f'#invocations tbody tr[data-request-id][data-function="{stack}-transform"]'
            assert page.locator(transform_rows).count() == 0

            boto3.client("s3").upload_file(str(SAMPLE), bucket, key)

            # the S3 event and the invocation it caused, finished, with its REPORT figures
            invocation = page.locator(
                f'#invocations tr[data-function="{stack}-transform"][data-status="ok"]', has_text=key
            )
            invocation.first.wait_for(timeout=BOUND_MS)
            assert "ObjectCreated:Put" in invocation.first.inner_text()
            duration = invocation.first.locator("td.num").nth(1).inner_text()  # from the REPORT line
            assert re.fullmatch(r"\d+(\.\d+)? m?s", duration), duration
            # the object under raw/, the crawl that added the table, and the table in the catalog
            page.locator('[data-prefix="raw/"]', has_text="1 object ·").wait_for(timeout=BOUND_MS)
            page.locator('[data-crawl-state="COMPLETED"] .table-added', has_text="orders").first.wait_for(
                timeout=BOUND_MS
            )
            page.locator('#tables tr[data-table="orders"]').wait_for(timeout=BOUND_MS)
            page.wait_for_function(
                "document.querySelector('[data-count=\"s3_events\"]').textContent === '1'", timeout=BOUND_MS
            )
            # IAM: the panel reads "None recorded" until localaws records a denial
            assert "None recorded" in page.locator("#iam").inner_text()
            shot = ROOT / ".pytest_cache" / "console-browser-test.png"
            shot.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert shot.stat().st_size > 0
