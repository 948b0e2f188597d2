"""tests/acd reuses the AMI layer's captured bytes and `wire` (tests/ami/ami_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ami"))
