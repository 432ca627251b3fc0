"""The Usersnap REST API v0.1, as a small client. Imports no Dagster.

Public surface: :class:`UsersnapClient`, :class:`Page`, :func:`created_at_window`,
:data:`DEFAULT_API_URL` and the errors below (all subclasses of :class:`UsersnapError`).
"""

from .client import (
    DEFAULT_API_URL,
    MAX_PAGE_SIZE,
    ClientStats,
    Page,
    UsersnapClient,
    api_timestamp,
    created_at_window,
    validate_api_url,
)
from .errors import (
    UsersnapAuthError,
    UsersnapCancelledError,
    UsersnapConfigError,
    UsersnapError,
    UsersnapForbiddenError,
    UsersnapNotFoundError,
    UsersnapProtocolError,
    UsersnapRequestError,
    UsersnapUnavailableError,
)

__all__ = [
    "DEFAULT_API_URL", "MAX_PAGE_SIZE", "ClientStats", "Page", "UsersnapClient", "api_timestamp", "created_at_window", "validate_api_url",
    "UsersnapAuthError", "UsersnapCancelledError", "UsersnapConfigError", "UsersnapError", "UsersnapForbiddenError",
    "UsersnapNotFoundError", "UsersnapProtocolError", "UsersnapRequestError", "UsersnapUnavailableError",
]
