"""Who a message pings, following Discord's allowed_mentions rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_USER_RE = re.compile(r"<@!?(\d{15,21})>")
_ROLE_RE = re.compile(r"<@&(\d{15,21})>")


@dataclass
class Pings:
    pings: set[str] = field(default_factory=set)
    user_ids: list[int] = field(default_factory=list)
    role_ids: list[int] = field(default_factory=list)
    everyone: bool = False


def compute_pings(
    content: str | None,
    allowed_mentions: dict[str, Any] | None,
    *,
    replied_user_id: int | None = None,
    can_mention_everyone: bool = False,
    role_exists: Callable[[int], bool] = lambda _rid: True,
    role_mentionable: Callable[[int], bool] = lambda _rid: True,
    user_exists: Callable[[int], bool] = lambda _uid: True,
    in_guild: bool = True,
) -> Pings:
    """Compute the pings of a message.

    * No ``allowed_mentions`` at all: Discord's default, which parses users, roles and @everyone/@here
      from the text and pings the author of a replied-to message.
    * With ``allowed_mentions``: only the types in ``parse`` and the ids in ``users``/``roles`` ping;
      ``replied_user`` defaults to false.
    * @everyone/@here need the MENTION_EVERYONE permission; a role that is not mentionable pings only
      with MENTION_EVERYONE. Embeds never ping.
    """
    text = content or ""
    out = Pings()
    if allowed_mentions is None:
        parse = {"users", "roles", "everyone"}
        allowed_users: set[int] = set()
        allowed_roles: set[int] = set()
        replied = True
    else:
        parse = set(allowed_mentions.get("parse") or [])
        allowed_users = {int(u) for u in allowed_mentions.get("users") or [] if u is not None}
        allowed_roles = {int(r) for r in allowed_mentions.get("roles") or [] if r is not None}
        replied = bool(allowed_mentions.get("replied_user", False))

    for m in _USER_RE.finditer(text):
        uid = int(m.group(1))
        if not user_exists(uid):
            continue
        if ("users" in parse or uid in allowed_users) and uid not in out.user_ids:
            out.user_ids.append(uid)
    if replied and replied_user_id is not None and replied_user_id not in out.user_ids:
        out.user_ids.append(replied_user_id)

    if in_guild:
        for m in _ROLE_RE.finditer(text):
            rid = int(m.group(1))
            if not role_exists(rid) or rid in out.role_ids:
                continue
            if "roles" in parse or rid in allowed_roles:
                if role_mentionable(rid) or can_mention_everyone:
                    out.role_ids.append(rid)
        if "everyone" in parse and can_mention_everyone:
            if "@everyone" in text:
                out.pings.add("everyone")
                out.everyone = True
            if "@here" in text:
                out.pings.add("here")
                out.everyone = True

    out.pings.update(f"user:{u}" for u in out.user_ids)
    out.pings.update(f"role:{r}" for r in out.role_ids)
    return out
