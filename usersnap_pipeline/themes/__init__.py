"""Themes and trends: pure functions over data point texts (no I/O, no Dagster).

The submodules that fit models import scikit-learn; this package itself imports nothing, so the code
location (and every import run's process) loads without it.
"""

MIN_DATA_POINTS = 200  # like the reference product: fewer texts give themes that are mostly noise
