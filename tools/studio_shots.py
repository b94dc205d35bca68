"""The README's studio screenshots, from a real session: docs/studio.png and docs/studio-phone.png.

Starts a studio on a fresh workspace, generates four relu3_2 variants of the samples (160 px, 80
iterations, every other setting at the studio's defaults: swatches included), stars the first,
mutates it into three children and shoots the page while they run (1280 px), then at a phone's
width (390 px) once they are done. Needs Debian's chromium and the test extra (playwright).

    python tools/studio_shots.py --out docs
"""

import argparse
import os
import sys
import tempfile

from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from studio_live import live_studio  # the tests' real server, found through the path above

TILES = "#tiles .tile"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def wait(page, js, timeout=600_000):
    page.wait_for_function(js, timeout=timeout, polling=200)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs")
    args = ap.parse_args()
    with (
        tempfile.TemporaryDirectory() as ws,
        live_studio(os.path.join(ws, "ws"), preview_every=4) as (url, _),
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        page.click("#content-picker button[data-name='tubingen.jpg']")
        page.click("#style-picker button[data-name='starry_night.jpg']")
        page.select_option("#mode", "variant")
        for box in page.query_selector_all("#layers input[type=checkbox]"):
            if box.is_checked() != (box.get_attribute("value") == "relu3_2"):
                box.click()
        for field, value in (("#size", "160"), ("#iterations", "80"), ("#count", "4")):
            page.fill(field, value)
        page.click("#generate")
        wait(page, f"document.querySelectorAll('{TILES}').length === 4")
        wait(page, f"[...document.querySelectorAll('{TILES}')].every(t => t.dataset.status === 'done')")
        page.click(f"{TILES} >> nth=0 >> [data-act=star]")
        page.fill("#count", "3")
        page.click(f"{TILES} >> nth=0 >> [data-act=mutate]")
        wait(page, f"document.querySelectorAll('{TILES}').length === 7")
        # Mid-run: one child past a third of its iterations, its live preview showing.
        wait(
            page,
            f"[...document.querySelectorAll('{TILES}')].some(t => t.dataset.status === 'running' && "
            "parseInt((t.querySelector('.state') || {}).textContent || '0') >= 30)",
        )
        page.screenshot(path=os.path.join(args.out, "studio.png"))
        wait(page, f"[...document.querySelectorAll('{TILES}')].every(t => t.dataset.status === 'done')")
        wait(page, f"[...document.querySelectorAll('{TILES} img')].every(i => i.complete && i.naturalWidth > 0)")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=os.path.join(args.out, "studio-phone.png"), full_page=True)
        browser.close()
    print(f"wrote {args.out}/studio.png and {args.out}/studio-phone.png")


if __name__ == "__main__":
    main()
