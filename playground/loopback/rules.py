"""Discord's validation rules (the prose docs' numbers), producing Discord-shaped 50035 errors."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

try:  # the exact rule needs the third-party `regex` module; use it only when it is installed
    import regex as _regex

    _NAME_RE: Any = _regex.compile(r"^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$")
except ImportError:  # pragma: no cover - depends on the environment
    _NAME_RE = None


class DiscordError(Exception):
    """An error response the loopback sends, shaped like Discord's."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        data.update(self.extra)
        return data


class Errors:
    """Collects field errors into Discord's nested ``errors`` object."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}
        self.flat: list[tuple[str, str, str]] = []

    def add(self, path: Iterable[str | int], code: str, message: str) -> None:
        node = self.tree
        parts = [str(p) for p in path]
        for p in parts:
            node = node.setdefault(p, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
        self.flat.append((".".join(parts), code, message))

    def __bool__(self) -> bool:
        return bool(self.flat)

    def raise_if_any(self) -> None:
        if self.flat:
            raise DiscordError(400, 50035, "Invalid Form Body", errors=self.tree)


def invalid_form(path: Iterable[str | int], code: str, message: str) -> DiscordError:
    e = Errors()
    e.add(path, code, message)
    return DiscordError(400, 50035, "Invalid Form Body", errors=e.tree)


def _max_len(errs: Errors, path: list[str | int], value: Any, limit: int, *, min_len: int = 0) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        errs.add(path, "BASE_TYPE_STRING", "Must be a string.")
        return
    if len(value) > limit or len(value) < min_len:
        if min_len:
            errs.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {min_len} and {limit} in length.")
        else:
            errs.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


# --------------------------------------------------------------------------- application commands

_DEVA = range(0x0900, 0x0980)
_THAI = range(0x0E00, 0x0E80)


def valid_command_name(name: str) -> bool:
    """``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``
    (exact with the `regex` module, else by Unicode category)."""
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return False
    if _NAME_RE is not None:
        return bool(_NAME_RE.match(name))
    for ch in name:
        if ch in "-_'":
            continue
        if ord(ch) in _DEVA or ord(ch) in _THAI:
            continue
        if unicodedata.category(ch)[0] in ("L", "N"):
            continue
        return False
    return True


def _check_name(errs: Errors, path: list[str | int], name: Any, *, chat_input: bool) -> None:
    if not isinstance(name, str) or not name:
        errs.add([*path, "name"], "BASE_TYPE_REQUIRED", "This field is required")
        return
    if not chat_input:
        _max_len(errs, [*path, "name"], name, 32, min_len=1)
        return
    if not valid_command_name(name):
        errs.add([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    elif name != name.lower():
        errs.add([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_description(errs: Errors, path: list[str | int], desc: Any, *, chat_input: bool) -> None:
    if not chat_input:
        if desc not in (None, ""):
            errs.add(
                [*path, "description"],
                "APPLICATION_COMMAND_DESCRIPTION_NOT_EMPTY",
                "Description must be empty",
            )
        return
    if not isinstance(desc, str) or not desc:
        errs.add([*path, "description"], "BASE_TYPE_REQUIRED", "This field is required")
        return
    _max_len(errs, [*path, "description"], desc, 100, min_len=1)


def _count_chars(cmd: dict[str, Any]) -> int:
    total = len(cmd.get("name") or "") + len(cmd.get("description") or "")
    for opt in cmd.get("options") or []:
        total += _count_chars(opt)
        for ch in opt.get("choices") or []:
            total += len(str(ch.get("name") or "")) + len(
                str(ch.get("value") if ch.get("value") is not None else "")
            )
    return total


_SUB, _GROUP = 1, 2
_VALUE_TYPES = {3, 4, 5, 6, 7, 8, 9, 10, 11}


def _check_options(errs: Errors, path: list[str | int], options: Any, *, level: int) -> None:
    """level 0: command options; 1: options of a group; 2: options of a subcommand."""
    if options is None:
        return
    if not isinstance(options, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(options) > 25:
        errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    names: set[str] = set()
    seen_optional = False
    types = [o.get("type") for o in options if isinstance(o, dict)]
    has_sub = any(t in (_SUB, _GROUP) for t in types)
    if has_sub and any(t not in (_SUB, _GROUP) for t in types):
        errs.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Subcommands and subcommand groups cannot be mixed with other option types",
        )
    for i, opt in enumerate(options):
        p = [*path, i]
        if not isinstance(opt, dict):
            errs.add(p, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        otype = opt.get("type")
        if otype not in _VALUE_TYPES and otype not in (_SUB, _GROUP):
            errs.add(
                [*p, "type"], "BASE_TYPE_CHOICES", f"Value must be one of {sorted(_VALUE_TYPES | {1, 2})}."
            )
            continue
        _check_name(errs, p, opt.get("name"), chat_input=True)
        _check_description(errs, p, opt.get("description"), chat_input=True)
        name = opt.get("name")
        if isinstance(name, str):
            if name in names:
                errs.add(
                    [*p, "name"],
                    "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                    "Option name already exists",
                )
            names.add(name)
        if otype == _GROUP:
            if level != 0:
                errs.add(
                    [*p, "type"],
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Subcommand groups cannot be nested",
                )
            subs = opt.get("options") or []
            if any(isinstance(s, dict) and s.get("type") != _SUB for s in subs):
                errs.add(
                    [*p, "options"],
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Subcommand groups may only contain subcommands",
                )
            _check_options(errs, [*p, "options"], subs, level=1)
        elif otype == _SUB:
            if level == 2:
                errs.add(
                    [*p, "type"], "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Subcommands cannot be nested"
                )
            _check_options(errs, [*p, "options"], opt.get("options"), level=2)
        else:
            required = bool(opt.get("required", False))
            if required and seen_optional:
                errs.add(
                    [*p, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            if not required:
                seen_optional = True
            choices = opt.get("choices")
            if choices:
                if otype not in (3, 4, 10):
                    errs.add(
                        [*p, "choices"], "APPLICATION_COMMAND_OPTION_CHOICES_INVALID", "Choices not allowed"
                    )
                if len(choices) > 25:
                    errs.add([*p, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                if opt.get("autocomplete"):
                    errs.add(
                        [*p, "autocomplete"],
                        "APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES_INVALID",
                        "Autocomplete cannot be used with choices",
                    )
                for j, ch in enumerate(choices):
                    cp = [*p, "choices", j]
                    _max_len(errs, [*cp, "name"], ch.get("name"), 100, min_len=1)
                    val = ch.get("value")
                    if otype == 3:
                        _max_len(errs, [*cp, "value"], val, 100, min_len=1)
                    elif not isinstance(val, (int, float)) or isinstance(val, bool):
                        errs.add([*cp, "value"], "BASE_TYPE_NUMBER", "Must be a number.")
            if opt.get("autocomplete") and otype not in (3, 4, 10):
                errs.add(
                    [*p, "autocomplete"],
                    "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                    "Autocomplete is only allowed for string, integer and number options",
                )
            for key in ("min_length", "max_length"):
                if key in opt and opt[key] is not None and not (0 <= int(opt[key]) <= 6000):
                    errs.add([*p, key], "NUMBER_TYPE_MAX", "int value should be <= 6000 and >= 0.")


def validate_command(cmd: Any, errs: Errors, path: list[str | int]) -> None:
    if not isinstance(cmd, dict):
        errs.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    ctype = cmd.get("type", 1) or 1
    if ctype not in (1, 2, 3, 4):
        errs.add([*path, "type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
        return
    chat_input = ctype == 1
    _check_name(errs, path, cmd.get("name"), chat_input=chat_input)
    _check_description(errs, path, cmd.get("description"), chat_input=chat_input)
    if not chat_input and cmd.get("options"):
        errs.add(
            [*path, "options"],
            "APPLICATION_COMMAND_OPTIONS_INVALID",
            "Context menu commands cannot have options",
        )
    _check_options(errs, [*path, "options"], cmd.get("options"), level=0)
    if _count_chars(cmd) > 8000:
        errs.add(path, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")
    perms = cmd.get("default_member_permissions")
    if perms is not None:
        try:
            int(perms)
        except (TypeError, ValueError):
            errs.add([*path, "default_member_permissions"], "BASE_TYPE_NUMBER", "Must be a number.")


def validate_command_list(cmds: Any) -> None:
    errs = Errors()
    if not isinstance(cmds, list):
        raise invalid_form([], "BASE_TYPE_ARRAY", "Must be an array.")
    seen: set[tuple[int, str]] = set()
    counts = {1: 0, 2: 0, 3: 0, 4: 0}
    for i, cmd in enumerate(cmds):
        validate_command(cmd, errs, [i])
        if isinstance(cmd, dict):
            key = (cmd.get("type", 1) or 1, str(cmd.get("name")))
            if key in seen:
                errs.add(
                    [i, "name"],
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            seen.add(key)
            counts[key[0]] = counts.get(key[0], 0) + 1
    if counts.get(1, 0) > 100:
        errs.add([], "APPLICATION_COMMANDS_TOO_MANY", "Maximum number of chat input commands reached (100)")
    if counts.get(2, 0) > 15 or counts.get(3, 0) > 15:
        errs.add([], "APPLICATION_COMMANDS_TOO_MANY", "Maximum number of context menu commands reached (15)")
    errs.raise_if_any()


# --------------------------------------------------------------------------- messages

EMBED_LIMITS = {"title": 256, "description": 4096}


def validate_embeds(errs: Errors, embeds: Any, path: list[str | int]) -> None:
    if embeds is None:
        return
    if not isinstance(embeds, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(embeds) > 10:
        errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, e in enumerate(embeds):
        p = [*path, i]
        if not isinstance(e, dict):
            errs.add(p, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        for key, limit in EMBED_LIMITS.items():
            _max_len(errs, [*p, key], e.get(key), limit)
            total += len(e.get(key) or "") if isinstance(e.get(key), str) else 0
        fields = e.get("fields") or []
        if len(fields) > 25:
            errs.add([*p, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            fp = [*p, "fields", j]
            name, value = f.get("name"), f.get("value")
            if name is None or name == "":
                errs.add([*fp, "name"], "BASE_TYPE_REQUIRED", "This field is required")
            else:
                _max_len(errs, [*fp, "name"], name, 256)
            if value is None or value == "":
                errs.add([*fp, "value"], "BASE_TYPE_REQUIRED", "This field is required")
            else:
                _max_len(errs, [*fp, "value"], value, 1024)
            total += (
                len(name or "") + len(value or "") if isinstance(name, str) and isinstance(value, str) else 0
            )
        footer = e.get("footer")
        if isinstance(footer, dict):
            _max_len(errs, [*p, "footer", "text"], footer.get("text"), 2048)
            total += len(footer.get("text") or "")
        author = e.get("author")
        if isinstance(author, dict):
            _max_len(errs, [*p, "author", "name"], author.get("name"), 256)
            total += len(author.get("name") or "")
        color = e.get("color")
        if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
            errs.add([*p, "color"], "NUMBER_TYPE_MAX", "int value should be <= 16777215 and >= 0.")
    if total > 6000:
        errs.add(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


_SELECT_TYPES = {3, 5, 6, 7, 8}


def validate_components(errs: Errors, components: Any, path: list[str | int], *, v2: bool) -> None:
    if components is None:
        return
    if not isinstance(components, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    custom_ids: set[str] = set()

    def check_custom_id(p: list[str | int], comp: dict[str, Any]) -> None:
        cid = comp.get("custom_id")
        if cid is None:
            return
        if not isinstance(cid, str) or not 1 <= len(cid) <= 100:
            errs.add([*p, "custom_id"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        elif cid in custom_ids:
            errs.add(
                [*p, "custom_id"],
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        else:
            custom_ids.add(cid)

    def check_button(p: list[str | int], b: dict[str, Any]) -> None:
        style = b.get("style")
        if style == 5:
            if not b.get("url"):
                errs.add([*p, "url"], "BASE_TYPE_REQUIRED", "This field is required")
            if b.get("custom_id") is not None:
                errs.add(
                    [*p, "custom_id"],
                    "COMPONENT_LINK_BUTTON_CUSTOM_ID",
                    "Link buttons cannot have a custom id",
                )
        elif style == 6:
            if not b.get("sku_id"):
                errs.add([*p, "sku_id"], "BASE_TYPE_REQUIRED", "This field is required")
        else:
            if b.get("custom_id") is None:
                errs.add([*p, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")
        _max_len(errs, [*p, "label"], b.get("label"), 80)
        check_custom_id(p, b)

    def check_select(p: list[str | int], s: dict[str, Any]) -> None:
        if s.get("custom_id") is None:
            errs.add([*p, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")
        check_custom_id(p, s)
        _max_len(errs, [*p, "placeholder"], s.get("placeholder"), 150)
        if s.get("type") == 3:
            opts = s.get("options") or []
            if not 1 <= len(opts) <= 25:
                errs.add([*p, "options"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length.")
            for k, o in enumerate(opts):
                _max_len(errs, [*p, "options", k, "label"], o.get("label"), 100, min_len=1)
                _max_len(errs, [*p, "options", k, "value"], o.get("value"), 100, min_len=1)
                _max_len(errs, [*p, "options", k, "description"], o.get("description"), 100)
        mn, mx = s.get("min_values"), s.get("max_values")
        if mn is not None and not 0 <= mn <= 25:
            errs.add([*p, "min_values"], "NUMBER_TYPE_MAX", "int value should be <= 25 and >= 0.")
        if mx is not None and not 1 <= mx <= 25:
            errs.add([*p, "max_values"], "NUMBER_TYPE_MAX", "int value should be <= 25 and >= 1.")

    def walk(items: list[Any], p: list[str | int], top: bool) -> None:
        for i, comp in enumerate(items):
            cp = [*p, i]
            if not isinstance(comp, dict):
                errs.add(cp, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            ctype = comp.get("type")
            if ctype == 1:
                children = comp.get("components") or []
                if not children:
                    errs.add(
                        [*cp, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
                    )
                buttons = [c for c in children if isinstance(c, dict) and c.get("type") == 2]
                selects = [c for c in children if isinstance(c, dict) and c.get("type") in _SELECT_TYPES]
                if len(children) > 5:
                    errs.add(
                        [*cp, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
                    )
                if selects and len(children) > 1:
                    errs.add(
                        [*cp, "components"],
                        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                        "The specified component exceeds the maximum width",
                    )
                for j, c in enumerate(children):
                    if not isinstance(c, dict):
                        continue
                    if c.get("type") == 2:
                        check_button([*cp, "components", j], c)
                    elif c.get("type") in _SELECT_TYPES:
                        check_select([*cp, "components", j], c)
                    elif c.get("type") == 4:
                        check_custom_id([*cp, "components", j], c)
                    else:
                        errs.add(
                            [*cp, "components", j, "type"],
                            "COMPONENT_TYPE_INVALID",
                            "Component type is not allowed in an action row",
                        )
                del buttons
            elif top and not v2:
                errs.add(
                    [*cp, "type"],
                    "COMPONENT_TYPE_INVALID",
                    "Only action rows are allowed at the top level without the IS_COMPONENTS_V2 flag",
                )
            else:
                if ctype == 2:
                    check_button(cp, comp)
                elif ctype in _SELECT_TYPES:
                    check_select(cp, comp)
                else:
                    check_custom_id(cp, comp)
                if isinstance(comp.get("components"), list):
                    walk(comp["components"], [*cp, "components"], False)
                for key in ("accessory", "component"):
                    if isinstance(comp.get(key), dict):
                        sub = comp[key]
                        if sub.get("type") == 2:
                            check_button([*cp, key], sub)
                        elif sub.get("type") in _SELECT_TYPES:
                            check_select([*cp, key], sub)
                        else:
                            check_custom_id([*cp, key], sub)

    if not v2 and len(components) > 5:
        errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    walk(components, path, True)


def validate_allowed_mentions(errs: Errors, am: Any, path: list[str | int]) -> None:
    if am is None:
        return
    if not isinstance(am, dict):
        errs.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    parse = am.get("parse") or []
    for i, p in enumerate(parse):
        if p not in ("users", "roles", "everyone"):
            errs.add(
                [*path, "parse", i],
                "BASE_TYPE_CHOICES",
                "Value must be one of ('everyone', 'roles', 'users').",
            )
    if "users" in parse and am.get("users"):
        errs.add(
            [*path, "parse"],
            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
            'parse:["users"] and users: [ids...] are mutually exclusive.',
        )
    if "roles" in parse and am.get("roles"):
        errs.add(
            [*path, "parse"],
            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
            'parse:["roles"] and roles: [ids...] are mutually exclusive.',
        )
    for key in ("users", "roles"):
        if len(am.get(key) or []) > 100:
            errs.add([*path, key], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")


def validate_message_body(body: dict[str, Any], *, partial: bool, has_files: bool = False) -> None:
    """Content/embeds/components/allowed_mentions/nonce rules for create (partial=False) and edit."""
    errs = Errors()
    flags = body.get("flags") or 0
    v2 = bool(int(flags) & (1 << 15)) if isinstance(flags, (int, str)) and str(flags).isdigit() else False
    content = body.get("content")
    if content is not None:
        _max_len(errs, ["content"], content, 2000)
    validate_embeds(errs, body.get("embeds"), ["embeds"])
    validate_components(errs, body.get("components"), ["components"], v2=v2)
    validate_allowed_mentions(errs, body.get("allowed_mentions"), ["allowed_mentions"])
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, str):
            _max_len(errs, ["nonce"], nonce, 25)
        elif not isinstance(nonce, int) or isinstance(nonce, bool):
            errs.add(["nonce"], "BASE_TYPE_STRING", "Must be a string or an integer.")
    if v2 and (body.get("content") or body.get("embeds")):
        errs.add(
            ["content"],
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using components v2",
        )
    errs.raise_if_any()
    if not partial:
        empty = not (
            body.get("content")
            or body.get("embeds")
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
            or has_files
        )
        if empty:
            raise DiscordError(400, 50006, "Cannot send an empty message")


def validate_autocomplete_choices(choices: Any) -> None:
    errs = Errors()
    if not isinstance(choices, list):
        raise invalid_form(["data", "choices"], "BASE_TYPE_ARRAY", "Must be an array.")
    if len(choices) > 25:
        errs.add(["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for i, ch in enumerate(choices):
        p: list[str | int] = ["data", "choices", i]
        if not isinstance(ch, dict):
            errs.add(p, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        _max_len(errs, [*p, "name"], ch.get("name"), 100, min_len=1)
        val = ch.get("value")
        if isinstance(val, str):
            _max_len(errs, [*p, "value"], val, 100)
        elif not isinstance(val, (int, float)) or isinstance(val, bool):
            errs.add([*p, "value"], "BASE_TYPE_REQUIRED", "This field is required")
    errs.raise_if_any()


def validate_modal(data: Any) -> None:
    errs = Errors()
    if not isinstance(data, dict):
        raise invalid_form(["data"], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    _max_len(errs, ["data", "custom_id"], data.get("custom_id"), 100, min_len=1)
    _max_len(errs, ["data", "title"], data.get("title"), 45, min_len=1)
    comps = data.get("components") or []
    if not 1 <= len(comps) <= 5:
        errs.add(["data", "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    errs.raise_if_any()
