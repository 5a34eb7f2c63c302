"""Headless Chromium screenshots of the built book: the introduction and one assignment page.

    .venv/bin/python book/screenshots.py [--out _build/screenshots]

Needs Chromium (`apt-get update && apt-get install -y chromium`) and a built book
(`bash .ci/book`). Screenshots `book/intro.html`, not `index.html`, whose redirect hangs headless
Chromium. Prints the path of each PNG; look at them.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
PAGES = {"intro": "book/intro.html", "assignment": "assignments/mlops/01_registry.html"}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--virtual-time-budget=3000"]


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("Chromium not found: install it with `apt-get update && apt-get install -y chromium`")


def screenshot(browser, page, png, size=(1400, 1000)):
    if not page.is_file():
        sys.exit(f"{page} does not exist: build the book first with `bash .ci/book`")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                        f"--screenshot={png}", page.as_uri()], check=True, capture_output=True, timeout=120)
    if not png.is_file() or png.stat().st_size < 10_000:
        sys.exit(f"Chromium wrote no usable screenshot of {page} to {png}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    browser = find_chromium()
    for name, page in PAGES.items():
        png = args.out / f"{name}.png"
        screenshot(browser, HTML / page, png)
        print(png)


if __name__ == "__main__":
    main()
