"""The static HTML report: the trends chart, then all projects together and each project on its own,
every theme with its size, sentiment and trend (rising themes first), then every theme with its
keywords and quotes linking back to Usersnap. One self-contained file (the chart is inlined)."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from ..themes.alerts import rising_now
from ..themes.describe import ThemeSummary
from ..themes.sentiment import LABELS, Sentiment
from ..themes.trends import ALL_PROJECTS, UP, TrendRow, why
from ..transform.links import safe_link
from ..transform.redact import redact

TITLE = "Usersnap feedback themes"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 62rem; color: #1d1d1f; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .meta { color: #666; margin-top: 0; }
img.chart { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #eee; padding: 0.35rem; text-align: left; }
.keywords { color: #555; font-size: 0.9rem; } .rising { color: #1a7f37; font-weight: 600; } .falling { color: #cf222e; }
.why { color: #555; font-size: 0.85rem; font-weight: normal; }
.negative { color: #cf222e; } .positive { color: #1a7f37; } .neutral { color: #666; }
blockquote { margin: 0.3rem 0; font-style: italic; } section.theme, section.scope { border-top: 1px solid #ddd; padding-top: 0.5rem; }
"""


@dataclass
class ThemeStats:
    data_points: int = 0
    sentiments: Counter = field(default_factory=Counter)  # label -> data points
    score_sum: float = 0.0

    @property
    def mean_sentiment(self) -> float | None:
        scored = sum(self.sentiments.values())
        return self.score_sum / scored if scored else None


@dataclass
class Scope:
    """All projects, or one: its data points' sentiment, and per theme (best theme only)."""
    title: str
    anchor: str
    project_id: str = ALL_PROJECTS  # whose verdicts theme_trends holds for this scope
    data_points: int = 0
    sentiments: Counter = field(default_factory=Counter)
    themes: dict[str, ThemeStats] = field(default_factory=dict)

    def add(self, theme_id: str | None, sentiment: Sentiment | None) -> None:
        self.data_points += 1
        if sentiment is not None:
            self.sentiments[sentiment.label] += 1
        if theme_id is None:
            return
        stats = self.themes.setdefault(theme_id, ThemeStats())
        stats.data_points += 1
        if sentiment is not None:
            stats.sentiments[sentiment.label] += 1
            stats.score_sum += sentiment.score


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "–"


def _split(sentiments: Counter) -> str:
    scored = sum(sentiments.values())
    if not scored:
        return '<span class="neutral">not scored yet</span>'
    return " · ".join(f'<span class="{label}">{sentiments[label] / scored:.0%} {label}</span>' for label in LABELS)


def _latest_verdicts(trends: Sequence[TrendRow], project_id: str) -> dict[str, TrendRow]:
    """Each theme's verdict of the scope as shown: rising now (this week or last) first, else last complete
    week's (falling or steady)."""
    shown: dict[str, TrendRow] = {}
    for row in rising_now(trends):
        if row.project_id == project_id:
            shown.setdefault(row.theme_id, row)
    complete = [row for row in trends if row.granularity == "week" and row.complete and row.project_id == project_id]
    if complete:
        latest = max(row.period_start for row in complete)
        for row in complete:
            if row.period_start == latest:
                shown.setdefault(row.theme_id, row)
    return shown


def _trend_cell(row: TrendRow | None) -> str:
    if row is None or row.direction not in (*UP, "falling"):
        return '<td class="steady">steady</td>'
    css = "rising" if row.direction in UP else "falling"
    return f'<td class="{css}">{row.direction} <span class="why">{escape(why(row))}</span></td>'


def _scope_section(scope: Scope, labels: dict[str, str], trends: Sequence[TrendRow]) -> list[str]:
    verdicts = _latest_verdicts(trends, scope.project_id)
    moving = {t for t, row in verdicts.items() if row.direction in UP}
    order = sorted(scope.themes, key=lambda t: (t not in moving, -scope.themes[t].data_points, labels.get(t, t)))
    parts = [f'<section class="scope" id="{escape(scope.anchor)}"><h2>{escape(scope.title)}</h2>',
             f'<p class="meta">{scope.data_points} data points · sentiment: {_split(scope.sentiments)}</p>']
    if not order:
        return parts + ['<p class="empty">No data points with a theme.</p></section>']
    parts.append("<table><thead><tr><th>Theme</th><th>Data points</th><th>Share</th><th>Sentiment</th>"
                 "<th>Mean</th><th>Trend</th></tr></thead><tbody>")
    for theme_id in order:
        stats = scope.themes[theme_id]
        mean = stats.mean_sentiment
        parts.append(f'<tr data-theme="{escape(theme_id)}"><td><a href="#{escape(theme_id)}">'
                     f"{escape(labels.get(theme_id, theme_id))}</a></td><td>{stats.data_points}</td>"
                     f"<td>{stats.data_points / scope.data_points:.1%}</td><td>{_split(stats.sentiments)}</td>"
                     f'<td>{"–" if mean is None else f"{mean:+.2f}"}</td>{_trend_cell(verdicts.get(theme_id))}</tr>')
    # Noise and feedback close to no theme are counted, not hidden in the nearest theme.
    other = scope.data_points - sum(stats.data_points for stats in scope.themes.values())
    parts.append(f'<tr class="other"><td>Other / unclear</td><td>{other}</td>'
                 f"<td>{other / scope.data_points:.1%}</td><td></td><td></td><td></td></tr></tbody></table></section>")
    return parts


def _rising_now(trends: Sequence[TrendRow], labels: dict[str, str], scopes: Sequence[Scope]) -> list[str]:
    """The themes rising now, with why: all projects' verdicts, then each project's own."""
    titles = {scope.project_id: scope.title for scope in scopes}
    items = []
    for row in rising_now(trends):
        if row.theme_id not in labels:
            continue
        where = "" if row.project_id == ALL_PROJECTS else f" in {titles.get(row.project_id, row.project_id)}"
        items.append(f'<li data-theme="{escape(row.theme_id)}" data-project="{escape(row.project_id)}">'
                     f'<a href="#{escape(row.theme_id)}">{escape(labels[row.theme_id])}</a>{escape(where)}: '
                     f'{row.direction}, <span class="why">{escape(why(row))}</span></li>')
    if not items:
        return ['<p class="rising"><strong>Rising now:</strong> none</p>']
    return ['<p class="rising"><strong>Rising now:</strong></p>', '<ul class="rising-now">', *items, "</ul>"]


def render_report(themes: Sequence[ThemeSummary], scopes: Sequence[Scope], trends: Sequence[TrendRow],
                  chart_png: bytes, *, generated_at: datetime, note: str | None = None) -> str:
    """``scopes``: all projects first, then one per project; ``trends`` theme_trends' rows, whose verdicts
    the report shows as they are stored (the alerts and the check read the same)."""
    overall = scopes[0] if scopes else Scope("All projects", "all-projects")
    labels = {theme.theme_id: theme.label for theme in themes}
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{TITLE}</title><style>{STYLE}</style></head><body>",
        f"<h1>{TITLE}</h1>",
        f'<p class="meta">Generated {escape(generated_at.strftime("%Y-%m-%d %H:%M UTC"))} · {overall.data_points} '
        f"data points · {len(themes)} themes · {max(len(scopes) - 1, 0)} projects</p>",
        *_rising_now(trends, labels, scopes),
        "<h2>Trends</h2>",
        f'<img class="chart" alt="Weekly share of feedback per theme" '
        f'src="data:image/png;base64,{base64.b64encode(chart_png).decode()}">',
    ]
    if not themes:
        parts.append(f'<p class="empty">No themes yet. {escape(note or "")}</p>')
    for scope in scopes:
        parts += _scope_section(scope, labels, trends)
    parts.append('<h2 id="themes">Themes</h2>')
    for theme in themes:
        stats = overall.themes.get(theme.theme_id, ThemeStats())
        parts.append(f'<section class="theme" id="{escape(theme.theme_id)}"><h3>{escape(theme.label)}</h3>')
        parts.append(f'<p class="keywords">{escape(", ".join(theme.keywords))}</p>')
        parts.append(f"<p>{theme.data_points} data points, first seen {_when(theme.first_seen)}, "
                     f"last seen {_when(theme.last_seen)}; sentiment: {_split(stats.sentiments)}.</p><ul>")
        for quote in theme.quotes:
            # Only https links (http on loopback) become links, whatever an older import stored.
            url = safe_link(quote.get("source_url"))
            link = f' <a href="{escape(url)}">open in Usersnap</a>' if url else ""
            # Quotes are masked when themes are found; themes found before that are masked here too.
            parts.append(f"<li><blockquote>“{escape(redact(quote['text']))}”</blockquote>{link}</li>")
        parts.append("</ul></section>")
    parts.append("</body></html>")
    return "\n".join(parts)
