"""Call variables: `${name}` substitution, and what of them may reach Asterisk.

Variables end up in dialplan arguments (Queue(), Dial(), CDR fields), where a newline breaks the AGI
line protocol and `,` `|` `$` `{` `}` `"` `\\` change what the dialplan does. So names are reduced to
dialplan identifiers and values to an allow-list of harmless characters before they leave the call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_VALUE_SAFE_PUNCTUATION = frozenset(" _.:@+=/-#*")
MAX_VALUE_LENGTH = 256


def substitute(template: str, variables: Mapping[str, str]) -> str:
    """`${name}` replaced by the variable's value; unknown names become empty."""
    return _REFERENCE.sub(lambda m: variables.get(m.group(1), ""), template)


def channel_name(name: str) -> str:
    """A dialplan variable name: ASCII letters, digits and `_`, not starting with a digit."""
    cleaned = _NAME_UNSAFE.sub("_", name)
    return f"_{cleaned}" if cleaned[:1].isdigit() else cleaned


def channel_value(value: str) -> str:
    """The value with every character outside the allow-list replaced by `_`, and bounded."""
    kept = "".join(ch if ch.isalnum() or ch in _VALUE_SAFE_PUNCTUATION else "_" for ch in value)
    return kept[:MAX_VALUE_LENGTH]
