"""A loopback Discord: a Discord-compatible REST + gateway server on 127.0.0.1 that the unmodified
discord.py client connects to, so end-to-end tests can drive the real bot.

    async with LoopbackDiscord() as dc:
        dc.patch_discord()      # or set Route.BASE / DEFAULT_GATEWAY yourself
        guild = dc.add_guild("Wick Fans")
        ...
"""

from .core import CommandUnavailable, Fault, GuildUnavailable, LoopbackDiscord, RequestContext
from .gateway import GatewaySession
from .interactions import AutocompleteChoices, InteractionResult
from .mentions import compute_pings
from .models import Channel, Guild, Member, Message, RecordedRequest, Role, StoredAttachment, User
from .permissions import Permissions
from .rules import DiscordError
from .spec import SpecViolation, default_spec_path

__all__ = [
    "AutocompleteChoices",
    "Channel",
    "CommandUnavailable",
    "DiscordError",
    "Fault",
    "GatewaySession",
    "Guild",
    "GuildUnavailable",
    "InteractionResult",
    "LoopbackDiscord",
    "Member",
    "Message",
    "Permissions",
    "RecordedRequest",
    "RequestContext",
    "Role",
    "SpecViolation",
    "StoredAttachment",
    "User",
    "compute_pings",
    "default_spec_path",
]
