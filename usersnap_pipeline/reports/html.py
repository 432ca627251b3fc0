"""The static HTML report: the trends chart, then all projects together and each project on its own,
every theme with its size, sentiment and trend (rising themes first), then every theme with its
keywords and quotes linking back to Usersnap. One self-contained file (the chart is inlined)."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape

from ..themes.alerts import rising_now
from ..themes.describe import ThemeSummary
from ..themes.sentiment import LABELS, Sentiment
from ..themes.trends import Themed, TrendRow, movers, theme_trends
from ..transform.redact import redact

TITLE = "Usersnap feedback themes"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 62rem; color: #1d1d1f; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .meta { color: #666; margin-top: 0; }
img.chart { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #eee; padding: 0.35rem; text-align: left; }
.keywords { color: #555; font-size: 0.9rem; } .rising { color: #1a7f37; font-weight: 600; } .falling { color: #cf222e; }
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
    data_points: int = 0
    sentiments: Counter = field(default_factory=Counter)
    themes: dict[str, ThemeStats] = field(default_factory=dict)
    themed: list[Themed] = field(default_factory=list)
    days: list[date] = field(default_factory=list)

    def add(self, day: date, theme_id: str | None, sentiment: Sentiment | None) -> None:
        self.data_points += 1
        self.days.append(day)
        if sentiment is not None:
            self.sentiments[sentiment.label] += 1
        if theme_id is None:
            return
        stats = self.themes.setdefault(theme_id, ThemeStats())
        stats.data_points += 1
        self.themed.append(Themed(theme_id, day, sentiment))
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


def _scope_section(scope: Scope, labels: dict[str, str], trends: Sequence[TrendRow]) -> list[str]:
    rising = {row.theme_id for row in rising_now(trends)}
    falling = set(movers(trends)["falling"]) - rising
    order = sorted(scope.themes, key=lambda t: (t not in rising, -scope.themes[t].data_points, labels.get(t, t)))
    parts = [f'<section class="scope" id="{escape(scope.anchor)}"><h2>{escape(scope.title)}</h2>',
             f'<p class="meta">{scope.data_points} data points · sentiment: {_split(scope.sentiments)}</p>']
    if not order:
        return parts + ['<p class="empty">No data points with a theme.</p></section>']
    parts.append("<table><thead><tr><th>Theme</th><th>Data points</th><th>Share</th><th>Sentiment</th>"
                 "<th>Mean</th><th>Trend</th></tr></thead><tbody>")
    for theme_id in order:
        stats = scope.themes[theme_id]
        trend = "rising" if theme_id in rising else "falling" if theme_id in falling else "steady"
        mean = stats.mean_sentiment
        parts.append(f'<tr data-theme="{escape(theme_id)}"><td><a href="#{escape(theme_id)}">'
                     f"{escape(labels.get(theme_id, theme_id))}</a></td><td>{stats.data_points}</td>"
                     f"<td>{stats.data_points / scope.data_points:.1%}</td><td>{_split(stats.sentiments)}</td>"
                     f'<td>{"–" if mean is None else f"{mean:+.2f}"}</td><td class="{trend}">{trend}</td></tr>')
    # Noise and feedback close to no theme are counted, not hidden in the nearest theme.
    other = scope.data_points - sum(stats.data_points for stats in scope.themes.values())
    parts.append(f'<tr class="other"><td>Other / unclear</td><td>{other}</td>'
                 f"<td>{other / scope.data_points:.1%}</td><td></td><td></td><td></td></tr></tbody></table></section>")
    return parts


def render_report(themes: Sequence[ThemeSummary], scopes: Sequence[Scope], chart_png: bytes, *,
                  generated_at: datetime, note: str | None = None) -> str:
    """``scopes``: all projects first, then one per project; each scope's trends are counted from its own
    data points, as the theme_trends asset counts all of them."""
    overall = scopes[0] if scopes else Scope("All projects", "all-projects")
    labels = {theme.theme_id: theme.label for theme in themes}
    trends = [theme_trends(list(labels), scope.themed, scope.days, as_of=generated_at.date()) if scope.days else []
              for scope in scopes]
    rising = [row.theme_id for row in rising_now(trends[0])] if trends else []
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{TITLE}</title><style>{STYLE}</style></head><body>",
        f"<h1>{TITLE}</h1>",
        f'<p class="meta">Generated {escape(generated_at.strftime("%Y-%m-%d %H:%M UTC"))} · {overall.data_points} '
        f"data points · {len(themes)} themes · {max(len(scopes) - 1, 0)} projects</p>",
        f'<p class="rising"><strong>Rising now:</strong> '
        f'{", ".join(escape(labels.get(t, t)) for t in dict.fromkeys(rising)) or "none"}</p>',
        "<h2>Trends</h2>",
        f'<img class="chart" alt="Weekly share of feedback per theme" '
        f'src="data:image/png;base64,{base64.b64encode(chart_png).decode()}">',
    ]
    if not themes:
        parts.append(f'<p class="empty">No themes yet. {escape(note or "")}</p>')
    for scope, scope_trends in zip(scopes, trends, strict=True):
        parts += _scope_section(scope, labels, scope_trends)
    parts.append('<h2 id="themes">Themes</h2>')
    for theme in themes:
        stats = overall.themes.get(theme.theme_id, ThemeStats())
        parts.append(f'<section class="theme" id="{escape(theme.theme_id)}"><h3>{escape(theme.label)}</h3>')
        parts.append(f'<p class="keywords">{escape(", ".join(theme.keywords))}</p>')
        parts.append(f"<p>{theme.data_points} data points, first seen {_when(theme.first_seen)}, "
                     f"last seen {_when(theme.last_seen)}; sentiment: {_split(stats.sentiments)}.</p><ul>")
        for quote in theme.quotes:
            link = (f' <a href="{escape(quote["source_url"])}">open in Usersnap</a>'
                    if quote.get("source_url") else "")
            # Quotes are masked when themes are found; themes found before that are masked here too.
            parts.append(f"<li><blockquote>“{escape(redact(quote['text']))}”</blockquote>{link}</li>")
        parts.append("</ul></section>")
    parts.append("</body></html>")
    return "\n".join(parts)
