"""Short-lived HS256 JWTs signed with the account's JWT secret, as Usersnap's REST API expects."""

from __future__ import annotations

import threading
import time

import jwt

from .errors import UsersnapConfigError

# Usersnap's help page: "Please, use HS256 as algorithm. Don't use HS512."
ALGORITHM = "HS256"
# ``iat`` is dated this far back: an API whose clock is behind ours (up to this much) would otherwise
# see a token issued in its future and refuse it.
ISSUED_EARLIER = 60


class TokenMinter:
    """Mints a bearer token with header ``kid`` = JWT ID and claims ``iat``/``exp``.

    The token is reused until ``refresh_margin`` seconds before it expires, then minted again,
    so a long crawl never sends an expired token and a short one does not sign per request.
    Times are read on ``clock`` shifted by ``clock_offset``: the API's clock, once the client has seen
    how far it is from ours.
    """

    def __init__(self, jwt_id: str, jwt_secret: str, *, lifetime: int = 600,
                 refresh_margin: int = 60, clock=time.time):
        if not jwt_id or not jwt_id.strip():
            raise UsersnapConfigError("the JWT ID is empty: set USERSNAP_JWT_ID (Usersnap → Settings → REST API)")
        if not jwt_secret or not jwt_secret.strip():
            raise UsersnapConfigError(
                "the JWT secret is empty: set USERSNAP_JWT_SECRET (Usersnap → Settings → REST API)")
        if refresh_margin >= lifetime:
            raise UsersnapConfigError("refresh_margin must be shorter than the token lifetime")
        self.jwt_id = jwt_id
        self._secret = jwt_secret
        self._lifetime = lifetime
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.clock_offset = 0.0

    def __repr__(self) -> str:  # never show the secret, even in a debugger or a traceback
        return f"TokenMinter(jwt_id={self.jwt_id!r}, jwt_secret=***)"

    def token(self) -> str:
        with self._lock:
            now = self._clock() + self.clock_offset
            if self._token is None or now >= self._expires_at - self._refresh_margin:
                self._expires_at = int(now) + self._lifetime
                self._token = jwt.encode(
                    {"iat": int(now) - ISSUED_EARLIER, "exp": int(self._expires_at)},
                    self._secret,
                    algorithm=ALGORITHM,
                    headers={"kid": self.jwt_id},
                )
            return self._token

    def follow_clock(self, offset: float) -> None:
        """Mint on a clock ``offset`` seconds from ours from now on, starting with a new token."""
        with self._lock:
            self.clock_offset, self._token = offset, None

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never be logged: the secret and the token currently in use."""
        return tuple(s for s in (self._secret, self._token) if s)
