"""The names one Usersnap account's definitions take in a code location.

A code location may hold several accounts (one component instance each). An account's key prefix
goes in front of every name it defines: asset keys (``eu/data_points``), jobs, schedules, sensors
and ops (``eu_usersnap_import``), and it is the account's namespace in the warehouse and its report
folder. The account without a prefix keeps the plain names. (The prefix is checked where it is written,
in the component's ``translation.key_prefix``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg


@dataclass(frozen=True)
class AccountNames:
    key_prefix: str = ""
    import_group: str = "usersnap"
    # Unpartitioned: apart from the import's daily assets, so a backfill of the import group is one run.
    projects_group: str = "usersnap_projects"
    themes_group: str = "themes"
    tags: Mapping[str, str] = field(default_factory=dict)

    def asset(self, name: str) -> dg.AssetKey:
        return dg.AssetKey([self.key_prefix, name] if self.key_prefix else [name])

    def __call__(self, name: str) -> str:
        """The name of a job, schedule, sensor or op."""
        return f"{self.key_prefix}_{name}" if self.key_prefix else name


