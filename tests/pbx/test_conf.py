"""asterisk_conf/ and the site files the harness writes (no PBX needed)."""

from __future__ import annotations

import re

from ivr_engine.pbx.asterisk import AGENTS, CONF_DIR, PbxPorts, Site, site_files


def test_no_secret_is_committed() -> None:
    for path in CONF_DIR.glob("*.conf"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not re.match(r"\s*(secret|password)\s*=", line), (
                f"{path.name}:{number}: {line}"
            )


def test_every_listener_is_loopback_by_default() -> None:
    assert "bindaddr = 127.0.0.1" in (CONF_DIR / "manager.conf").read_text()
    assert "bind = 127.0.0.1:15060" in (CONF_DIR / "pjsip.conf").read_text()


def test_site_files_carry_ports_and_secret_and_grant_originate_only_on_request() -> (
    None
):
    files = site_files(
        PbxPorts(sip=16060, ami=16038, rtp_start=32000, rtp_end=32099), "s3cret"
    )
    assert "bind = 127.0.0.1:16060" in files["local/pjsip.conf"]
    assert (
        "port = 16038" in files["local/manager.conf"]
        and "secret = s3cret" in files["local/manager.conf"]
    )
    assert "originate" not in files["local/manager.conf"]
    assert (
        "rtpstart = 32000" in files["local/rtp.conf"]
        and "rtpend = 32099" in files["local/rtp.conf"]
    )
    assert (
        "originate"
        in site_files(PbxPorts(), "s", Site(allow_originate=True))["local/manager.conf"]
    )


def test_agent_phones_have_exactly_one_contact_each_from_the_site_file() -> None:
    # pjsip.conf names no contact: a second one there would make every agent ring twice.
    assert not re.search(
        r"^contact\s*=", (CONF_DIR / "pjsip.conf").read_text(), re.MULTILINE
    )
    pjsip = site_files(PbxPorts(agent_base=25071), "s")["local/pjsip.conf"]
    contacts = re.findall(
        r"\[(agent\d)\]\(\+type=aor\)\ncontact = sip:(agent\d)@127.0.0.1:(\d+)", pjsip
    )
    assert contacts == [(name, name, str(25071 + i)) for i, name in enumerate(AGENTS)]
    assert PbxPorts(agent_base=25071).agent("agent3") == 25073


def test_each_site_file_is_included_by_its_conf() -> None:
    for relative in site_files(PbxPorts(), "s"):
        name = relative.removeprefix("local/")
        assert f'#tryinclude "{relative}"' in (CONF_DIR / name).read_text(), name
