from __future__ import annotations

import pytest
from flow_fixtures import HOTLINE

from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Flow


@pytest.fixture(scope="session")
def hotline() -> Flow:
    return load_flow(HOTLINE)
