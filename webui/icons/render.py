"""Render the PWA icons (PNG) from their SVGs with headless Chromium.

Run from the repository root after editing an SVG, then commit the PNGs:
    .venv/bin/python webui/icons/render.py
"""

import base64
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ICONS = [("icon.svg", "icon-192.png", 192), ("icon.svg", "icon-512.png", 512),
         ("icon-maskable.svg", "icon-maskable-192.png", 192),
         ("icon-maskable.svg", "icon-maskable-512.png", 512)]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    for svg, png, size in ICONS:
        page = browser.new_page(viewport={"width": size, "height": size})
        page.set_content(f'<html><body style="margin:0;background:transparent">'
                         f'<img src="data:image/svg+xml;base64,'
                         f'{base64.b64encode((HERE / svg).read_bytes()).decode()}"'
                         f' width="{size}" height="{size}" style="display:block"></body></html>')
        page.screenshot(path=str(HERE / png), omit_background=True)
        page.close()
        print(png)
    browser.close()
