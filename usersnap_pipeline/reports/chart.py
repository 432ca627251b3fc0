"""The trends chart: each theme's weekly share of all feedback."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display here, and none in a Dagster run
import matplotlib.pyplot as plt  # noqa: E402

from ..themes.trends import ALL_PROJECTS, UP, TrendRow  # noqa: E402

MAX_LINES = 8  # more lines than this is unreadable; the table lists every theme


def trend_chart_png(labels: dict[str, str], rows: Sequence[TrendRow], *, title: str = "Themes over time") -> bytes:
    """A line per theme (the largest first, at most MAX_LINES) of its weekly share of feedback;
    unfinished weeks are dashed, rising and falling themes marked in the legend."""
    weekly = [row for row in rows if row.granularity == "week" and row.project_id == ALL_PROJECTS]
    figure, axes = plt.subplots(figsize=(9, 4.5), dpi=100)
    try:
        for theme_id in list(labels)[:MAX_LINES]:
            series = sorted((r for r in weekly if r.theme_id == theme_id), key=lambda r: r.period_start)
            if not series:
                continue
            complete = [r for r in series if r.complete]
            latest = complete[-1].direction if complete else "steady"
            marker = " ▲" if latest in UP else " ▼" if latest == "falling" else ""
            line, = axes.plot([r.period_start for r in complete], [100 * r.share for r in complete],
                              marker="o", markersize=3, label=labels[theme_id] + marker)
            tail = series[len(complete) - 1:] if complete else series
            if len(tail) > 1 or not complete:
                axes.plot([r.period_start for r in tail], [100 * r.share for r in tail], linestyle="--",
                          color=line.get_color())
        axes.set_title(title)
        axes.set_ylabel("share of feedback per week (%)")
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        else:
            axes.text(0.5, 0.5, "No themes yet", ha="center", va="center", transform=axes.transAxes)
        figure.autofmt_xdate()
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
