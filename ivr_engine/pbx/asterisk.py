"""A real Asterisk 22, chrooted in the cached root, configured from asterisk_conf/.

Every start installs Debian's pristine /etc/asterisk, then our asterisk_conf/ over it, then the
site files under /etc/asterisk/local/ that carry what must not be committed (the AMI secret) or
differs per machine (ports, bind address). The asterisk_conf/*.conf files `#tryinclude` them.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self, Unpack

from ivr_engine.pbx.root import PRISTINE_ETC, build_root, default_root
from ivr_engine.pbx.sipp import (
    Agent,
    CallOptions,
    CallResult,
    CallSpec,
    KeyPlan,
    SippError,
    place_call,
    place_calls,
)

CONF_DIR = Path(__file__).resolve().parents[2] / "asterisk_conf"
SOUNDS_SUBDIR = "usr/share/asterisk/sounds/ivr"
LOG_DIR = "var/log/asterisk"
AMI_USER = "ivr-engine"
# The agent phones of asterisk_conf/pjsip.conf and queues.conf; agentN listens on agent_base + N - 1.
AGENTS = ("agent1", "agent2", "agent3", "agent4")
FALLBACK_QUEUE = "operator"


class PbxError(RuntimeError):
    """Asterisk did not start, stop or answer; the message carries the end of its log."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise PbxError(f"{name}={value!r} is not a port number") from None


@dataclass(frozen=True, slots=True)
class PbxPorts:
    """Where the harness's Asterisk and its agent phones listen; each can be moved with an
    IVR_PBX_* variable (the container entrypoint reads the same names)."""

    sip: int = 15060
    ami: int = 15038
    rtp_start: int = 31000
    rtp_end: int = 31999
    agent_base: int = 15071

    @classmethod
    def from_env(cls) -> PbxPorts:
        base = cls()
        return cls(
            sip=_env_int("IVR_PBX_SIP_PORT", base.sip),
            ami=_env_int("IVR_PBX_AMI_PORT", base.ami),
            rtp_start=_env_int("IVR_PBX_RTP_START", base.rtp_start),
            rtp_end=_env_int("IVR_PBX_RTP_END", base.rtp_end),
            agent_base=_env_int("IVR_PBX_AGENT_PORT_BASE", base.agent_base),
        )

    def agent(self, name: str) -> int:
        """The SIP port of agent phone `name` (agent1..agent4)."""
        if name not in AGENTS:
            raise PbxError(
                f"{name!r} is not an agent phone of pjsip.conf ({', '.join(AGENTS)})"
            )
        return self.agent_base + AGENTS.index(name)


@dataclass(frozen=True, slots=True)
class Site:
    """How the PBX meets its network. The defaults are the harness's: everything on loopback.
    A container binds 0.0.0.0, lets the engine's network log in to AMI and names its carrier."""

    bind: str = "127.0.0.1"  # SIP transport and AMI listen here
    ami_permit: tuple[str, ...] = ()  # networks (addr/mask) allowed besides 127.0.0.1
    caller_match: tuple[
        str, ...
    ] = ()  # caller sources besides 127.0.0.1 (carrier addresses)
    agent_host: str = "127.0.0.1"  # where the static agent phones listen
    allow_originate: bool = False


# What may go into a config line unquoted: ';' starts a comment, a newline a new setting.
_SECRET = re.compile(r"[!-~]+")
_ADDRESS = re.compile(r"[][A-Za-z0-9.:/_-]+")


def _check_site(ami_secret: str, site: Site) -> None:
    if not _SECRET.fullmatch(ami_secret) or ";" in ami_secret:
        raise PbxError(
            "the AMI secret (IVR_AMI_SECRET) may hold printable ASCII only, without spaces or ';'"
        )
    for label, values in (
        ("bind", (site.bind,)),
        ("ami_permit", site.ami_permit),
        ("caller_match", site.caller_match),
        ("agent_host", (site.agent_host,)),
    ):
        for value in values:
            if not _ADDRESS.fullmatch(value):
                raise PbxError(f"site {label}: {value!r} is not an address or network")


def site_files(ports: PbxPorts, ami_secret: str, site: Site = Site()) -> dict[str, str]:
    """The local/*.conf files (relative to /etc/asterisk) that asterisk_conf/ `#tryinclude`s.

    docker/asterisk-entrypoint.sh writes the same text from IVR_PBX_* variables for the
    container; tests/pbx/test_docker_files.py checks that the two agree byte for byte.
    """
    _check_site(ami_secret, site)
    manager = (
        f"[general](+)\nport = {ports.ami}\nbindaddr = {site.bind}\n\n"
        f"[{AMI_USER}](+)\nsecret = {ami_secret}\n"
        + "".join(f"permit = {network}\n" for network in site.ami_permit)
        + ("write = call,agent,user,originate\n" if site.allow_originate else "")
    )
    pjsip = (
        f"[transport-udp](+)\nbind = {site.bind}:{ports.sip}\n"
        + "".join(
            f"\n[callers-identify](+)\nmatch = {source}\n"
            for source in site.caller_match
        )
        # "+type=aor": the endpoint and the aor share the name; append to the aor.
        + "".join(
            f"\n[{name}](+type=aor)\ncontact = sip:{name}@{site.agent_host}:{ports.agent(name)}\n"
            for name in AGENTS
        )
    )
    return {
        "local/pjsip.conf": pjsip,
        "local/manager.conf": manager,
        "local/rtp.conf": f"[general](+)\nrtpstart = {ports.rtp_start}\nrtpend = {ports.rtp_end}\n",
    }


@dataclass
class Pbx:
    """Start/stop a chrooted Asterisk; use as a context manager or call start() and stop()."""

    root: Path | None = None
    conf_dir: Path = CONF_DIR
    # IVR_AGI_URL of the Asterisk process; None: the environment's, else the dialplan default.
    agi_url: str | None = None
    # The AMI user's secret; empty: IVR_AMI_SECRET, else a random one (read it from here).
    ami_secret: str = field(default="", repr=False)
    ports: PbxPorts = field(default_factory=PbxPorts.from_env)
    sounds: Path | None = None
    allow_originate: bool = False
    boot_timeout: float = 60.0
    _process: subprocess.Popen[bytes] | None = field(
        default=None, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.ami_secret = (
            self.ami_secret
            or os.environ.get("IVR_AMI_SECRET")
            or secrets.token_urlsafe(24)
        )
        if self.agi_url is None:
            self.agi_url = os.environ.get("IVR_AGI_URL") or None

    # --- paths -----------------------------------------------------------------------------
    @property
    def root_dir(self) -> Path:
        return (self.root or default_root()).resolve()

    @property
    def log_dir(self) -> Path:
        return self.root_dir / LOG_DIR

    @property
    def messages_log(self) -> Path:
        return self.log_dir / "messages.log"

    @property
    def queue_log_path(self) -> Path:
        return self.log_dir / "queue_log"

    @property
    def console_log(self) -> Path:
        return self.log_dir / "console.log"

    @property
    def pid_file(self) -> Path:
        # /var/run is an absolute symlink to /run inside the root: name the real place.
        return self.root_dir / "run/asterisk/asterisk.pid"

    @property
    def sounds_dir(self) -> Path:
        return self.root_dir / SOUNDS_SUBDIR

    # --- lifecycle -------------------------------------------------------------------------
    def running_pid(self) -> int | None:
        """Pid of an Asterisk running in this root (started by this or another process)."""
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        try:
            # A recycled pid may belong to another program or to an Asterisk in another root.
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            root = Path(os.readlink(f"/proc/{pid}/root")).resolve()
        except OSError:
            return None
        return pid if comm == "asterisk" and root == self.root_dir else None

    def start(self) -> Self:
        self.root = build_root(self.root)
        pid = self.running_pid()
        if pid is not None:
            raise PbxError(
                f"an Asterisk (pid {pid}) already runs in {self.root_dir}: stop it with `ivr pbx stop`"
            )
        self.install_config()
        if self.sounds is not None:
            self.install_sounds(self.sounds)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for stale in (self.messages_log, self.queue_log_path):
            stale.unlink(missing_ok=True)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "HOME": "/root",
        }
        if self.agi_url:
            env["IVR_AGI_URL"] = self.agi_url
        with open(self.console_log, "wb") as console:
            self._process = subprocess.Popen(
                ["chroot", str(self.root_dir), "asterisk", "-f", "-n"],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            self._wait_booted()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_booted(self) -> None:
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise PbxError(
                    f"asterisk exited with {self._process.returncode} while starting\n{self.log_tail()}"
                )
            done = self._rx(
                "core waitfullybooted", timeout=max(1.0, deadline - time.monotonic())
            )
            if done.returncode == 0 and "fully booted" in done.stdout.lower():
                self._check_listeners()
                return
            time.sleep(0.2)
        raise PbxError(
            f"asterisk did not finish booting in {self.boot_timeout:.0f} s\n{self.log_tail()}"
        )

    def _check_listeners(self) -> None:
        """Asterisk boots even when a port is taken; a PBX without SIP or AMI is no PBX."""
        log = (
            self.messages_log.read_text(errors="replace")
            if self.messages_log.exists()
            else ""
        )
        failures = [
            line
            for line in log.splitlines()
            if "Unable to bind" in line
            or "could not be started" in line
            or "Failed to bind" in line
        ]
        if failures:
            raise PbxError(
                "a port of the PBX is taken by another program (move it with IVR_PBX_SIP_PORT, "
                "IVR_PBX_AMI_PORT, IVR_PBX_RTP_START/END):\n" + "\n".join(failures)
            )

    def stop(self) -> None:
        """Stop Asterisk (ours or one left by `ivr pbx start`) and wait until it is gone."""
        pid = self._process.pid if self._process is not None else self.running_pid()
        if pid is not None and self._alive(pid):
            self._rx("core stop now", timeout=5)
            if not self._wait_gone(pid, 10):
                os.kill(pid, signal.SIGTERM)
                if not self._wait_gone(pid, 5):
                    os.kill(pid, signal.SIGKILL)
                    self._wait_gone(pid, 5)
        self._process = None

    def _alive(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True

    def _wait_gone(self, pid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self._alive(pid):
                return True
            time.sleep(0.1)
        return not self._alive(pid)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- configuration ---------------------------------------------------------------------
    def install_config(self) -> None:
        etc = self.root_dir / "etc/asterisk"
        if etc.exists():
            shutil.rmtree(etc)
        shutil.copytree(self.root_dir / PRISTINE_ETC, etc, symlinks=True)
        shutil.copytree(self.conf_dir, etc, dirs_exist_ok=True)
        # Asterisk looks up its own host name to pick a media address; the chroot's /etc/hosts
        # must know it, or every call waits on a DNS lookup that cannot succeed.
        (self.root_dir / "etc/hosts").write_text(
            f"127.0.0.1 localhost {socket.gethostname()}\n::1 localhost\n"
        )
        site = Site(allow_originate=self.allow_originate)
        for relative, text in site_files(self.ports, self.ami_secret, site).items():
            path = etc / relative
            path.parent.mkdir(mode=0o700, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(text, encoding="utf-8")

    def install_sounds(self, src: Path) -> Path:
        """Copy a directory of prompts to sounds/ivr/ so `STREAM FILE ivr/<lang>/<id>` finds them.

        Safe while Asterisk runs: the new tree is copied beside the old one and swapped in by
        renames, and Asterisk opens a file afresh for every playback.
        """
        src = Path(src)
        if not src.is_dir():
            raise PbxError(f"{src}: not a directory of sound files")
        target = self.sounds_dir
        staging, old = target.with_name("ivr.new"), target.with_name("ivr.old")
        for leftover in (staging, old):
            if leftover.exists():
                shutil.rmtree(leftover)
        shutil.copytree(src, staging)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        if old.exists():
            shutil.rmtree(old)
        return target

    # --- talking to it ---------------------------------------------------------------------
    def _rx(
        self, command: str, timeout: float = 10.0
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["chroot", str(self.root_dir), "asterisk", "-rx", command],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(
                [], 124, "", f"asterisk -rx {command!r} timed out"
            )

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command (asterisk -rx) and return its output."""
        done = self._rx(command, timeout)
        if done.returncode != 0:
            raise PbxError(
                f"asterisk -rx {command!r} failed ({done.returncode}): {done.stderr or done.stdout}"
            )
        return done.stdout

    def set_agi_url(self, url: str | None) -> None:
        """Point new calls at another FastAGI service (a dialplan global); None restores the default."""
        if url is None:
            self.cli('dialplan set global IVR_AGI_URL ""')
        else:
            if any(ch in url for ch in ' \t\r\n"'):
                raise ValueError(f"{url!r}: an AGI URL cannot contain spaces or quotes")
            self.cli(f"dialplan set global IVR_AGI_URL {url}")

    def agent_reachable(self, name: str) -> bool:
        return "Avail" in self.cli(f"pjsip show contacts like {name}")

    def wait_agent(
        self, name: str, *, reachable: bool = True, timeout: float = 15.0
    ) -> None:
        """Wait until Asterisk's OPTIONS pings (every 2 s) find the agent reachable, so queues
        will ring it; or, with reachable=False, until they find it gone."""
        deadline = time.monotonic() + timeout
        while self.agent_reachable(name) != reachable:
            if time.monotonic() > deadline:
                state = "reachable" if reachable else "unreachable"
                raise PbxError(
                    f"{name} is not {state} after {timeout:.0f} s:\n{self.cli('pjsip show contacts')}"
                )
            time.sleep(0.25)

    # --- calls ---------------------------------------------------------------------------
    def place_call(
        self,
        keys: KeyPlan = "",
        *,
        timeout: float = 120.0,
        **options: Unpack[CallOptions],
    ) -> CallResult:
        """One real SIP call into this PBX (see ivr_engine.pbx.sipp.place_call).

        hold_seconds=None: the caller stays until the PBX hangs up (result.hung_up_by == "pbx"),
        at most `timeout` seconds, after which SIPp gives up and the result is not ok.
        """
        return place_call(keys, pbx_port=self.ports.sip, timeout=timeout, **options)

    def place_calls(
        self, specs: list[CallSpec], *, timeout: float = 120.0
    ) -> list[CallResult]:
        """Several simultaneous calls into this PBX, one result per spec, in order."""
        return place_calls(specs, pbx_port=self.ports.sip, timeout=timeout)

    def start_agent(
        self,
        name: str,
        port: int | None = None,
        *,
        ring_seconds: float = 0.2,
        talk_seconds: float | None = None,
        wait: bool = True,
    ) -> Agent:
        """Run agent `name` (agent1..agent4) at its static contact; by default wait until the
        queues see it as reachable, so the next queued call can ring it."""
        agent = Agent(
            name, port or self.ports.agent(name), ring_seconds, talk_seconds
        ).start()
        if wait:
            try:
                self.wait_agent(name)
            except BaseException as exc:
                exited, errors = not agent.running, agent.errors()
                agent.stop()
                if exited and isinstance(exc, PbxError):
                    # Not a reachability problem: SIPp refused the scenario or the port.
                    raise SippError(f"{name}: SIPp exited:\n{errors}") from exc
                raise
        return agent

    def queue_log(self) -> list[list[str]]:
        """app_queue's log: time|callid|queue|agent|event|data... per line, split on '|'."""
        if not self.queue_log_path.exists():
            return []
        return [
            line.split("|")
            for line in self.queue_log_path.read_text(errors="replace").splitlines()
        ]

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for path in (self.messages_log, self.console_log):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(parts)
