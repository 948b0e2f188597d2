"""gTTS: Google Translate's speech, natural-sounding, needs the internet; tried first when reachable.

The network call is one function, `fetch(text, language, tld) -> MP3 bytes`, so the handling around
it (writing, decoding, falling back) is the same code whether the MP3 came from Google or not.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path

from ivr_engine.prompts.tts import SynthesisError

Fetch = Callable[[str, str, str], bytes]

GOOGLE = ("translate.google.com", 443)
PROBE_SECONDS = 2.0
FETCH_SECONDS = 15.0


def fetch_from_google(text: str, language: str, tld: str) -> bytes:
    from gtts import gTTS  # imported on use: it pulls in requests

    buffer = io.BytesIO()
    gTTS(text, lang=language, tld=tld, timeout=FETCH_SECONDS).write_to_fp(buffer)
    return buffer.getvalue()


class GttsEngine:
    name = "gtts"

    def __init__(
        self,
        fetch: Fetch = fetch_from_google,
        *,
        tld: str = "com",
        probe_address: tuple[str, int] = GOOGLE,
        probe_seconds: float = PROBE_SECONDS,
    ) -> None:
        self.fetch = fetch
        self.tld = tld
        self.probe_address = probe_address
        self.probe_seconds = probe_seconds
        self._unavailable: str | None = None
        self._probed = False

    def unavailable(self) -> str | None:
        """Probed once per engine: a build of hundreds of prompts must not wait on a dead network
        hundreds of times."""
        if not self._probed:
            self._unavailable = _probe(self.probe_address, self.probe_seconds)
            self._probed = True
        return self._unavailable

    def fingerprint(self) -> dict[str, object]:
        import gtts

        return {"version": gtts.__version__, "tld": self.tld}

    def voice(self, language: str) -> str | None:
        languages = _languages()
        for candidate in (language, language.split("-")[0]):
            if candidate in languages:
                return candidate
        return None

    def synthesize(self, text: str, voice: str, workdir: Path) -> Path:
        try:
            mp3 = self.fetch(text, voice, self.tld)
        except (
            Exception
        ) as exc:  # a remote service fails in many ways (HTTP, TLS, DNS, gTTSError); all mean "fall back"
            raise SynthesisError(f"gTTS failed: {exc}") from exc
        if not mp3:
            raise SynthesisError("gTTS returned no audio")
        out = workdir / "gtts.mp3"
        out.write_bytes(mp3)
        return out


@cache
def _languages() -> frozenset[str]:
    from gtts.lang import tts_langs  # a table shipped with gTTS, no network

    return frozenset(tts_langs())


def _probe(address: tuple[str, int], seconds: float) -> str | None:
    """Open and close one TCP connection. Runs in a thread because name resolution ignores socket
    timeouts and can hang far longer than `seconds` when no DNS server answers."""
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection(address, timeout=seconds).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"{address[0]}:{address[1]} is unreachable ({exc})")

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome[0] if outcome else f"{address[0]}:{address[1]} did not answer within {seconds:g} s"
