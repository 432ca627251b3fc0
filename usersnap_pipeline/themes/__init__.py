"""Themes and trends: pure functions over data point texts (no I/O, no Dagster)."""

from .discover import MIN_DATA_POINTS, discover_themes
from .model import Assignment, Theme, ThemeModel
from .trends import theme_trends

__all__ = ["MIN_DATA_POINTS", "Assignment", "Theme", "ThemeModel", "discover_themes", "theme_trends"]
