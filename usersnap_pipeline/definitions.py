"""The code location: ``dagster dev`` / workspace.yaml load ``defs`` from here.

Configuration is read once from the environment (see settings.py and the README); a missing or
malformed setting stops the load with a message naming the variable to fix.
"""

import os

from .defs.code_location import build_definitions
from .settings import load_settings

# A range run reports one materialization per asset and day. With batching on (Dagster+ runs with
# it), Dagster stores them in one write per asset; without, each is its own write, and on
# dagster-postgres each write opens fresh connections: 3 s per asset for 181 days (bench/README.md).
# Set in the environment, the variable wins; 0 turns batching off.
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")

defs = build_definitions(load_settings())
