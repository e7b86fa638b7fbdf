"""TMDB as a data source: a small client, the mapping to data packs, and the import/refresh service."""

from bot.tmdb.client import (
    TMDBAuthError,
    TMDBCapReached,
    TMDBClient,
    TMDBError,
    TMDBNotFound,
    TMDBUnavailable,
)
from bot.tmdb.mapping import ATTRIBUTION, JUSTWATCH, Source
from bot.tmdb.service import Hit, ImportResult, RefreshResult, TMDBService

__all__ = [
    "ATTRIBUTION",
    "JUSTWATCH",
    "Hit",
    "ImportResult",
    "RefreshResult",
    "Source",
    "TMDBAuthError",
    "TMDBCapReached",
    "TMDBClient",
    "TMDBError",
    "TMDBNotFound",
    "TMDBService",
    "TMDBUnavailable",
]
