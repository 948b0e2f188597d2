"""The demo 12320 hotline: clean, as deep and wide as the brief asks, and its lookup hook."""

from __future__ import annotations

import re

from flow_fixtures import HOTLINE

from ivr_engine.flow import tree
from ivr_engine.flow.demo_hooks import (
    DEMO_APPOINTMENTS,
    id_check_character,
    normalize_id_number,
    vaccination_appointment,
)
from ivr_engine.flow.model import Flow, Language, Lookup, Menu, Queue
from ivr_engine.flow.validate import check_paths
from ivr_engine.pbx.asterisk import CONF_DIR


def test_validates_without_errors_or_warnings() -> None:
    assert check_paths([HOTLINE]) == []


def test_shape(hotline: Flow) -> None:
    assert len(tree.leaves(hotline)) >= 40
    assert tree.depth(hotline) >= 4
    assert max(len(m.options) for m in hotline.menus()) <= 5
    assert sum(len(m.options) >= 4 for m in hotline.menus()) >= 15
    assert hotline.start == "welcome"
    assert [o.target for o in hotline.node("language.menu").options] == ["language.zh", "language.en"]  # type: ignore[attr-defined]
    assert {n.language for n in hotline.nodes.values() if isinstance(n, Language)} == {"zh-CN", "en"}


def asterisk_queues() -> set[str]:
    """Queue sections of asterisk_conf/queues.conf ([general] is settings, (!) a template).

    pyst2's config parser cannot read template sections such as [queue-defaults](!), so the
    section headers are read directly."""
    text = (CONF_DIR / "queues.conf").read_text()
    headers = re.findall(r"^\[([^\]]+)\](\([^)]*\))?", text, re.M)
    return {name for name, suffix in headers if name != "general" and "!" not in suffix}


def test_queues_match_the_asterisk_configuration(hotline: Flow) -> None:
    queues = {n.queue for n in hotline.nodes.values() if isinstance(n, Queue)}
    assert queues == {"operator", "vaccination", "mental-health-crisis", "complaints", "outbreak"}
    assert queues <= asterisk_queues()


def test_crisis_line_is_one_key_from_the_main_menu_with_top_priority(hotline: Flow) -> None:
    main = hotline.node("main")
    assert isinstance(main, Menu)
    crisis = hotline.node(main.option_for("5").target)  # type: ignore[union-attr]
    assert isinstance(crisis, Queue) and crisis.queue == "mental-health-crisis"
    assert crisis.priority == max(n.priority for n in hotline.nodes.values() if isinstance(n, Queue))


def test_every_menu_option_has_its_own_prompt(hotline: Flow) -> None:
    prompts = [o.prompt for m in hotline.menus() for o in m.options]
    assert None not in prompts
    assert len(prompts) == len(set(prompts))


def test_appointment_lookup_hook(hotline: Flow) -> None:
    lookup = hotline.node("vax.appointment.lookup")
    assert isinstance(lookup, Lookup)
    results = {vaccination_appointment({"id_number": number}) for number in DEMO_APPOINTMENTS}
    assert results <= {value for value, _ in lookup.branches}
    booked = next(n for n, status in DEMO_APPOINTMENTS.items() if status == "booked")
    assert vaccination_appointment({"id_number": booked}) == "booked"
    assert vaccination_appointment({"id_number": booked[:-1] + ("0" if booked[-1] != "0" else "1")}) == "not_found"
    assert vaccination_appointment({"id_number": "123"}) == "not_found"
    assert vaccination_appointment({}) == "not_found"


def test_star_keys_the_final_x() -> None:
    first17 = next(
        f"999999199001010{i:02d}" for i in range(100) if id_check_character(f"999999199001010{i:02d}") == "X"
    )
    assert normalize_id_number(first17 + "*") == first17 + "X"
    assert normalize_id_number(first17 + "1") is None  # wrong check character
    assert id_check_character("11010519491231002") == "X"  # the worked example of GB 11643
