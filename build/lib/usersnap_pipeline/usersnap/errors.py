"""Typed errors of the Usersnap API layer.

Every message says which call failed and what to do about it. No message ever contains the JWT
secret or a minted token: errors are built from the method, the path and the API's own error body.
"""

from __future__ import annotations


class UsersnapError(Exception):
    """Base class: something went wrong talking to Usersnap."""

    def __init__(self, message: str, *, call: str = "", status: int | None = None,
                 errortype: str | None = None):
        self.call = call
        self.status = status
        self.errortype = errortype
        prefix = f"{call}: " if call else ""
        super().__init__(prefix + message)


class UsersnapConfigError(UsersnapError):
    """The client was set up with values that cannot work (missing credentials, bad URL)."""


class UsersnapAuthError(UsersnapError):
    """401: the token was refused. Retrying cannot help."""


class UsersnapForbiddenError(UsersnapError):
    """403: the account may not use the REST API (Enterprise/Premium plans only)."""


class UsersnapNotFoundError(UsersnapError):
    """404 or SITE_NOT_FOUND: the project does not exist or the key cannot see it."""


class UsersnapRequestError(UsersnapError):
    """Any other 4xx: the request itself is wrong (bad limit, bad filter, bad cursor)."""


class UsersnapUnavailableError(UsersnapError):
    """Retries were exhausted on 429/5xx, connection errors or broken bodies."""


class UsersnapProtocolError(UsersnapError):
    """The answer does not look like Usersnap's API (wrong envelope, cursor that does not advance)."""


class UsersnapCancelledError(UsersnapError):
    """The client was closed (the run was stopped) while a call waited to retry."""
