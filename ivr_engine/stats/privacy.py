"""Callers are stored only as keyed hashes of their numbers.

HMAC-SHA256 under a secret the service holds (IVR_STATS_CALLER_KEY_SECRET): the same caller gets the
same key across calls (personal menus need that), but a stolen database or spool cannot be reversed
by hashing every phone number, as a plain hash could.

With a number plan (settings `stats.caller_country_code`, `caller_national_prefix` and
`caller_international_prefix`, or their IVR_STATS_* variables) a number is keyed in its E.164 form,
so one caller's `+86...`, `0086...` and national forms are one caller. Setting it on a site that
has statistics re-keys every caller whose number arrived in another form: the stored keys cannot
be reversed to be re-keyed, so their history and bookmarks start anew.

Without a secret the engine refuses to start, except in dev mode, which generates a random secret
into the data directory once and reuses it (so keys stay stable across restarts of a dev box).
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from ivr_engine.caller_id import NumberPlan, identifies
from ivr_engine.config import ConfigError, load_settings

SECRET_ENV = "IVR_STATS_CALLER_KEY_SECRET"
DEV_SECRET_FILE = "caller-key.secret"
MIN_SECRET_LENGTH = 16


class CallerSecretError(Exception):
    """No usable caller-hash secret (or number plan); the message says how to provide one."""


class CallerKeyer:
    def __init__(self, secret: str, plan: NumberPlan | None = None) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise CallerSecretError(
                f"the caller-hash secret must be at least {MIN_SECRET_LENGTH} characters ({SECRET_ENV})"
            )
        # Keyed once, copied per number. hmac.digest sets the key up again each time and lets go of
        # the GIL around OpenSSL, so the stats writer hashing thousands of callers waited for the GIL
        # again after each one while other threads ran.
        self._keyed = hmac.new(secret.encode(), digestmod="sha256")
        self.plan = plan

    def __repr__(self) -> str:
        return "CallerKeyer(<secret>)"

    def key(self, number: str) -> str:
        keyed = self._keyed.copy()
        keyed.update((self.plan.normalise(number) if self.plan else number.strip()).encode())
        return keyed.hexdigest()

    def key_or_none(self, number: str | None) -> str | None:
        """Withheld or empty numbers have no key: such calls count, but belong to nobody."""
        return self.key(number) if identifies(number) else None


def caller_keyer_from_env(*, dev_dir: Path | None = None, create: bool = True) -> CallerKeyer:
    """For the commands that read what an engine recorded: the secret and the number plan from the
    IVR_STATS_* variables, as the engine has them."""
    try:
        plan = load_settings(None).stats.number_plan
    except ConfigError as exc:
        raise CallerSecretError(str(exc)) from None
    return caller_keyer(os.environ.get(SECRET_ENV), plan=plan, dev_dir=dev_dir, create=create)


def caller_keyer(
    secret: str | None, *, plan: NumberPlan | None = None, dev_dir: Path | None = None, create: bool = True
) -> CallerKeyer:
    """The keyer for `secret`; with no secret, the dev secret kept in `dev_dir` (dev mode) or an error.

    `create=False` is for readers of what a dev-mode engine recorded: a secret made up there would
    key no caller the engine saw, so a missing one is an error naming where it was looked for.
    """
    if secret:
        return CallerKeyer(secret, plan)
    if dev_dir is None:
        raise CallerSecretError(
            f"no caller-hash secret: set {SECRET_ENV} (e.g. to the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or run in dev mode"
        )
    path = Path(dev_dir) / DEV_SECRET_FILE
    if not path.exists() and not create:
        raise CallerSecretError(
            f"{path}: no such file; a dev-mode engine keeps its generated caller-hash secret there "
            f"(its spool directory): give that directory, or set {SECRET_ENV}"
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    return CallerKeyer(path.read_text().strip(), plan)
