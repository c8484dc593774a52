"""The three service images, built once per session for every test that runs them (images, kube play, compose)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import images  # noqa: E402

REPORT = ROOT / ".run" / "images" / "report.json"


@pytest.fixture(scope="session")
def built() -> images.BuildReport:
    """Builds (or finds in podman's layer cache) the three images; their sizes go to .run/images/report.json."""
    try:
        report = images.build_all()
    except images.ImageError as error:
        pytest.fail(str(error), pytrace=False)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({"seconds": report.seconds, "bytes": report.sizes}, indent=1) + "\n")
    sizes = ", ".join(f"{s} {b / 1e6:.0f} MB" for s, b in report.sizes.items())
    print(f"\nimages built in {report.seconds} s; sizes: {sizes}")
    return report
