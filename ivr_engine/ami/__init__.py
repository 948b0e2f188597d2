"""Asterisk Manager Interface: the sans-I/O protocol (protocol.py) and the asyncio client."""
