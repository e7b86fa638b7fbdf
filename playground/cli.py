"""`marquee playground`: type slash commands at a prompt and read the real bot's answers.

It starts the loopback Discord with the demo server (Wick Fans: ada the admin, max the member,
#general, #release-news, #rules, the forum #release-forum), connects the real bot with a temporary database (or
`--database PATH`) and a clock that only moves when told (`:clock +7d`), and turns each line into an
interaction: `/release title:Ballerina` becomes `dc.run_command(guild, channel, member, "release",
{"title": "Ballerina"})`. Answers, and anything the bot posts in the server's channels, are printed
as text (see playground/transcript.py). `--script FILE` runs lines from a file (or `-`, standard
input) and prints the transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import difflib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from playground.transcript import buttons, clock_time, describe_pings, render_message

log = logging.getLogger("marquee.playground")

PROMPT = "marquee> "
QUOTES = {'"': '"', "'": "'", "“": "”"}  # typographic quotes: what phones type
OPTION_TOKEN = re.compile(r"([A-Za-z0-9_-]+):")
OPTION_TYPE_NAMES = {3: "text", 4: "integer", 5: "true/false", 6: "@member", 7: "#channel", 8: "@role",
                     9: "@member or @role", 10: "number", 11: "file path"}
ANSWER_TIMEOUT = 10.0  # the loopback returns 2 s after Discord's 3-second deadline when nothing came
POST_WAIT = 0.5  # after moving the clock: how long to wait for countdown posts to start
POST_QUIET = 0.25  # ... and how long the channels must stay quiet before printing them
POST_WAIT_MAX = 3.0

# ---------------------------------------------------------------------------- parsing (pure)


class ParseError(ValueError):
    """A line that cannot become an interaction: the message says what to type instead."""


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    path: tuple[str, ...]  # ("release",) or ("reminders", "add") or ("group", "sub", "subsub")
    options: dict[str, str]  # option name -> the text typed (quotes removed)
    definition: dict[str, Any] = field(repr=False)  # the leaf: the command or subcommand with "options"

    @property
    def name(self) -> str:
        return " ".join(self.path)

    def option(self, name: str) -> dict[str, Any]:
        return next(o for o in self.definition.get("options") or [] if o["name"] == name)


def command_tree(commands: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Slash commands by name (guild commands first, so they win over global ones of the same name)."""
    tree: dict[str, dict[str, Any]] = {}
    for cmd in commands:
        if cmd.get("type", 1) == 1:
            tree.setdefault(cmd["name"].lower(), cmd)
    return tree


def subcommands(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["name"].lower(): o for o in node.get("options") or [] if o.get("type") in (1, 2)}


def leaf_options(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in node.get("options") or [] if o.get("type") not in (1, 2)]


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]}?" if close else ""


def parse_command(line: str, commands: Iterable[dict[str, Any]] | dict[str, dict[str, Any]]) -> ParsedCommand:
    """`/name [group] [sub] opt:value opt2:"quoted value" opt3:several words` -> a ParsedCommand.

    Which words are subcommands and which are option names comes from the registered command tree
    (the dicts Discord stores). An option's value runs until the next `name:` word that is an option
    of that command, so values may contain spaces and colons (`title:Mission: Impossible`); quotes
    are needed only to keep a value's surrounding spaces or to type a word like `region:` in it.
    """
    tree = commands if isinstance(commands, dict) else command_tree(commands)
    text = line.strip()
    if not text.startswith("/"):
        raise ParseError("a command starts with /, for example /release title:Ballerina (:help lists them)")
    match = re.match(r"/(\S*)", text)
    assert match is not None
    name = match.group(1).lower()
    rest = text[match.end():]
    if not name:
        raise ParseError("type a command name after the /, for example /release title:Ballerina")
    node = tree.get(name)
    if node is None:
        raise ParseError(f"there is no command /{name}.{_suggest(name, tree)} (:help lists the commands)")
    path = [node["name"]]
    while subs := subcommands(node):
        word_match = re.match(r"\s*(\S+)", rest)
        word = word_match.group(1) if word_match else ""
        sub = subs.get(word.lower())
        if sub is None:
            listed = ", ".join(sorted(s["name"] for s in subs.values()))
            shown = f"/{' '.join(path)}"
            if not word:
                raise ParseError(f"{shown} needs one of: {listed} (for example {shown} {sorted(subs)[0]})")
            hint = _suggest(word, subs)
            raise ParseError(f"{shown} has no subcommand {word!r}.{hint} It has: {listed}")
        assert word_match is not None
        path.append(sub["name"])
        rest = rest[word_match.end():]
        node = sub
    options = split_options(rest, [o["name"] for o in leaf_options(node)], command="/" + " ".join(path))
    for opt in leaf_options(node):
        if opt.get("required") and opt["name"] not in options:
            raise ParseError(f"/{' '.join(path)} needs {opt['name']}:, for example "
                             f"/{' '.join(path)} {opt['name']}:{_example_value(opt)}")
    return ParsedCommand(tuple(path), options, node)


def _example_value(opt: dict[str, Any]) -> str:
    if opt.get("choices"):
        return str(opt["choices"][0]["value"])
    return {3: "…", 4: "1", 5: "true", 6: "@max", 7: "#general", 8: "@Moderators", 9: "@max", 10: "1.5",
            11: "pack.toml"}.get(opt.get("type", 3), "…")


def split_options(text: str, names: Sequence[str], *, command: str = "the command") -> dict[str, str]:
    """`title:John Wick region:US` -> {"title": "John Wick", "region": "US"} (names: the option names)."""
    canonical = {n.lower(): n for n in names}
    found: dict[str, str] = {}
    current: str | None = None  # the option whose unquoted value is being read
    start = 0  # where that value started
    quoted: str | None = None  # the option whose quoted value was read last
    i = 0

    def close(end: int) -> None:
        if current is not None:
            value = text[start:end].strip()
            if not value:
                raise ParseError(f"{current}: needs a value, for example {current}:Ballerina")
            found[current] = value

    def option_at(j: int) -> re.Match[str] | None:
        if j > 0 and not text[j - 1].isspace():
            return None
        m = OPTION_TOKEN.match(text, j)
        return m if m and m.group(1).lower() in canonical else None

    def stray(j: int) -> None:
        word = text[j:].split()[0]
        if quoted is not None:
            raise ParseError(f"unexpected {text[j:].strip()!r} after the quoted value of {quoted}: "
                             "put it inside the quotes, or write it as another option")
        m = OPTION_TOKEN.match(word)
        listed = ", ".join(names) if names else "no options"
        if m:
            raise ParseError(f"{command} has no option {m.group(1)!r}.{_suggest(m.group(1), canonical)} "
                             f"Its options: {listed}")
        if not names:
            raise ParseError(f"{command} takes no options; remove {text[j:].strip()!r}")
        raise ParseError(f"options are written name:value; {command} has {listed} "
                         f"(for example {command} {names[0]}:{text[j:].strip()})")

    while i < len(text):
        m = option_at(i)
        if m is None:
            if current is None and not text[i].isspace():
                stray(i)
            i += 1
            continue
        close(i)
        current = quoted = None
        name = canonical[m.group(1).lower()]
        if name in found:
            raise ParseError(f"{name}: is given twice")
        i = m.end()
        if i < len(text) and text[i] in QUOTES:
            end = _closing_quote(text, i)
            if end is not None:
                found[name] = re.sub(r"\\(.)", r"\1", text[i + 1:end])
                quoted = name
                i = end + 1
                continue
        current, start = name, i
    close(len(text))
    return found


def _closing_quote(text: str, opening: int) -> int | None:
    """The index of the quote that closes the one at `opening` (followed by a space or the end)."""
    closing = QUOTES[text[opening]]
    j = opening + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == closing and (j + 1 == len(text) or text[j + 1].isspace()):
            return j
        j += 1
    return None


def convert_scalar(opt: dict[str, Any], raw: str) -> Any:
    """A typed value for string, integer, number and boolean options (choices by value or by name)."""
    otype = opt.get("type", 3)
    name = opt["name"]
    choices = opt.get("choices") or []
    if choices:
        for choice in choices:
            if raw == str(choice["value"]) or raw.lower() in (str(choice["value"]).lower(), choice["name"].lower()):
                return choice["value"]
        listed = ", ".join(str(c["value"]) for c in choices)
        raise ParseError(f"{name}: must be one of {listed}; not {raw!r}")
    if otype == 4:
        try:
            return int(raw)
        except ValueError:
            raise ParseError(f"{name}: needs a whole number, not {raw!r}") from None
    if otype == 10:
        try:
            return float(raw)
        except ValueError:
            raise ParseError(f"{name}: needs a number, not {raw!r}") from None
    if otype == 5:
        lowered = raw.lower()
        if lowered in ("true", "yes", "y", "on", "1"):
            return True
        if lowered in ("false", "no", "n", "off", "0"):
            return False
        raise ParseError(f"{name}: needs true or false, not {raw!r}")
    return raw


def parse_clock(arg: str, now: dt.datetime) -> dt.datetime:
    """`+7d`, `+12h`, `+30m`, `+1w2d`, `-1d`, `2027-01-01` (midnight UTC), `2027-01-01 09:00`, `now`."""
    arg = arg.strip()
    if arg.lower() == "now":
        return dt.datetime.now(dt.UTC)
    m = re.fullmatch(r"([+-])\s*((?:\d+\s*[wdhms]\s*)+)", arg.lower())
    if m:
        delta = dt.timedelta()
        units = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
        for amount, unit in re.findall(r"(\d+)\s*([wdhms])", m.group(2)):
            delta += dt.timedelta(**{units[unit]: int(amount)})
        return now + delta if m.group(1) == "+" else now - delta
    try:
        when = dt.datetime.fromisoformat(arg.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d \d", arg) else arg)
    except ValueError:
        raise ParseError(f"{arg!r} is not a time: use +7d, +12h, +30m, -1d, 2027-01-01, "
                         "2027-01-01 09:00 or now") from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def describe_delta(delta: dt.timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds == 0:
        return "not moved"
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    units = ((days, "day"), (hours, "hour"), (minutes, "minute"), (seconds, "second"))
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in units if n][:2]
    return ("moved forward " if delta > dt.timedelta() else "moved back ") + " ".join(parts)


def script_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for each line to run: blank lines and `#` comments are skipped."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append((number, line))
    return out


# ---------------------------------------------------------------------------- the session

META_HELP = [
    (":as admin | member", "who types: ada (Moderators, Manage Server) or max (a member)"),
    (":in #channel", "where you type: #general, #release-news or #rules (#release-forum is a forum)"),
    (":click LABEL", "press a button on the bot's latest message with buttons, e.g. :click Next"),
    (":clock [+7d | +12h | +30m | 2027-01-01 | now]", "show or move the bot's clock; posts it makes are shown"),
    (":help [command]", "this list, or one command's options"),
    (":quit", "leave (Ctrl-D works too)"),
]


class Playground:
    """One person at the demo server: runs lines, prints what the bot does. Failures return False."""

    def __init__(self, dc: Any, demo: Any, clock: Any, out: TextIO) -> None:
        self.dc = dc
        self.demo = demo
        self.guild = demo.guild
        self.clock = clock
        self.out = out
        self.tree = command_tree([*dc.commands(self.guild), *dc.commands(None)])
        self.actor = demo.member
        self.channel = demo.general
        self.shown: list[Any] = []  # the bot's messages printed so far (:click presses the latest with buttons)
        self.seen: set[int] = set()
        self.spec_seen = len(dc.spec_violations)
        self.completion_labels: dict[str, str] = {}  # completed line -> how the Tab listing shows it
        self.mark_seen()

    # -- output

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def error(self, text: str) -> bool:
        self.write(f"error: {text}")
        return False

    def names(self, kind: str, ident: int) -> str | None:
        if kind == "role":
            role = self.guild.roles.get(ident)
            if role is not None and role.id == self.guild.id:
                return "everyone"
            return role.name if role is not None else None
        if kind == "channel":
            channel = self.dc.get_channel(ident)
            return channel.name if channel is not None else None
        user = self.dc.users.get(ident)
        if user is None:
            return None
        member = self.guild.members.get(ident)
        return member.display_name if member is not None else user.name

    def show(self, header: str, message: Any) -> None:
        self.write(header)
        for line in render_message(message, self.clock.now(), self.names):
            self.write(line)
        if message in self.shown:
            self.shown.remove(message)
        self.shown.append(message)

    def where(self, message: Any) -> str:
        channel = self.dc.get_channel(message.channel_id)
        return f"#{channel.name}" if channel is not None else "a direct message"

    @property
    def role_label(self) -> str:
        return "admin" if self.actor is self.demo.admin else "member"

    # -- lines

    async def execute(self, line: str) -> bool:
        """Run one line. True when it ran (a user error answered by the bot counts as ran)."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        try:
            if line.startswith(":"):
                ok = await self.meta(line)
            elif line.startswith("/"):
                ok = await self.slash(line)
            else:
                ok = self.error("type a slash command (/release title:Ballerina) or a playground command (:help)")
        except ParseError as exc:
            ok = self.error(str(exc))
        except (EOFError, KeyboardInterrupt, asyncio.CancelledError):
            raise
        except Exception as exc:  # a playground bug or a lost connection: say so, keep the session going
            log.exception("the playground failed on %r", line)
            ok = self.error(f"the playground could not run this line: {exc!r}")
        if not line.startswith(":clock"):
            await asyncio.sleep(0.05)  # let anything the command set off reach the loopback
        self.report_posts()
        self.report_spec_violations()
        return ok

    async def slash(self, line: str) -> bool:
        parsed = parse_command(line, self.tree)
        options = {name: self.convert(parsed.option(name), raw) for name, raw in parsed.options.items()}
        try:
            result = await self.dc.run_command(self.guild, self.channel, self.actor, parsed.name, options,
                                               timeout=ANSWER_TIMEOUT, followup_timeout=ANSWER_TIMEOUT)
        except PermissionError as exc:  # the loopback's CommandUnavailable: Discord would not offer it
            hint = "" if self.actor is self.demo.admin else " (try :as admin)"
            return self.error(f"/{parsed.name} is not available to {self.actor.name} here{hint}: {exc}")
        except ValueError as exc:
            return self.error(f"Discord would not send this: {exc}")
        return await self.show_result(result)

    def convert(self, opt: dict[str, Any], raw: str) -> Any:
        otype = opt.get("type", 3)
        if otype in (3, 4, 5, 10):
            return convert_scalar(opt, raw)
        if otype == 7:
            channel = self._find(self.guild.channels.values(), raw.removeprefix("#"), lambda c: c.name)
            if channel is None:
                raise ParseError(f"{opt['name']}: there is no channel {raw!r}; the server has "
                                 + ", ".join(f"#{c.name}" for c in self.guild.channels.values() if not c.deleted))
            return channel
        if otype == 11:
            path = Path(raw).expanduser()
            try:
                return self.dc.attachment(path.name, path.read_bytes())
            except OSError as exc:
                raise ParseError(f"{opt['name']}: cannot read {raw}: {exc.strerror}") from None
        wanted = raw.removeprefix("@")
        if otype in (8, 9):
            if wanted.lower() == "everyone":
                return self.guild.everyone
            role = self._find(self.guild.roles.values(), wanted, lambda r: r.name)
            if role is not None:
                return role
        if otype in (6, 9):
            member = self._find(self.guild.members.values(), wanted,
                                lambda m: m.user.username, lambda m: m.display_name)
            if member is not None:
                return member
        kinds = {6: "member", 8: "role", 9: "member or role"}.get(otype, "value")
        roles = ", ".join(f"@{r.name}" for r in self.guild.roles.values() if r.id != self.guild.id)
        members = ", ".join(f"@{m.user.username}" for m in self.guild.members.values())
        known = {6: members, 8: roles, 9: f"{members}, {roles}"}.get(otype, "")
        raise ParseError(f"{opt['name']}: there is no {kinds} {raw!r}; the server has {known}")

    @staticmethod
    def _find(items: Iterable[Any], wanted: str, *keys: Callable[[Any], str]) -> Any:
        items = [i for i in items if not getattr(i, "deleted", False)]
        for exact in (True, False):
            for item in items:
                for key in keys:
                    value = key(item)
                    if value == wanted if exact else value.lower() == wanted.lower():
                        return item
        if wanted.isdigit():
            return next((i for i in items if i.id == int(wanted)), None)
        return None

    async def show_result(self, result: Any, *, clicked: bool = False) -> bool:
        """Print an interaction's answer. False when the bot did not answer or something broke."""
        from bot.tree import INTERNAL_ERROR

        ok = True
        rtype = result.type
        if rtype is None:
            self.write("Marquee did not answer (Discord shows: \"The application did not respond\").")
            ok = False
        elif rtype == 8:
            self.write("Marquee answered with suggestions, not a message.")
        elif rtype == 9:
            modal = result.modal or {}
            self.write(f"Marquee opened a form: {modal.get('title', '')} (forms cannot be filled in here yet)")
        elif clicked and rtype in (6, 7):
            message = result.message
            if rtype == 6:
                with contextlib.suppress(TimeoutError):
                    message = await result.wait_for_edit(timeout=3)
            if message is not None:
                self.show("Marquee updated the message:", message)
        messages = result.messages if rtype in (4, 5) else result.followups
        for index, message in enumerate(messages):
            verb = "replied" if index == 0 and rtype in (4, 5) else "followed up"
            if message.loading:
                self.write("Marquee is still thinking… (it deferred and never sent the answer)")
                ok = False
                continue
            header = (f"[ephemeral] Marquee {verb}:" if message.ephemeral
                      else f"Marquee {verb} in {self.where(message)}:")
            if message.pings:
                header += f" (notified {describe_pings(message.pings, self.names)})"
            self.show(header, message)
            if message.content == INTERNAL_ERROR:
                self.write("(that is the bot's answer to an internal error: see the log on standard error)")
                ok = False
        if result.timed_out and rtype is not None:
            self.write("Marquee took too long: the interaction was not completed in time.")
            ok = False
        for err in result.errors:
            self.write(f"Discord error {err.get('code')} ({err.get('message')}) on the bot's "
                       f"{err.get('where', 'request')}: the member saw \"This interaction failed\"")
            ok = False
        return ok

    # -- meta commands

    async def meta(self, line: str) -> bool:
        word, _, arg = line[1:].partition(" ")
        word, arg = word.lower(), arg.strip()
        if word in ("help", "h", "?"):
            return self.help(arg)
        if word == "as":
            return self.switch_actor(arg)
        if word == "in":
            return self.switch_channel(arg)
        if word == "click":
            return await self.click(arg)
        if word == "clock":
            return await self.move_clock(arg)
        if word in ("quit", "exit", "q"):
            raise EOFError
        return self.error(f"there is no :{word}.{_suggest(word, ['help', 'as', 'in', 'click', 'clock', 'quit'])} "
                          "(:help lists them)")

    def help(self, arg: str) -> bool:
        if arg:
            name = arg.removeprefix("/").split()[0].lower()
            node = self.tree.get(name)
            if node is None:
                return self.error(f"there is no command /{name}.{_suggest(name, self.tree)}")
            self._help_command(node, [node["name"]], detailed=True)
            return True
        self.write("Type a slash command the way you would in Discord, options as name:value:")
        self.write("  /release title:Ballerina")
        self.write("  /crew title:John Wick 4 department:Writing    values may contain spaces")
        self.write('  /person name:"Lance Reddick"                  quotes are optional')
        self.write("Channels are typed #name, roles and members @name. Tab completes (at the prompt).")
        self.write("")
        self.write(f"Commands ({self.actor.name} is {'an admin' if self.role_label == 'admin' else 'a member'}):")
        for node in sorted(self.tree.values(), key=lambda c: c["name"]):
            self._help_command(node, [node["name"]], detailed=False)
        self.write("")
        self.write("Playground commands:")
        for syntax, meaning in META_HELP:
            self.write(f"  {syntax:<46} {meaning}")
        self.write(f"Now: {self.actor.name} ({self.role_label}) in #{self.channel.name}; "
                   f"the bot's clock: {clock_time(self.clock.now())}")
        return True

    def _help_command(self, node: dict[str, Any], path: list[str], *, detailed: bool) -> None:
        subs = subcommands(node)
        if subs:
            for sub in subs.values():
                self._help_command(sub, [*path, sub["name"]], detailed=detailed)
            return
        root = self.tree[path[0]]
        admin = " (admins)" if root.get("default_member_permissions") not in (None, "0") else ""
        usage = " ".join(_usage(o) for o in leaf_options(node))
        self.write(f"  /{' '.join(path)} {usage}".rstrip() + f"  — {node.get('description', '')}{admin}")
        if detailed:
            for opt in leaf_options(node):
                kind = OPTION_TYPE_NAMES.get(opt.get("type", 3), "text")
                extra = [kind, "required" if opt.get("required") else "optional"]
                if opt.get("autocomplete"):
                    extra.append("suggestions with Tab")
                self.write(f"      {opt['name']}: {opt.get('description', '')} ({', '.join(extra)})")

    def switch_actor(self, arg: str) -> bool:
        wanted = arg.lower().removeprefix("@")
        if wanted in ("admin", self.demo.admin.name.lower()):
            self.actor = self.demo.admin
        elif wanted in ("member", self.demo.member.name.lower()):
            self.actor = self.demo.member
        else:
            return self.error(":as admin (ada, Moderators, Manage Server) or :as member (max)")
        roles = ", ".join(r.name for r in self.actor.roles if r.id != self.guild.id)
        self.write(f"You are {self.actor.name} ({self.role_label}; roles: {roles or 'none'}) in #{self.channel.name}.")
        return True

    def switch_channel(self, arg: str) -> bool:
        channels = [c for c in self.guild.channels.values() if not c.deleted and c.type == 0]
        channel = self._find(channels, arg.removeprefix("#"), lambda c: c.name)
        if channel is None:
            return self.error("which channel? " + ", ".join(f"#{c.name}" for c in channels))
        self.channel = channel
        self.write(f"You are in #{channel.name} (as {self.actor.name}).")
        return True

    async def click(self, label: str) -> bool:
        target = self.clickable()
        if target is None:
            return self.error("none of the bot's messages so far has buttons")
        found = buttons(target.components or [])
        wanted = label.lower()
        button = next((b for b in found if str(b.get("label", "")).lower() == wanted), None) or next(
            (b for b in found if b.get("custom_id") == label), None)
        listed = " ".join(f"[{b.get('label') or b.get('custom_id')}]" for b in found)
        if not label or button is None:
            return self.error(f":click one of {listed}")
        if button.get("disabled"):
            return self.error(f"[{button.get('label')}] is disabled")
        if button.get("style") == 5 or not button.get("custom_id"):
            return self.error(f"[{button.get('label')}] is a link to {button.get('url')}, it does not reach the bot")
        try:
            result = await self.dc.click(target, button["custom_id"], member=self.actor,
                                         timeout=ANSWER_TIMEOUT, followup_timeout=ANSWER_TIMEOUT)
        except ValueError as exc:
            return self.error(str(exc))
        return await self.show_result(result, clicked=True)

    def clickable(self) -> Any:
        """The latest message shown that still has buttons (on Discord you can press those of any message)."""
        return next((m for m in reversed(self.shown) if not m.deleted and buttons(m.components or [])), None)

    async def move_clock(self, arg: str) -> bool:
        before = self.clock.now()
        if not arg:
            self.write(f"The bot's clock: {clock_time(before)}")
            return True
        after = parse_clock(arg, before)
        self.report_posts()
        self.clock.set(after)
        self.write(f"The bot's clock: {clock_time(after)} ({describe_delta(after - before)})")
        if not await self.wait_for_posts():
            self.write("(nothing posted)")
        return True

    # -- what the bot does by itself

    def channel_posts(self) -> list[Any]:
        """The bot's own messages (not interaction answers) in the server's channels and the members' DMs."""
        out = []
        for channel in self.guild.channels.values():
            out += self.dc.messages(channel, include_interactions=False)
        for member in (self.demo.admin, self.demo.member):
            out += self.dc.dm_messages(member)
        return sorted(out, key=lambda m: m.id)

    def mark_seen(self) -> None:
        self.seen.update(m.id for m in self.channel_posts())

    def report_posts(self) -> int:
        new = [m for m in self.channel_posts() if m.id not in self.seen]
        for message in new:
            self.seen.add(message.id)
            channel = self.dc.get_channel(message.channel_id)
            if channel is None or channel.guild is None:
                user = next((m.name for m in (self.demo.admin, self.demo.member)
                             if message in self.dc.dm_messages(m)), "someone")
                header = f"Marquee sent {user} a direct message:"
            else:
                parent = channel.parent if channel.is_thread else None
                where = f"#{parent.name} › {channel.name}" if parent is not None else f"#{channel.name}"
                header = f"Marquee posted in {where}:"
            if message.deleted:
                header += " (since deleted)"
            if message.pings:
                header += f" (notified {describe_pings(message.pings, self.names)})"
            self.show(header, message)
        return len(new)

    async def wait_for_posts(self) -> int:
        """After the clock moved: wait briefly for posts, then until the channels are quiet; print them."""
        loop = asyncio.get_running_loop()
        start = last_change = loop.time()
        count = len(self.channel_posts())
        while True:
            await asyncio.sleep(0.05)
            now = loop.time()
            current = len(self.channel_posts())
            if current != count:
                count, last_change = current, now
            waited_long_enough = now - start >= POST_WAIT
            quiet = now - last_change >= POST_QUIET
            if (waited_long_enough and quiet) or now - start >= POST_WAIT_MAX:
                break
        return self.report_posts()

    def report_spec_violations(self) -> None:
        violations = self.dc.spec_violations[self.spec_seen:]
        self.spec_seen += len(violations)
        for violation in violations:
            self.write(f"warning: the bot sent a request Discord's API description rejects: {violation}")

    # -- tab completion (runs on the input thread; asks the bot through the event loop)

    def complete(self, buffer: str, loop: asyncio.AbstractEventLoop) -> list[str]:
        """Full-line candidates for the text before the cursor (`self.completion_labels` says how to list them)."""
        try:
            replace, candidates = self._completions(buffer, loop)
        except Exception:  # a completion problem must never break the prompt
            return []
        head = buffer[:len(buffer) - replace]
        self.completion_labels = {head + c: label for c, label in candidates}
        lines = list(self.completion_labels)
        if len(lines) > 1 and not os.path.commonprefix(lines).startswith(buffer):  # noqa: RUF071 (characters)
            # Readline would replace what was typed with the suggestions' common start (`jw4` -> `john-wick`).
            # With one candidate that shares no first character, it keeps the text and lists them.
            lines.append(" ")
        return lines

    def _completions(self, buffer: str, loop: asyncio.AbstractEventLoop) -> tuple[int, list[tuple[str, str]]]:
        """How many characters at the end of `buffer` to replace, and (replacement, label) pairs."""
        if buffer.startswith(":"):
            return self._meta_completions(buffer)
        if not buffer.startswith("/"):
            return (0, [("/", "/")]) if not buffer else (0, [])
        m = re.match(r"/(\S*)$", buffer)
        if m:
            word = m.group(1)
            return len(word), [(n + " ", "/" + n) for n in sorted(self.tree) if n.startswith(word.lower())]
        name, _, rest = buffer[1:].partition(" ")
        node = self.tree.get(name.lower())
        if node is None:
            return 0, []
        path = [node["name"]]
        while subs := subcommands(node):
            word, sep, after = rest.lstrip().partition(" ")
            if not sep:
                return len(word), [(n + " ", n) for n in sorted(subs) if n.startswith(word.lower())]
            node = subs.get(word.lower())
            if node is None:
                return 0, []
            path.append(node["name"])
            rest = after
        options = leaf_options(node)
        by_name = {o["name"].lower(): o for o in options}
        tokens = [t for t in re.finditer(r"(?:^|(?<=\s))([A-Za-z0-9_-]+):", rest) if t.group(1).lower() in by_name]
        used = {t.group(1).lower() for t in tokens}
        word = re.search(r"(\S*)$", rest).group(1)  # type: ignore[union-attr]
        unused = [(o["name"] + ":", f"{_usage(o)}  {o.get('description', '')}") for o in options
                  if o["name"].lower() not in used and o["name"].lower().startswith(word.lower())]
        if not tokens or (word and ":" not in word and unused) or (rest.endswith(" ") and unused):
            return len(word), unused
        last = tokens[-1]
        opt = by_name[last.group(1).lower()]
        partial = rest[last.end():]
        values = self._value_completions(path, node, opt, rest[:last.start()], partial, loop)
        if not opt.get("autocomplete") or opt.get("choices"):  # the bot filters its own suggestions
            values = [(v, label) for v, label in values if v.lower().startswith(partial.strip().lower())]
        if not values:
            return (len(word), unused) if partial.endswith(" ") or not partial else (0, [])
        return len(partial), [(v + " ", label) for v, label in values]

    def _meta_completions(self, buffer: str) -> tuple[int, list[tuple[str, str]]]:
        words = ["help", "as", "in", "click", "clock", "quit"]
        m = re.match(r":(\S*)$", buffer)
        if m:
            return len(m.group(1)), [(w + " ", ":" + w) for w in words if w.startswith(m.group(1).lower())]
        word, _, arg = buffer[1:].partition(" ")
        choices: list[str] = []
        if word == "as":
            choices = ["admin", "member"]
        elif word == "in":
            choices = [f"#{c.name}" for c in self.guild.channels.values() if not c.deleted and c.type == 0]
        elif word == "click" and (target := self.clickable()) is not None:
            choices = [str(b.get("label")) for b in buttons(target.components or []) if not b.get("disabled")]
        elif word == "clock":
            choices = ["+1d", "+7d", "+12h", "+30m", "now"]
        elif word == "help":
            choices = sorted(self.tree)
        return len(arg), [(c, c) for c in choices if c.lower().startswith(arg.lower())]

    def _value_completions(self, path: list[str], node: dict[str, Any], opt: dict[str, Any], before: str,
                           partial: str, loop: asyncio.AbstractEventLoop) -> list[tuple[str, str]]:
        otype = opt.get("type", 3)
        if opt.get("choices"):
            return [(str(c["value"]), str(c["name"])) for c in opt["choices"]]
        if otype == 5:
            return [("true", "true"), ("false", "false")]
        if otype == 7:
            return [(f"#{c.name}", f"#{c.name}") for c in self.guild.channels.values() if not c.deleted and c.type == 0]
        if otype in (6, 8, 9):
            members = [f"@{m.user.username}" for m in self.guild.members.values()] if otype != 8 else []
            roles = [f"@{r.name}" for r in self.guild.roles.values() if r.id != self.guild.id] if otype != 6 else []
            return [(v, v) for v in members + roles]
        if not opt.get("autocomplete"):
            return []
        options: dict[str, Any] = {}
        try:
            others = split_options(before, [o["name"] for o in leaf_options(node)])
        except ParseError:
            others = {}
        for other in leaf_options(node):
            if other["name"] in others:
                with contextlib.suppress(ParseError):
                    options[other["name"]] = self.convert(other, others[other["name"]])
            elif other.get("required") and other["name"] != opt["name"]:
                options[other["name"]] = self._placeholder(other)
        options[opt["name"]] = partial.strip()
        future = asyncio.run_coroutine_threadsafe(
            self.dc.autocomplete(self.guild, self.channel, self.actor, " ".join(path), options,
                                 focused=opt["name"], timeout=2), loop)
        choices = future.result(timeout=2.5)
        # Discord sends the chosen suggestion's value; the listing shows the names the bot gave them.
        return [(str(c["value"]), f"{c['value']}  ({c['name']})") for c in choices]

    def _placeholder(self, opt: dict[str, Any]) -> Any:
        otype = opt.get("type", 3)
        if opt.get("choices"):
            return opt["choices"][0]["value"]
        return {4: 0, 5: False, 6: self.actor, 7: self.channel, 8: self.guild.everyone, 9: self.actor,
                10: 0.0}.get(otype, "")


def _usage(opt: dict[str, Any]) -> str:
    if opt.get("choices"):
        value = "|".join(str(c["value"]) for c in opt["choices"][:6]) + ("|…" if len(opt["choices"]) > 6 else "")
    else:
        value = {4: "N", 5: "true|false", 6: "@member", 7: "#channel", 8: "@role", 9: "@member|@role",
                 10: "N", 11: "FILE"}.get(opt.get("type", 3), "…")
    text = f"{opt['name']}:{value}"
    return text if opt.get("required") else f"[{text}]"


# ---------------------------------------------------------------------------- running it


async def _read_line(prompt: str) -> str:
    """input() on a daemon thread, so Ctrl-C or the end of the program never waits for a keypress."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = input(prompt)
        except BaseException as exc:  # EOFError (Ctrl-D) and the like go to the loop
            loop.call_soon_threadsafe(lambda error=exc: future.done() or future.set_exception(error))
        else:
            loop.call_soon_threadsafe(lambda: future.done() or future.set_result(line))

    threading.Thread(target=read, name="playground-input", daemon=True).start()
    return await future


def _install_completion(playground: Playground, loop: asyncio.AbstractEventLoop) -> None:
    try:
        import readline
    except ImportError:  # Windows without pyreadline: no completion, the prompt still works
        return
    matches: list[str] = []

    def completer(text: str, state: int) -> str | None:
        nonlocal matches
        if state == 0:
            matches = playground.complete(readline.get_line_buffer()[:readline.get_endidx()], loop)
        return matches[state] if state < len(matches) else None

    def display(substitution: str, candidates: Sequence[str], longest: int) -> None:
        print()
        shown = set(candidates)
        for candidate, label in playground.completion_labels.items():  # in the bot's order, not sorted
            if candidate in shown:
                print(f"  {label}")
        print(PROMPT + readline.get_line_buffer(), end="", flush=True)

    readline.set_completer_delims("")
    readline.set_completer(completer)
    with contextlib.suppress(Exception):
        readline.set_completion_display_matches_hook(display)
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")


def _quiet_logging() -> None:
    """Warnings and errors only (on standard error); discord.py's start-up notes are normal, so hidden."""
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("discord").setLevel(logging.WARNING)
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "PyNaCl is not installed, voice ..."


async def _session(database: Path, lines: list[tuple[int, str]] | None, out: TextIO) -> int:
    from bot.clock import ManualClock
    from playground.loopback import LoopbackDiscord
    from playground.session import add_demo_server, running_bot

    clock = ManualClock(dt.datetime.now(dt.UTC))
    async with LoopbackDiscord() as dc:
        demo = add_demo_server(dc)
        async with running_bot(dc, database=database, clock=clock, guilds=(demo.guild,)):
            playground = Playground(dc, demo, clock, out)
            if lines is None:
                return await _interactive(playground)
            return await _scripted(playground, lines)


async def _interactive(playground: Playground) -> int:
    playground.write(f"Marquee playground: the server “{playground.guild.name}”, you are "
                     f"{playground.actor.name} (a member) in #{playground.channel.name}; "
                     f"the bot's clock says {clock_time(playground.clock.now())}.")
    playground.write("Try /release title:Ballerina, or :help. Tab completes; :quit or Ctrl-D leaves.")
    _install_completion(playground, asyncio.get_running_loop())
    while True:
        try:
            line = await _read_line(PROMPT)
        except EOFError:
            playground.write()
            return 0
        try:
            await playground.execute(line)
        except EOFError:
            return 0


async def _scripted(playground: Playground, lines: list[tuple[int, str]]) -> int:
    failed: list[int] = []
    for number, line in lines:
        playground.write(f"{PROMPT}{line}")
        try:
            ok = await playground.execute(line)
        except EOFError:  # :quit
            break
        if not ok:
            failed.append(number)
        playground.write()
    if failed:
        print(f"marquee playground: {len(failed)} line(s) failed: "
              + ", ".join(f"line {n}" for n in failed), file=sys.stderr)
        return 1
    return 0


def run_playground(database: Path | None, script: str | None) -> int:
    """`marquee playground [--database PATH] [--script FILE|-]`; the exit code."""
    _quiet_logging()
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    lines: list[tuple[int, str]] | None = None
    if script is not None or not sys.stdin.isatty():
        try:
            text = sys.stdin.read() if script in (None, "-") else Path(script).read_text(encoding="utf-8")
        except OSError as exc:
            print(f"marquee: cannot read {script}: {exc.strerror}", file=sys.stderr)
            return 2
        lines = script_lines(text)
    with contextlib.ExitStack() as stack:
        if lines is None:
            stack.enter_context(_terminal_restored())
        if database is None:
            database = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="marquee-playground-")))
            database /= "marquee.sqlite3"
        else:
            database.parent.mkdir(parents=True, exist_ok=True)
        try:
            return asyncio.run(_session(database, lines, sys.stdout))
        except KeyboardInterrupt:  # Ctrl-C: the bot was closed on the way out
            print(file=sys.stderr)
            return 130
        except BrokenPipeError:  # `marquee playground --script tour.txt | head`: the reader left
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1


@contextlib.contextmanager
def _terminal_restored() -> Iterator[None]:
    """Ctrl-C ends the program while readline holds the terminal (on the input thread): put it back."""
    try:
        import termios

        saved = termios.tcgetattr(sys.stdin.fileno())
    except Exception:  # not a terminal (a script, a pipe), or no termios (Windows): nothing to restore
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


__all__ = ["ParseError", "ParsedCommand", "Playground", "parse_clock", "parse_command", "run_playground",
           "script_lines", "split_options"]
