"""Real SIP calls with SIPp: callers that press keys, agents that answer.

Each caller is its own SIPp process running a scenario generated from scenarios/caller.xml, so every
call can carry its own caller number and key presses. The scenario writes log lines (START,
ANSWERED, REMOTE_BYE / LOCAL_BYE, END with SIPp's millisecond clock) that become a CallResult.
Agents are long-running SIPp UAS processes on the static contacts of asterisk_conf/pjsip.conf.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Literal, Self, TypedDict, Unpack
from xml.sax.saxutils import escape

from ivr_engine.pbx import dtmf

SIPP = "sipp"
SCENARIOS = Path(__file__).with_name("scenarios")
KeyPlan = Sequence[tuple[float, str]] | str
# SIPp waits are in milliseconds and 0 means "forever", so the shortest wait is 1 ms.
_FOREVER_MS = 24 * 3600 * 1000


class _Scenario(Template):
    # SIPp itself uses [$variable], so our placeholders are @@name.
    delimiter = "@@"


class SippError(RuntimeError):
    """SIPp could not be run at all (not a failed call: that is a CallResult)."""


def parse_keys(keys: KeyPlan, default_delay: float = 0.5) -> list[tuple[float, str]]:
    """`"2 1 3"` or `"21#"` -> [(0.5, "2"), ...]; a list of (delay seconds, key) passes through.

    The delay of a key counts from the end of the previous key's tone (or from the answer).
    """
    if isinstance(keys, str):
        plan = [(default_delay, key) for key in keys if not key.isspace()]
    else:
        plan = [(float(delay), str(key)) for delay, key in keys]
    for delay, key in plan:
        dtmf.event_code(key)
        if delay < 0:
            raise ValueError(f"key {key!r}: negative delay {delay}")
    return plan


def _ms(seconds: float | None) -> int:
    return _FOREVER_MS if seconds is None else max(1, round(seconds * 1000))


# SIPp's ports come from below the kernel's ephemeral range (32768-60999 on Linux): a port found
# free in that range can be handed to any program's outgoing connection before SIPp binds it, which
# failed a CI call with "Unable to bind video RTP socket". Asterisk's own RTP starts at 31000.
_SIPP_PORTS = (20000, 31000)
# What SIPp prints when a port it was given is taken after all; the call never left, so it is placed
# again on other ports.
_BIND_FAILED = "Unable to bind"
_BIND_ATTEMPTS = 3


def free_udp_port(span: int = 1) -> int:
    """A port p where p .. p+span-1 are free on 127.0.0.1 (SIPp media binds audio+video pairs)."""
    rng = random.SystemRandom()
    for _ in range(200):
        base = rng.randrange(_SIPP_PORTS[0], _SIPP_PORTS[1] - span + 1, 2)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + span):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise SippError("no free UDP port range on 127.0.0.1")


def _sipp_binary() -> str:
    path = shutil.which(SIPP)
    if path is None:
        raise SippError("sipp is not installed: apt-get install -y sip-tester")
    return path


# SIPp reports every timed-out wait as an "error", but our scenarios use timed waits on purpose.
_NOT_ERRORS = (
    "receive timeout on message",
    "In pcap ",
    "npkts ",
    "max pkt length",
    "base port",
    "Resolving remote host",
    "The following events occurred",
    "There were more errors",
)


def _real_errors(text: str) -> str:
    lines = [
        line
        for line in text.splitlines()
        if line.strip() and not any(m in line for m in _NOT_ERRORS)
    ]
    return "\n".join(lines)[-4000:]


def _log_lines(log: Path) -> list[list[str]]:
    """The scenario's `<log>` lines as words; a line SIPp is still writing has no newline yet
    and is left for the next read."""
    if not log.exists():
        return []
    text = log.read_text(errors="replace")
    complete = text[: text.rfind("\n") + 1]
    return [line.split() for line in complete.splitlines() if line.strip()]


def _log_events(log: Path) -> list[tuple[str, int]]:
    """Caller log lines `EVENT <clock ms>`."""
    return [
        (words[0], int(words[-1]))
        for words in _log_lines(log)
        if len(words) == 2 and words[-1].isdigit()
    ]


def _agent_events(log: Path) -> list[tuple[str, str, int]]:
    """Agent log lines `EVENT <call id> <clock ms>`."""
    return [
        (words[0], words[1], int(words[2]))
        for words in _log_lines(log)
        if len(words) == 3 and words[2].isdigit()
    ]


@dataclass(frozen=True, slots=True)
class CallResult:
    answered: bool
    hung_up_by: (
        Literal["caller", "pbx"] | None
    )  # None: never answered or SIPp failed mid-call
    setup_seconds: float | None  # INVITE sent -> 200 OK
    talk_seconds: float | None  # answer -> hangup
    exit_code: int  # SIPp's: 0 = the scenario ran to its end
    keys: str  # the keys this caller pressed
    from_user: str
    errors: str = ""  # SIPp's error log, for assertion messages

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.answered


@dataclass(slots=True)
class CallSpec:
    """One caller: what they dial, who they are, what they press and how long they stay."""

    keys: KeyPlan = ""
    from_user: str = "1000"
    from_name: str = ""
    service: str = "12320"
    # Seconds the caller stays after its last key, then hangs up (hung_up_by "caller"). None:
    # stay until the PBX hangs up (hung_up_by "pbx"); if it never does, the call's `timeout`
    # ends SIPp with an error (exit_code != 0, hung_up_by None).
    hold_seconds: float | None = 5.0
    default_delay: float = 0.5


def render_caller(spec: CallSpec, workdir: Path) -> Path:
    """Write the scenario and one pcap per key press into workdir; return the scenario path."""
    lines: list[str] = []
    for index, (delay, key) in enumerate(parse_keys(spec.keys, spec.default_delay)):
        pcap = dtmf.write_key_pcap(workdir / f"key{index}.pcap", key, index)
        lines += [
            f'  <recv request="BYE" timeout="{_ms(delay)}" ontimeout="key{index}" next="remote_bye"/>',
            f'  <label id="key{index}"/>',
            f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>',
            # Wait out the tone: a new play_pcap_audio would cut the previous one short.
            f'  <recv request="BYE" timeout="{_ms(dtmf.TONE_SECONDS + 0.05)}" ontimeout="sent{index}" next="remote_bye"/>',
            f'  <label id="sent{index}"/>',
        ]
    template = _Scenario((SCENARIOS / "caller.xml").read_text(encoding="utf-8"))
    scenario = template.substitute(
        keys="\n".join(lines),
        hold_ms=_ms(spec.hold_seconds),
        from_user=escape(spec.from_user),
        from_name=escape(spec.from_name or spec.from_user),
    )
    path = workdir / "caller.xml"
    path.write_text(scenario, encoding="utf-8")
    return path


class CallOptions(TypedDict, total=False):
    """Keyword options of a call (defaults as in CallSpec)."""

    hold_seconds: float | None
    from_user: str
    from_name: str
    service: str
    default_delay: float


def place_call(
    keys: KeyPlan = "",
    *,
    pbx_port: int = 15060,
    timeout: float = 120.0,
    **options: Unpack[CallOptions],
) -> CallResult:
    """Place one real SIP call to the PBX and wait until it ends.

    With hold_seconds=None the caller stays until the PBX hangs up, at most `timeout` seconds.
    """
    return run_call(CallSpec(keys, **options), pbx_port=pbx_port, timeout=timeout)


def place_calls(
    specs: Iterable[CallSpec], *, pbx_port: int = 15060, timeout: float = 120.0
) -> list[CallResult]:
    """Place several calls at once (one SIPp process each); results in the order of specs."""
    specs = list(specs)
    results: list[CallResult | None] = [None] * len(specs)

    def run(index: int) -> None:
        results[index] = run_call(specs[index], pbx_port=pbx_port, timeout=timeout)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(specs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [result for result in results if result is not None]


def run_call(
    spec: CallSpec, *, pbx_port: int = 15060, timeout: float = 120.0
) -> CallResult:
    for _ in range(_BIND_ATTEMPTS - 1):
        result = _run_call_once(spec, pbx_port=pbx_port, timeout=timeout)
        if result.answered or _BIND_FAILED not in result.errors:
            return result
    return _run_call_once(spec, pbx_port=pbx_port, timeout=timeout)


def _run_call_once(spec: CallSpec, *, pbx_port: int, timeout: float) -> CallResult:
    keys = "".join(key for _, key in parse_keys(spec.keys, spec.default_delay))
    with tempfile.TemporaryDirectory(prefix="ivr-call-") as tmp:
        workdir = Path(tmp)
        scenario = render_caller(spec, workdir)
        log, errors = workdir / "calls.log", workdir / "errors.log"
        command = [
            _sipp_binary(),
            f"127.0.0.1:{pbx_port}",
            "-sf",
            str(scenario),
            "-s",
            spec.service,
            "-i",
            "127.0.0.1",
            "-p",
            str(free_udp_port()),
            "-mp",
            str(free_udp_port(4)),
            "-m",
            "1",
            "-l",
            "1",
            "-nostdin",
            "-trace_logs",
            "-log_file",
            str(log),
            "-trace_err",
            "-error_file",
            str(errors),
            "-timeout",
            f"{int(timeout)}s",
            "-timeout_error",
        ]
        completed = subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=workdir,
            timeout=timeout + 15,
            check=False,
        )
        events = dict(_log_events(log))
        error_text = errors.read_text(errors="replace") if errors.exists() else ""
    start, answered = events.get("START"), events.get("ANSWERED")
    ended = events.get("REMOTE_BYE") or events.get("LOCAL_BYE")
    hung_up_by: Literal["caller", "pbx"] | None = None
    if "REMOTE_BYE" in events:
        hung_up_by = "pbx"
    elif "LOCAL_BYE" in events:
        hung_up_by = "caller"
    return CallResult(
        answered=answered is not None,
        hung_up_by=hung_up_by,
        setup_seconds=(answered - start) / 1000
        if answered is not None and start is not None
        else None,
        talk_seconds=(ended - answered) / 1000
        if ended is not None and answered is not None
        else None,
        exit_code=completed.returncode,
        keys=keys,
        from_user=spec.from_user,
        errors=_real_errors(
            error_text + "\n" + completed.stderr.decode(errors="replace")
        ),
    )


def render_agent(
    name: str, ring_seconds: float, talk_seconds: float | None, workdir: Path
) -> Path:
    """Write agent `name`'s scenario into workdir; return its path."""
    template = _Scenario((SCENARIOS / "agent.xml").read_text(encoding="utf-8"))
    path = workdir / "agent.xml"
    path.write_text(
        template.substitute(
            agent=escape(name), ring_ms=_ms(ring_seconds), talk_ms=_ms(talk_seconds)
        ),
        encoding="utf-8",
    )
    return path


@dataclass
class Agent:
    """A SIPp UAS answering as agent `name` on 127.0.0.1:port (a static contact in pjsip.conf)."""

    name: str
    port: int
    ring_seconds: float = 0.2
    # Seconds after answering before the agent sends BYE; None: stay until the PBX hangs up.
    talk_seconds: float | None = None
    _process: subprocess.Popen[bytes] | None = field(
        default=None, init=False, repr=False
    )
    _workdir: Path | None = field(default=None, init=False, repr=False)
    # What the log said when the agent stopped: its counts stay readable after stop().
    _final: list[tuple[str, str, int]] = field(
        default_factory=list, init=False, repr=False
    )

    def _events(self) -> list[tuple[str, str, int]]:
        if self._workdir is None:
            return self._final
        return _agent_events(self._workdir / "agent.log")

    def start(self) -> Self:
        if self.running:
            return self
        self._final = []
        self._workdir = Path(tempfile.mkdtemp(prefix=f"ivr-{self.name}-"))
        scenario = render_agent(
            self.name, self.ring_seconds, self.talk_seconds, self._workdir
        )
        command = [
            _sipp_binary(),
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-mp",
            str(free_udp_port(4)),
            "-nostdin",
            "-trace_logs",
            "-log_file",
            str(self._workdir / "agent.log"),
            "-trace_err",
            "-error_file",
            str(self._workdir / "errors.log"),
        ]
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self._workdir,
            start_new_session=True,
        )
        return self

    def _calls(self, *events: str) -> int:
        # Distinct Call-IDs: one call is counted once whatever SIPp logged twice for it.
        return len({call_id for name, call_id, _ in self._events() if name in events})

    @property
    def answered(self) -> int:
        """Calls this agent answered (200 OK acknowledged by the PBX) so far."""
        return self._calls("ANSWERED")

    @property
    def completed(self) -> int:
        """Answered calls that have ended: the PBX hung up, or the agent did and the PBX confirmed."""
        return self._calls("REMOTE_BYE", "LOCAL_BYE")

    @property
    def hung_up(self) -> int:
        """Calls the agent itself ended after talk_seconds (the PBX confirmed its BYE)."""
        return self._calls("LOCAL_BYE")

    def wait(
        self, *, answered: int = 0, completed: int = 0, timeout: float = 15.0
    ) -> Self:
        """Wait until the counts reach at least these numbers.

        A caller's call can end before the agent's leg does (the PBX confirms the caller's BYE,
        then hangs up the agent), so read `completed` through this after a call, not directly.
        """
        deadline = time.monotonic() + timeout
        while self.answered < answered or self.completed < completed:
            if time.monotonic() > deadline:
                raise SippError(
                    f"{self.name}: answered {self.answered}, completed {self.completed} after "
                    f"{timeout:.0f} s (waited for {answered} and {completed})"
                )
            time.sleep(0.05)
        return self

    def errors(self) -> str:
        """SIPp's error log so far (a scenario it refused, a call it aborted)."""
        if self._workdir is None:
            return ""
        log = self._workdir / "errors.log"
        return _real_errors(log.read_text(errors="replace")) if log.exists() else ""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._workdir is not None:
            self._final = self._events()
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start() if self._process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
