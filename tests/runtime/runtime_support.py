"""A small hotline flow built from model objects, its prompt texts, and a recording observer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from ivr_engine.flow import model as m
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.runtime.channel import CallInfo
from ivr_engine.runtime.console import ConsoleChannel, parse_script
from ivr_engine.runtime.engine import CallResult, RuntimeSettings, run_call
from ivr_engine.runtime.recording import EventLog

TEXTS: dict[str, dict[str, str]] = {
    "welcome": {"en": "Welcome to the 12320 public health hotline.", "zh-CN": "欢迎致电12320卫生热线。"},
    "root.header": {"en": "Please listen to the following options.", "zh-CN": "请听以下选项。"},
    "root.vaccination": {"en": "For vaccination, press 1.", "zh-CN": "疫苗接种请按1。"},
    "root.food": {"en": "For food safety, press 2.", "zh-CN": "食品安全请按2。"},
    "root.complaint": {"en": "To leave a complaint, press 3.", "zh-CN": "投诉请按3。"},
    "root.account": {"en": "For your case status, press 4.", "zh-CN": "查询案件请按4。"},
    "vacc.header": {"en": "Vaccination services.", "zh-CN": "疫苗接种服务。"},
    "vacc.hours": {"en": "For clinic opening hours, press 1.", "zh-CN": "门诊时间请按1。"},
    "vacc.adult": {"en": "For adult vaccines, press 2.", "zh-CN": "成人疫苗请按2。"},
    "vacc.hours.info": {"en": "Clinics open from eight to five on weekdays.", "zh-CN": "门诊工作日八点至五点开放。"},
    "vacc.adult.info": {"en": "Adult vaccines need an appointment.", "zh-CN": "成人疫苗需要预约。"},
    "food.info": {"en": "Report unsafe food at your district office.", "zh-CN": "请向区办公室举报不安全食品。"},
    "complaint.prompt": {"en": "Leave your message after the tone.", "zh-CN": "请在提示音后留言。"},
    "account.prompt": {"en": "Enter your six digit case number, then hash.", "zh-CN": "请输入六位案件号，以井号结束。"},
    "account.invalid": {"en": "That case number is not valid.", "zh-CN": "案件号无效。"},
    "account.found": {"en": "Your case is being handled.", "zh-CN": "您的案件正在处理。"},
    "common.invalid": {"en": "Sorry, that key is not valid.", "zh-CN": "对不起，按键无效。"},
    "common.timeout": {"en": "Sorry, we did not hear a key.", "zh-CN": "对不起，没有收到按键。"},
    "agents.prompt": {"en": "Connecting you to an agent.", "zh-CN": "正在为您转接人工服务。"},
    "bookmark.added": {"en": "Added to your personal menu.", "zh-CN": "已加入您的个人菜单。"},
    "personal.greeting": {"en": "Welcome back.", "zh-CN": "欢迎回来。"},
    "personal.adult": {"en": "For adult vaccines again, press 7.", "zh-CN": "再次查询成人疫苗请按7。"},
    "goodbye": {"en": "Goodbye.", "zh-CN": "再见。"},
    "survey.prompt": {"en": "Rate our service from 1 to 5.", "zh-CN": "请为我们的服务打分，1到5分。"},
    "survey.thanks": {"en": "Thank you.", "zh-CN": "谢谢。"},
}


def catalog() -> PromptCatalog:
    return PromptCatalog(texts={k: dict(v) for k, v in TEXTS.items()})


def seconds(*prompt_ids: str, language: str = "en") -> float:
    """What the given prompts take on the virtual clock."""
    return sum(catalog().clip(p, language).duration for p in prompt_ids)


def option(key: str, target: str, prompt: str) -> m.MenuOption:
    return m.MenuOption(key=key, target=target, prompt=prompt)


def hotline(*extra: m.Node, start: str = "root", **flow_fields: Any) -> m.Flow:
    """root -> vaccination menu (hours, adult), food leaf, complaint voicemail, case collect."""
    nodes: list[m.Node] = [
        m.Menu(
            id="root",
            prompt="root.header",
            options=(
                option("1", "vacc", "root.vaccination"),
                option("2", "food", "root.food"),
                option("3", "complaint", "root.complaint"),
                option("4", "case", "root.account"),
            ),
            invalid_prompt="common.invalid",
            timeout_prompt="common.timeout",
        ),
        m.Menu(
            id="vacc",
            prompt="vacc.header",
            options=(option("1", "vacc.hours", "vacc.hours"), option("2", "vacc.adult", "vacc.adult")),
            invalid_prompt="common.invalid",
            timeout_prompt="common.timeout",
        ),
        m.Announcement(id="vacc.hours", prompts=("vacc.hours.info",)),
        m.Announcement(id="vacc.adult", prompts=("vacc.adult.info",)),
        m.Announcement(id="food", prompts=("food.info",)),
        m.Voicemail(id="complaint", prompt="complaint.prompt", mailbox="complaints", max_seconds=60),
        m.Collect(
            id="case",
            prompt="account.prompt",
            variable="case_number",
            min_length=6,
            max_length=6,
            pattern=r"[1-9]\d{5}",
            invalid_prompt="account.invalid",
            next="case.found",
            on_failure="agents",
        ),
        m.Announcement(id="case.found", prompts=("account.found",)),
        m.Queue(id="agents", queue="general", prompt="agents.prompt"),
        *extra,
    ]
    settings: dict[str, Any] = {"languages": ("en", "zh-CN"), "operator": "agents", **flow_fields}
    return m.Flow(id="test", version="1", start=start, nodes={n.id: n for n in nodes}, **settings)


def replace_node(flow: m.Flow, node: m.Node) -> m.Flow:
    return replace(flow, nodes={**flow.nodes, node.id: node})


def edit(flow: m.Flow, node_id: str, **changes: Any) -> m.Flow:
    """The flow with some fields of one node changed."""
    return replace_node(flow, replace(flow.nodes[node_id], **changes))




AT = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Asia/Shanghai


@dataclass
class Call:
    result: CallResult
    channel: ConsoleChannel
    observer: EventLog

    @property
    def heard(self) -> list[str]:
        return [h.prompt_id for h in self.channel.heard]


async def simulate(
    flow: m.Flow,
    script: str = "",
    *,
    typeahead: bool = False,
    caller: str | None = "13800000000",
    language: str | None = "en",
    variables: dict[str, str] | None = None,
    at: dt.datetime = AT,
    channel_options: dict[str, Any] | None = None,
    prompts_override: PromptCatalog | None = None,
    **run_options: Any,
) -> Call:
    info = CallInfo(call_id="call-1", caller=caller, language=language, variables=variables or {})
    channel = ConsoleChannel(info, parse_script(script), typeahead=typeahead, **(channel_options or {}))
    observer = run_options.pop("observer", None) or EventLog()
    settings = run_options.pop("settings", None) or RuntimeSettings(clock=lambda: at)
    result = await run_call(
        flow,
        channel,
        prompts=prompts_override or catalog(),
        observer=observer,
        settings=settings,
        channel_kind="console",
        **run_options,
    )
    return Call(result, channel, observer)
