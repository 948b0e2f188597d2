"""Prompt texts per language, their synthesized audio, and their real durations."""
