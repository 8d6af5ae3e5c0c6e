"""Headless Chromium for tests that look at what a person sees: a page screenshotted to a PNG, and the PNG checked."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1")


def chromium() -> str:
    """The browser .ci/run installs (apt-get install chromium)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: .ci/run installs it (apt-get install -y chromium)"
    return found


def screenshot(url: str, png: Path, *, width: int = 1280, height: int = 1600) -> Path:
    """``url`` (a file:// or http:// address) rendered at ``width`` x ``height`` into ``png``."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                               f"--screenshot={png}", url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and png.is_file(), f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return png


def dump_dom(url: str, *, width: int = 1280, height: int = 1600) -> str:
    """The DOM after the page's scripts ran (a test appends a script that measures the layout)."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                               "--virtual-time-budget=5000", "--dump-dom", url], capture_output=True, text=True,
                              timeout=120)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def picture_facts(png: Path) -> dict[str, float]:
    """Size, the share of sampled pixels that are not the page's background, and the distinct colours sampled."""
    from collections import Counter

    from PIL import Image

    image = Image.open(png).convert("RGB")
    pixels = list(image.get_flattened_data() if hasattr(image, "get_flattened_data") else image.getdata())[::7]
    background = Counter(pixels).most_common(1)[0][0]
    inked = sum(p != background for p in pixels) / len(pixels)
    return {"width": image.width, "height": image.height, "inked": round(inked, 4), "colours": len(set(pixels))}
