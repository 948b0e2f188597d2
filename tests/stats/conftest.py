pytest_plugins = ["ivr_engine.stats.testing"]
