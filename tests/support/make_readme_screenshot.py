"""Regenerate docs/images/tuner.png: the quick-start notebook's tuner after a real run.

    python tests/support/make_readme_screenshot.py

Serves notebooks/01_quickstart.ipynb with Voilà on 127.0.0.1 (full-size sample image, the
default model), clicks Run in Debian chromium, centres the divider and screenshots the tuner.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

from support.browser import chromium, voila_server  # noqa: E402

RUN_TIMEOUT_MS = 300_000


def main() -> int:
    target = ROOT / "docs" / "images" / "tuner.png"
    with (
        tempfile.TemporaryDirectory() as tmp,
        voila_server(
            ROOT / "notebooks" / "01_quickstart.ipynb",
            env={"JUPYTER_PREFER_ENV_PATH": "1"},
            log_path=Path(tmp) / "voila.log",
        ) as url,
        chromium() as browser,
    ):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, wait_until="domcontentloaded", timeout=RUN_TIMEOUT_MS)
        page.wait_for_selector('.rk-compare[data-has-before="1"]', timeout=RUN_TIMEOUT_MS)
        page.click(".rk-run")
        page.wait_for_selector(".rk-compare[data-after-loaded]", timeout=RUN_TIMEOUT_MS)
        page.wait_for_selector('.rk-tuner-status [data-state="done"]', timeout=RUN_TIMEOUT_MS)
        box = page.locator(".rk-compare-box").bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.5, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=4)
        page.mouse.up()
        target.parent.mkdir(parents=True, exist_ok=True)
        page.locator(".rk-tuner").screenshot(path=str(target))
    from PIL import Image

    # 256 colours without dithering: the README image stays small and looks the same.
    Image.open(target).convert("RGB").quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    ).save(target, optimize=True)
    print(f"wrote {target} ({target.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
