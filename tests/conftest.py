"""Shared fixtures: the real-Asterisk harness (session-scoped PBX, SIPp agents) for every test folder."""

pytest_plugins = ["ivr_engine.pbx.pytest_fixtures"]
