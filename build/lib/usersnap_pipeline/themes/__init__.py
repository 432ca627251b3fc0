"""Themes and trends over data point texts, with no Dagster: cleaning, keyphrases and quotes, discovery,
assignment and trends are pure functions; the encoder reads its model's weights from an installed package.

The submodules that embed or fit models import PyTorch and scikit-learn; this package itself imports
nothing, so the code location (and every import run's process) loads without them.
"""

MIN_DATA_POINTS = 200  # like the reference product: fewer texts give themes that are mostly noise
