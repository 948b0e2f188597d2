"""docker/: what can be checked without a Docker engine. The compose file, the images and the
engine settings agree on ports, volumes and environment, and the Asterisk container's entrypoint
writes exactly the site files the harness writes for the same inputs (the script is run with bash)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from ivr_engine.config import load_settings
from ivr_engine.pbx.asterisk import (
    AMI_USER,
    SOUNDS_SUBDIR,
    PbxError,
    PbxPorts,
    Site,
    site_files,
)

DOCKER = Path(__file__).resolve().parents[2] / "docker"
ENTRYPOINT = DOCKER / "asterisk-entrypoint.sh"
# Read by the entrypoint but rightly left to their defaults by compose: the agent phones are the
# harness's SIPp agents (a site adds its own phones), originate is granted only where callbacks
# are wanted, and the config directory is the image's.
OPTIONAL_IN_COMPOSE = {
    "IVR_PBX_AGENT_HOST",
    "IVR_PBX_AGENT_PORT_BASE",
    "IVR_PBX_AMI_ORIGINATE",
    "IVR_ASTERISK_ETC",
}
SECRETS = {
    "IVR_AMI_SECRET": "ami-Secret_1=",
    "IVR_WEB_TOKEN": "web-token",
    "IVR_STATS_CALLER_KEY_SECRET": "k" * 32,
    "POSTGRES_PASSWORD": "pg",
}


def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, enough for our file."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"compose requires {name}: {arg}")
        return arg

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)


def service_env(name: str, env: dict[str, str]) -> dict[str, str]:
    raw = compose()["services"][name]["environment"]
    return {key: interpolate(str(value), env) for key, value in raw.items()}


def run_entrypoint(
    env: dict[str, str], etc: Path, *command: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *command],
        env={"PATH": os.environ["PATH"], "IVR_ASTERISK_ETC": str(etc), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def written(etc: Path) -> dict[str, str]:
    return {
        f"local/{path.name}": path.read_text() for path in (etc / "local").iterdir()
    }


def entrypoint_env(ports: PbxPorts, secret: str, site: Site) -> dict[str, str]:
    """The harness's inputs as the entrypoint's environment."""
    return {
        "IVR_AMI_SECRET": secret,
        "IVR_PBX_SIP_PORT": str(ports.sip),
        "IVR_PBX_AMI_PORT": str(ports.ami),
        "IVR_PBX_RTP_START": str(ports.rtp_start),
        "IVR_PBX_RTP_END": str(ports.rtp_end),
        "IVR_PBX_AGENT_PORT_BASE": str(ports.agent_base),
        "IVR_PBX_BIND": site.bind,
        "IVR_PBX_AMI_PERMIT": " ".join(site.ami_permit),
        "IVR_PBX_CALLER_MATCH": " ".join(site.caller_match),
        "IVR_PBX_AGENT_HOST": site.agent_host,
        "IVR_PBX_AMI_ORIGINATE": "yes" if site.allow_originate else "no",
    }


@pytest.mark.parametrize(
    ("ports", "site"),
    [
        (PbxPorts(), Site()),
        (
            PbxPorts(
                sip=25060, ami=25038, rtp_start=41000, rtp_end=41999, agent_base=25071
            ),
            Site(allow_originate=True),
        ),
        (
            PbxPorts(sip=5060, ami=5038, rtp_start=10000, rtp_end=10199),
            Site(
                bind="0.0.0.0",
                ami_permit=("172.28.0.0/255.255.255.0", "10.1.0.0/16"),
                caller_match=("198.51.100.7", "203.0.113.0/24"),
                agent_host="192.0.2.10",
            ),
        ),
    ],
)
def test_entrypoint_writes_the_harness_site_files_byte_for_byte(
    tmp_path: Path, ports: PbxPorts, site: Site
) -> None:
    secret = "Zx9_-.~s3cret=="
    done = run_entrypoint(entrypoint_env(ports, secret, site), tmp_path)
    assert done.returncode == 0, done.stderr
    assert written(tmp_path) == site_files(ports, secret, site)


def test_entrypoint_defaults_are_the_harness_defaults(tmp_path: Path) -> None:
    done = run_entrypoint({"IVR_AMI_SECRET": "s"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert written(tmp_path) == site_files(PbxPorts(), "s", Site())


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "IVR_AMI_SECRET"),
        ({"IVR_AMI_SECRET": "a;b"}, "IVR_AMI_SECRET"),
        ({"IVR_AMI_SECRET": "a b"}, "IVR_AMI_SECRET"),
        ({"IVR_AMI_SECRET": "s", "IVR_PBX_SIP_PORT": "70000"}, "IVR_PBX_SIP_PORT"),
        ({"IVR_AMI_SECRET": "s", "IVR_PBX_RTP_END": "x"}, "IVR_PBX_RTP_END"),
        ({"IVR_AMI_SECRET": "s", "IVR_PBX_BIND": "1.2.3.4\nbindaddr"}, "IVR_PBX_BIND"),
        (
            {"IVR_AMI_SECRET": "s", "IVR_PBX_AMI_PERMIT": "10.0.0.0/8;x"},
            "IVR_PBX_AMI_PERMIT",
        ),
        (
            {"IVR_AMI_SECRET": "s", "IVR_PBX_AMI_ORIGINATE": "1"},
            "IVR_PBX_AMI_ORIGINATE",
        ),
    ],
)
def test_entrypoint_refuses_bad_input_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    done = run_entrypoint(env, tmp_path, "true")
    assert done.returncode == 64
    assert named in done.stderr
    assert not (tmp_path / "local").exists()


@pytest.mark.parametrize("secret", ["a;b", "a b", "line\nwrite = system", ""])
def test_harness_refuses_the_secrets_the_entrypoint_refuses(secret: str) -> None:
    with pytest.raises(PbxError, match="IVR_AMI_SECRET"):
        site_files(PbxPorts(), secret)


def test_harness_refuses_an_address_that_would_inject_a_setting() -> None:
    with pytest.raises(PbxError, match="caller_match"):
        site_files(PbxPorts(), "s", Site(caller_match=("1.2.3.4\ncontext=evil",)))


def test_compose_gives_the_entrypoint_every_variable_it_reads() -> None:
    read = set(re.findall(r"\b(IVR_[A-Z_]+)\b", ENTRYPOINT.read_text()))
    given = set(compose()["services"]["asterisk"]["environment"])
    assert read - OPTIONAL_IN_COMPOSE <= given, read - OPTIONAL_IN_COMPOSE - given
    assert given <= read, (
        f"compose sets what the entrypoint never reads: {given - read}"
    )


def test_entrypoint_runs_on_compose_environment_and_hands_agi_url_to_asterisk(
    tmp_path: Path,
) -> None:
    env = service_env("asterisk", SECRETS)
    done = run_entrypoint(env, tmp_path, "printenv", "IVR_AGI_URL")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "agi://engine:4573/default"
    files = written(tmp_path)
    manager = files["local/manager.conf"]
    assert "bindaddr = 0.0.0.0" in manager
    assert f"[{AMI_USER}](+)\nsecret = {SECRETS['IVR_AMI_SECRET']}\n" in manager
    assert "permit = 172.28.0.0/255.255.255.0" in manager
    assert "originate" not in manager
    assert "bind = 0.0.0.0:15060" in files["local/pjsip.conf"]
    # Without IVR_CALLER_MATCH, calls from the Docker host (the network's gateway) are callers.
    assert "match = 172.28.0.1\n" in files["local/pjsip.conf"]
    carrier = service_env("asterisk", {**SECRETS, "IVR_CALLER_MATCH": "198.51.100.7"})
    assert carrier["IVR_PBX_CALLER_MATCH"] == "198.51.100.7"


def test_ami_is_open_to_the_compose_network_only_and_never_published() -> None:
    spec = compose()
    [subnet] = spec["networks"]["ivr"]["ipam"]["config"]
    address, bits = subnet["subnet"].split("/")
    mask = ".".join(
        str((0xFFFFFFFF << (32 - int(bits)) >> shift) & 0xFF)
        for shift in (24, 16, 8, 0)
    )
    env = service_env("asterisk", SECRETS)
    assert env["IVR_PBX_AMI_PERMIT"] == f"{address}/{mask}"
    assert env["IVR_PBX_CALLER_MATCH"] == subnet["gateway"]
    published = " ".join(spec["services"]["asterisk"]["ports"])
    assert env["IVR_PBX_AMI_PORT"] not in published
    for name in ("asterisk", "engine", "postgres"):
        assert spec["services"][name]["networks"] == ["ivr"], name


def test_published_ports_are_the_ones_asterisk_listens_on() -> None:
    env = service_env("asterisk", SECRETS)
    sip, rtp = (
        env["IVR_PBX_SIP_PORT"],
        f"{env['IVR_PBX_RTP_START']}-{env['IVR_PBX_RTP_END']}",
    )
    assert compose()["services"]["asterisk"]["ports"] == [
        f"{sip}:{sip}/udp",
        f"{rtp}:{rtp}/udp",
    ]
    dockerfile = (DOCKER / "Dockerfile.asterisk").read_text()
    [expose] = re.findall(r"^EXPOSE (.+)$", dockerfile, re.MULTILINE)
    assert expose.split() == [f"{sip}/udp", f"{rtp}/udp"]


def test_prompt_audio_volume_is_the_engine_audio_dir_and_asterisk_sounds_ivr_folder() -> (
    None
):
    services = compose()["services"]
    settings = load_settings(DOCKER / "ivr.yaml", env={})
    sounds_ivr = "/" + SOUNDS_SUBDIR
    assert "audio:" + sounds_ivr + ":ro" in services["asterisk"]["volumes"]
    assert f"audio:{settings.audio_dir}" in services["engine"]["volumes"]
    dockerfile = (DOCKER / "Dockerfile.asterisk").read_text()
    assert f'VOLUME ["{sounds_ivr}"]' in dockerfile
    assert f"--out {settings.audio_dir}" in (DOCKER / "Dockerfile.engine").read_text()


def test_engine_settings_meet_the_asterisk_container() -> None:
    settings = load_settings(DOCKER / "ivr.yaml", env={})
    asterisk = service_env("asterisk", SECRETS)
    agi = urlsplit(asterisk["IVR_AGI_URL"])
    assert agi.scheme == "agi" and agi.hostname == "engine"
    assert agi.port == settings.agi.port and settings.agi.host == "0.0.0.0"
    assert settings.ami.enabled and settings.ami.host == "asterisk"
    assert settings.ami.port == int(asterisk["IVR_PBX_AMI_PORT"])
    assert settings.ami.username == AMI_USER
    engine = service_env("engine", SECRETS)
    assert engine["IVR_AMI_SECRET"] == asterisk["IVR_AMI_SECRET"]


def test_asterisk_image_installs_the_entrypoint_and_the_conf_it_completes() -> None:
    dockerfile = (DOCKER / "Dockerfile.asterisk").read_text()
    assert "COPY asterisk_conf/ /etc/asterisk/" in dockerfile
    assert (
        "COPY docker/asterisk-entrypoint.sh /usr/local/bin/asterisk-entrypoint"
        in dockerfile
    )
    assert 'ENTRYPOINT ["/usr/local/bin/asterisk-entrypoint"]' in dockerfile
    assert os.access(ENTRYPOINT, os.X_OK)
