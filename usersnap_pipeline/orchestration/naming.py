"""The names one Usersnap account's definitions take in a code location.

A code location may hold several accounts (one component instance each). An account's key prefix
goes in front of every name it defines: asset keys (``eu/data_points``), jobs, schedules, sensors,
ops and resource keys (``eu_usersnap_import``, ``eu_warehouse``), and it is the account's namespace in
the warehouse. The account without a prefix keeps the plain names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg

KEY_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class AccountNames:
    key_prefix: str = ""
    import_group: str = "usersnap"
    themes_group: str = "themes"
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.key_prefix and not KEY_PREFIX.match(self.key_prefix):
            raise ValueError(f"key prefix {self.key_prefix!r} must be lowercase letters, digits and underscores, "
                             "starting with a letter (at most 40): it names a warehouse schema too")

    def asset(self, name: str) -> dg.AssetKey:
        return dg.AssetKey([self.key_prefix, name] if self.key_prefix else [name])

    def __call__(self, name: str) -> str:
        """The name of a job, schedule, sensor, op or resource key."""
        return f"{self.key_prefix}_{name}" if self.key_prefix else name

    # The account's resource keys: its API client, its warehouse namespace, its theme encoder, its alerts' webhook.
    @property
    def usersnap_key(self) -> str:
        return self("usersnap")

    @property
    def warehouse_key(self) -> str:
        return self("warehouse")

    @property
    def encoder_key(self) -> str:
        return self("theme_encoder")

    @property
    def webhook_key(self) -> str:
        return self("alert_webhook")
