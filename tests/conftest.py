"""Shared fixtures for every test folder: the real-Asterisk harness (session-scoped PBX, SIPp
agents) and the statistics databases (SQLite, and a real throwaway PostgreSQL server)."""

pytest_plugins = ["ivr_engine.pbx.pytest_fixtures", "ivr_engine.stats.testing"]
