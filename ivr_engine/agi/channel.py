"""The runtime's Channel over a FastAGI session: how a flow step becomes Asterisk commands."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

import structlog

from ivr_engine.agi.errors import AGICommandFailed, AGIHangup
from ivr_engine.agi.server import AGISession
from ivr_engine.prompts.clip import Clip
from ivr_engine.runtime.channel import ALL_KEYS, CallerHangup, CallInfo, LineLost, QueueRequest, Recording

# EXEC Queue and EXEC Dial return only when the conversation with the agent or the dialled party
# ends, which takes as long as it takes: their bound only catches an Asterisk that stopped talking.
CONVERSATION_LIMIT = 8 * 3600.0
# Slack on top of what a command needs by itself (a clip's length, a dial timeout) before we
# decide Asterisk stopped answering.
COMMAND_SLACK = 10.0
# Read's pause after each file but the last, listening for a first key (app.c, ast_app_getdata)
READ_PAUSE = 0.05

# (call id, the clip, the key that interrupted it): a transcript of what a caller heard.
PlayedHook = Callable[[str, Clip, str | None], None]
logger = structlog.get_logger(__name__)


def call_info(session: AGISession) -> CallInfo:
    """The call as the runtime sees it.

    The dialplan hands extra facts as AGI arguments `name=value` (e.g. `language=en` on a DID
    dedicated to English callers, or `tier=vip`). Asterisk's own channel language is not used:
    it is "en" on every channel unless something set it, so it says nothing about the caller,
    and taking it would override the flow's default language.
    """
    request = session.request
    variables = {}
    for i, value in enumerate(request.args, start=1):
        name, sep, rest = value.partition("=")
        if sep and name.isidentifier():
            variables[name] = rest
        else:
            variables[f"arg_{i}"] = value
    return CallInfo(
        call_id=request.uniqueid or request.channel or "unknown",
        caller=request.callerid,
        caller_name=request.calleridname,
        dialed=request.dnid,
        language=variables.get("language"),
        variables=variables,
    )


class AGIChannel:
    """Maps each Channel operation to one or a few AGI commands.

    Any AGIHangup (511, HANGUP, the connection gone) becomes the runtime's CallerHangup, so the
    runtime has one way to learn that the caller left, whatever the channel; LineLost (a
    CallerHangup) when the connection went before Asterisk said the caller did.
    """

    def __init__(
        self,
        session: AGISession,
        *,
        recordings_dir: str = "/var/spool/asterisk/ivr",
        queue_options: str = "r",
        on_played: PlayedHook | None = None,
    ) -> None:
        self.session = session
        # "r" rings while the caller waits: right for a PBX without music-on-hold; "" plays MOH.
        # Position and wait announcements are queues.conf settings, not options of Queue().
        self._queue_options = queue_options
        self._on_played = on_played
        self.info = call_info(session)
        self._recordings_dir = recordings_dir.rstrip("/")
        self._log = logger.bind(call_id=self.info.call_id, caller=self.info.caller)

    def now(self) -> float:
        return time.monotonic()

    def _gone(self) -> CallerHangup:
        return LineLost() if self.session.line_lost else CallerHangup()

    def _check(self) -> None:
        if self.session.hungup:
            raise self._gone()

    async def play(self, clips: Sequence[Clip], escape_digits: str, wait: float = 0.0) -> str | None:
        if clips and set(ALL_KEYS) <= set(escape_digits):
            return await self._read(clips, wait)
        # Read stops at any key; prompts that only some keys may interrupt (a bookmark's `*`
        # during an announcement) play one STREAM FILE each, which ignores the other keys.
        for clip in clips:
            self._check()
            try:
                played = await self.session.stream_file(
                    clip.sound, escape_digits, timeout=clip.duration + COMMAND_SLACK
                )
            except AGIHangup:
                raise self._gone() from None
            except AGICommandFailed:
                await self._probe_line()
                self._log.error("prompt.missing_audio", sound=clip.sound, prompt=clip.prompt_id)
                continue
            if self._on_played is not None:
                self._on_played(self.info.call_id, clip, played.key)
            if played.key is not None:
                return played.key
        return await self.wait_digit(wait) if wait > 0 else None

    async def _read(self, clips: Sequence[Clip], wait: float) -> str | None:
        """All clips, and the wait after them, in one Read: no gap between two AGI commands in
        which Asterisk would drop a key (`commands.read_key`). Asterisk skips a missing file
        with a warning in its own log; `ivr validate` reports prompts without built audio."""
        self._check()
        started = time.monotonic()
        seconds = sum(c.duration for c in clips) + READ_PAUSE * len(clips)
        try:
            key = await self.session.read_key(
                [c.sound for c in clips], wait, timeout=seconds + wait + COMMAND_SLACK
            )
        except AGIHangup:
            raise self._gone() from None
        self._report(clips, time.monotonic() - started, key)
        return key

    def _report(self, clips: Sequence[Clip], elapsed: float, key: str | None) -> None:
        """Tell the played hook which clips the caller heard. Read does not say where a key
        stopped it, so the key is placed by the clips' durations."""
        if self._on_played is None:
            return
        at = 0.0
        for clip in clips:
            at += clip.duration + READ_PAUSE
            stopped = key is not None and elapsed < at
            self._on_played(self.info.call_id, clip, key if stopped else None)
            if stopped:
                return

    async def _probe_line(self) -> None:
        """STREAM FILE's result=-1 means "no such file" or "hung up", and Asterisk's HANGUP line
        may only follow it; one cheap command settles which (511 on a dead channel)."""
        try:
            await self.session.command("CHANNEL STATUS")
        except AGIHangup:
            raise self._gone() from None
        self._check()

    async def wait_digit(self, timeout: float) -> str | None:
        self._check()
        try:
            return await self.session.wait_for_digit(max(int(timeout * 1000), 0))
        except (AGIHangup, AGICommandFailed):
            raise self._gone() from None

    async def set_variable(self, name: str, value: str) -> None:
        self._check()
        try:
            await self.session.set_variable(name, value)
        except AGIHangup:
            raise self._gone() from None

    async def set_language(self, language: str) -> None:
        await self.set_variable("CHANNEL(language)", language)

    async def queue(self, request: QueueRequest) -> str:
        await self.set_variable("QUEUE_PRIO", str(request.priority))
        if request.skills:
            await self.set_variable("IVR_SKILLS", "&".join(request.skills))
        timeout_arg = str(int(request.timeout)) if request.timeout is not None else ""
        try:
            await self.session.exec(
                "Queue",
                request.queue,
                self._queue_options,
                "",
                "",
                timeout_arg,
                timeout=(request.timeout or 0) + CONVERSATION_LIMIT,
            )
        except AGIHangup:
            # the caller left during the queue call, and the variables below still tell how; or
            # the link went, and the call is out of our hands
            if self.session.line_lost:
                raise LineLost() from None
        # GET VARIABLE works on a dead channel too (res_agi.c), so the outcome is known either way.
        member = await self._variable("MEMBERINTERFACE")
        if member:
            return "ANSWERED"
        status = await self._variable("QUEUESTATUS")
        if status:
            return status
        return "HANGUP" if self.session.hungup else "UNKNOWN"

    async def _variable(self, name: str) -> str | None:
        try:
            return await self.session.get_variable(name)
        except AGIHangup:
            return None

    async def dial(self, destination: str, timeout: float) -> str:
        # Routing (which trunk, which technology) belongs to the dialplan: ivr-outbound decides.
        await self.set_variable("IVR_DIAL_TIMEOUT", str(int(timeout)))
        try:
            await self.session.exec(
                "Dial", f"Local/{destination}@ivr-outbound", str(int(timeout)), timeout=timeout + CONVERSATION_LIMIT
            )
        except AGIHangup:
            pass
        status = await self._variable("DIALSTATUS")
        if status:
            return status
        raise self._gone()

    async def record(self, path: str, max_seconds: int, beep: bool = True) -> Recording:
        self._check()
        target = f"{self._recordings_dir}/{path.lstrip('/')}"
        try:
            result = await self.session.record_file(
                target,
                "wav",
                "#",
                max_seconds * 1000,
                beep=beep,
                silence_s=5,
                timeout=max_seconds + COMMAND_SLACK,
            )
        except AGIHangup:
            raise self._gone() from None
        return Recording(
            path=f"{target}.wav", seconds=result.endpos / 8000, ended_by=result.ended_by
        )

    async def hangup(self) -> None:
        if not self.session.hungup:
            with contextlib.suppress(AGIHangup):
                await self.session.hangup()
        if self.session.line_lost:
            raise LineLost()
