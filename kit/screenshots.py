"""`make screenshots`: photograph every rendered notebook page (build/html/) with headless Chromium, and measure it.

Debian's `chromium` (apt-get install chromium) is driven through Playwright, in a 1,280 px wide window, one full-page
PNG per notebook in build/screenshots/. Each page is also measured: the widest table, and any output that prints an
object's repr (`<… object at 0x…>`), so a reader never has to scroll sideways or decode Python internals.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kit.local_endpoint import REPO_ROOT

PAGE_WIDTH_PX = 1280
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The width of each table's own content, and the text of every output area, as the page lays them out.
_MEASURE = """() => ({
  widest: Math.max(0, ...[...document.querySelectorAll('.jp-OutputArea-output table')].map(t => t.scrollWidth)),
  outputs: [...document.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText),
})"""


@dataclass
class Page:
    name: str
    screenshot: Path
    widest_table_px: int
    output_texts: list[str]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise FileNotFoundError("no chromium found: install Debian's package (`apt-get install -y chromium`)")
    return path


def photograph(html_files: list[Path], out_dir: Path) -> list[Page]:
    """One full-page screenshot per HTML file, 1,280 px wide, and the page's measurements."""
    from playwright.sync_api import sync_playwright  # a dev dependency: only this target needs it

    out_dir.mkdir(parents=True, exist_ok=True)
    pages = []
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium_path(),
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": PAGE_WIDTH_PX, "height": 900},
        )
        try:
            page = browser.new_page()
            for html in html_files:
                page.goto(html.resolve().as_uri())
                page.wait_for_load_state("load")
                shot = out_dir / f"{html.stem}.png"
                page.screenshot(path=str(shot), full_page=True)
                measured = page.evaluate(_MEASURE)
                pages.append(Page(html.stem, shot, int(measured["widest"]), measured["outputs"]))
        finally:
            browser.close()
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--html-dir", type=Path, default=REPO_ROOT / "build" / "html")
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "build" / "screenshots")
    args = parser.parse_args(argv)
    html_files = sorted(args.html_dir.glob("*.html"))
    if not html_files:
        print(f"No HTML in {args.html_dir}: run `make html` first.")
        return 1
    for page in photograph(html_files, args.out_dir):
        wide = f"  (wider than {PAGE_WIDTH_PX} px!)" if page.widest_table_px > PAGE_WIDTH_PX else ""
        print(f"{page.screenshot}: widest table {page.widest_table_px} px{wide}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
