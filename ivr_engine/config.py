"""Service settings: one YAML file plus environment variables.

Secrets never live in the file: the AMI secret, the dashboard token and the caller-hash key come
only from the environment, so the file can be committed and shared. Every other value may be
overridden by an `IVR_<SECTION>_<NAME>` variable (e.g. IVR_AGI_PORT=4600), which is what containers use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from ivr_engine.caller_id import NumberPlan


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the file and the setting."""


@dataclass(frozen=True, slots=True)
class AGISettings:
    host: str = "127.0.0.1"  # FastAGI has no authentication: never bind a public address
    port: int = 4573
    max_connections: int = 5000
    header_timeout: float = 5.0
    # Commands that play audio or wait for keys get their own, longer bound from the runtime.
    command_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class AMISettings:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "ivr-engine"
    secret: str = field(default="", repr=False)  # IVR_AMI_SECRET


@dataclass(frozen=True, slots=True)
class WebSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    token: str = field(default="", repr=False)  # IVR_WEB_TOKEN
    metrics_public: bool = True


@dataclass(frozen=True, slots=True)
class StatsSettings:
    url: str = "sqlite:///var/stats.db"
    spool_dir: str = "var/spool"
    caller_key_secret: str = field(default="", repr=False)  # IVR_STATS_CALLER_KEY_SECRET
    # The site's number plan: with a country code, callers are keyed by their number in E.164
    # (caller_id.NumberPlan); empty, as written.
    caller_country_code: str = ""
    caller_national_prefix: str = "0"
    caller_international_prefix: str = "00"

    @property
    def number_plan(self) -> NumberPlan | None:
        """Raises ValueError for a plan that is not digits (load_settings reports it)."""
        if not self.caller_country_code:
            return None
        return NumberPlan(self.caller_country_code, self.caller_national_prefix, self.caller_international_prefix)
    retention_days: int = 365  # 0 keeps visits forever


@dataclass(frozen=True, slots=True)
class Settings:
    # AGI script name (the path of agi://host/<name>) -> flow file; "default" serves unknown names.
    flows: Mapping[str, str] = field(default_factory=lambda: {"default": "flows/hotline-12320.yaml"})
    audio_dir: str = "prompts/audio"  # built prompt audio and its manifest.json
    voicemail_dir: str = "var/voicemail"
    log_level: str = "info"
    agi: AGISettings = AGISettings()
    ami: AMISettings = AMISettings()
    web: WebSettings = WebSettings()
    stats: StatsSettings = StatsSettings()
    base_dir: str = "."  # relative paths above are relative to the config file's folder

    def path(self, value: str) -> Path:
        candidate = Path(value)
        return candidate if candidate.is_absolute() else Path(self.base_dir) / candidate


_SECTIONS: dict[str, type] = {
    "agi": AGISettings,
    "ami": AMISettings,
    "web": WebSettings,
    "stats": StatsSettings,
}
_SECRETS = {("ami", "secret"), ("web", "token"), ("stats", "caller_key_secret")}


def _coerce(value: Any, like: Any, where: str) -> Any:
    if isinstance(like, bool):
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if isinstance(like, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}") from None
    if isinstance(like, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if isinstance(value, (dict, list)):
        raise ConfigError(f"{where}: expected a single value")
    return str(value)


def _section(cls: type, raw: Mapping[str, Any], name: str, env: Mapping[str, str], origin: str) -> Any:
    base = cls()
    known = {f.name for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{origin}: unknown setting {name}.{key}")
        if (name, key) in _SECRETS:
            raise ConfigError(
                f"{origin}: {name}.{key} is a secret; set IVR_{name.upper()}_{key.upper()} instead"
            )
    values = {}
    for f in fields(cls):
        env_name = f"IVR_{name.upper()}_{f.name.upper()}"
        current = getattr(base, f.name)
        if env_name in env:
            values[f.name] = _coerce(env[env_name], current, env_name)
        elif f.name in raw:
            values[f.name] = _coerce(raw[f.name], current, f"{origin}: {name}.{f.name}")
    return replace(base, **values)


def load_settings(path: Path | None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    origin = str(path) if path else "<defaults>"
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{origin}: cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            place = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
            raise ConfigError(f"{place}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{origin}: the top level must be a mapping of settings")
        raw = loaded
    top_level = {"flows", "audio_dir", "voicemail_dir", "log_level"}
    for key, value in raw.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {key} must be a mapping")
        elif key not in top_level:
            raise ConfigError(f"{origin}: unknown setting {key}")
    sections = {
        name: _section(cls, raw.get(name) or {}, name, env, origin) for name, cls in _SECTIONS.items()
    }
    try:
        sections["stats"].number_plan
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc} (stats.caller_*, or IVR_STATS_CALLER_*)") from None
    flows = raw.get("flows", Settings().flows)
    if not isinstance(flows, dict) or not all(isinstance(v, str) for v in flows.values()):
        raise ConfigError(f"{origin}: flows must map AGI script names to flow files")
    scalars: dict[str, Any] = {
        key: str(env.get(f"IVR_{key.upper()}", raw.get(key, getattr(Settings(), key))))
        for key in ("audio_dir", "voicemail_dir", "log_level")
    }
    return Settings(
        flows={str(k): v for k, v in flows.items()},
        base_dir=str(path.parent if path else Path.cwd()),
        **scalars,
        **sections,
    )
