"""The analyst dashboard (Starlette): flow heatmaps, node tables, time to leaf, calls in progress."""

from ivr_engine.web.app import create_app

__all__ = ["create_app"]
