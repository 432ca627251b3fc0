"""Typed resources. Secrets arrive through ``dg.EnvVar``: Dagster resolves them at run time and
shows only the variable's name in the UI, never its value."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

from ..usersnap import DEFAULT_API_URL, UsersnapClient
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
        with UsersnapClient(self.api_url, self.jwt_id, self.jwt_secret, max_attempts=self.max_attempts,
                            pool_size=max(4, self.concurrency)) as client:
            yield client


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database: a SQLAlchemy URL (sqlite:///… or postgresql://…)."""

    url: str = Field(description="SQLAlchemy URL; pass dg.EnvVar('USERSNAP_WAREHOUSE_URL') if it holds a password")

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        warehouse = Warehouse(self.url)
        try:
            warehouse.ensure_schema()
            yield warehouse
        finally:
            warehouse.dispose()
