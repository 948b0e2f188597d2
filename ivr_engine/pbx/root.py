"""The Asterisk root: a Debian forky tree with Asterisk 22, built once with mmdebstrap and cached.

Debian 12 has no Asterisk package, so the PBX runs chrooted in a testing ("forky") root. Building
it takes about a minute and 340 MB, so it lives outside the clone (~/.cache/ivr-engine) and is
rebuilt only when missing or incomplete: the stamp file is written last, after the tree is complete
and moved into place, and a lock file keeps two processes (two pytest sessions) from building at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

SUITE = "forky"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("asterisk", "asterisk-core-sounds-en-gsm")
STAMP_NAME = ".ivr-engine-root.json"
# Debian's stock /etc/asterisk, kept so every start installs our files over a pristine copy.
PRISTINE_ETC = "etc/asterisk.debian"


class RootError(Exception):
    """The Asterisk root cannot be built or used; the message says why and what to install."""


def default_root() -> Path:
    override = os.environ.get("IVR_ASTERISK_ROOT")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "ivr-engine" / "asterisk-root"


def _wanted_stamp() -> dict[str, object]:
    return {"suite": SUITE, "packages": list(PACKAGES)}


def root_is_complete(root: Path) -> bool:
    try:
        stamp = json.loads((root / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    wanted = _wanted_stamp()
    return (
        all(stamp.get(key) == value for key, value in wanted.items())
        and (root / "usr/sbin/asterisk").exists()
        and (root / PRISTINE_ETC).is_dir()
    )


def build_root(root: Path | None = None, *, log: Path | None = None) -> Path:
    """Return a complete Asterisk root, building it first if it is missing or incomplete."""
    root = (root or default_root()).resolve()
    if root_is_complete(root):
        return root
    if os.geteuid() != 0:
        raise RootError(
            f"building {root} needs root (mmdebstrap creates device nodes and chroots)"
        )
    if shutil.which("mmdebstrap") is None:
        raise RootError("mmdebstrap is not installed: apt-get install -y mmdebstrap")
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Another process may have finished the build while this one waited for the lock.
        if root_is_complete(root):
            return root
        _build(root, log or root.parent / f"{root.name}.build.log")
    return root


def _build(root: Path, log: Path) -> None:
    staging = root.parent / f"{root.name}.building"
    for leftover in (staging, root):
        if leftover.exists():
            shutil.rmtree(leftover)
    command = [
        "mmdebstrap",
        "--variant=apt",
        # The mirror's forky Release file can be past its Valid-Until date.
        '--aptopt=Acquire::Check-Valid-Until "false"',
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(staging),
        MIRROR,
    ]
    with open(log, "w") as out:
        result = subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise RootError(
            f"mmdebstrap failed (exit {result.returncode}); see {log}:\n{tail}"
        )
    shutil.copytree(staging / "etc/asterisk", staging / PRISTINE_ETC, symlinks=True)
    staging.rename(root)
    (root / STAMP_NAME).write_text(json.dumps(_wanted_stamp()), encoding="utf-8")
