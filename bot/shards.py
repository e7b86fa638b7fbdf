"""Which servers a process looks after: Discord puts a server on shard (guild_id >> 22) % shard_count, and a
process runs a range of shards. Pure; the scheduler and the queries take a `ShardScope`."""

from __future__ import annotations

from dataclasses import dataclass

from db import leases


def shard_of(guild_id: int, count: int) -> int:
    """Discord's rule (https://discord.com/developers/docs/events/gateway#sharding)."""
    return (guild_id >> 22) % count


@dataclass(frozen=True, slots=True)
class ShardScope:
    """`count` 0: every server (one process runs every shard); else the shards `ids` of `count`."""
    count: int = 0
    ids: tuple[int, ...] = ()

    @classmethod
    def of(cls, count: int | None, ids: tuple[int, ...] | None) -> ShardScope:
        if not count or ids is None or len(ids) == count:
            return cls()
        return cls(count, tuple(sorted(ids)))

    @property
    def everything(self) -> bool:
        return self.count == 0

    def owns(self, guild_id: int) -> bool:
        return self.everything or shard_of(guild_id, self.count) in self.ids

    def lease_names(self) -> dict[str, int | None]:
        """One dispatcher lease per shard (None: the one lease of a bot that runs every shard in one process)."""
        if self.everything:
            return {leases.DISPATCHER: None}
        return {f"{leases.DISPATCHER}:{shard}/{self.count}": shard for shard in self.ids}

    def narrowed(self, shards: set[int | None]) -> ShardScope | None:
        """The part of this scope whose leases are held (None: nothing)."""
        if self.everything:
            return self if None in shards else None
        held = tuple(s for s in self.ids if s in shards)
        return ShardScope(self.count, held) if held else None
