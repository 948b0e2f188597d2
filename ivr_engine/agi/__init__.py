"""FastAGI: sans-I/O protocol (protocol.py), typed commands (commands.py), asyncio server."""
