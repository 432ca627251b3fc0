"""Pictures of the themes: a trends chart (PNG) and a static HTML report. Pure rendering, no I/O."""

from .chart import trend_chart_png
from .html import Scope, render_report

__all__ = ["Scope", "render_report", "trend_chart_png"]
