"""The static HTML report: the trends chart, rising and falling themes, every theme with its
keywords and quotes linking back to Usersnap. One self-contained file (the chart is inlined)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from html import escape

from ..themes.describe import ThemeSummary
from ..transform.redact import redact
from ..themes.trends import TrendRow, movers

TITLE = "Usersnap feedback themes"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1d1d1f; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .meta { color: #666; margin-top: 0; }
img.chart { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #eee; padding: 0.35rem; text-align: left; }
.keywords { color: #555; font-size: 0.9rem; } .rising { color: #1a7f37; } .falling { color: #cf222e; }
blockquote { margin: 0.3rem 0; font-style: italic; } section.theme { border-top: 1px solid #ddd; padding-top: 0.5rem; }
"""


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "–"


def render_report(themes: Sequence[ThemeSummary], trends: Sequence[TrendRow], chart_png: bytes, *,
                  generated_at: datetime, data_points: int, note: str | None = None) -> str:
    moving = movers(trends)
    direction = {theme_id: kind for kind, ids in moving.items() for theme_id in ids}
    labels = {theme.theme_id: theme.label for theme in themes}
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{TITLE}</title><style>{STYLE}</style></head><body>",
        f"<h1>{TITLE}</h1>",
        f'<p class="meta">Generated {escape(generated_at.strftime("%Y-%m-%d %H:%M UTC"))} · {data_points} data points '
        f"· {len(themes)} themes</p>",
        "<h2>Trends</h2>",
        f'<img class="chart" alt="Weekly share of feedback per theme" '
        f'src="data:image/png;base64,{base64.b64encode(chart_png).decode()}">',
    ]
    for kind in ("rising", "falling"):
        names = ", ".join(escape(labels.get(t, t)) for t in moving[kind]) or "none"
        parts.append(f'<p class="{kind}"><strong>{kind.capitalize()} last week:</strong> {names}</p>')
    parts.append("<h2>Themes</h2>")
    if not themes:
        parts.append(f'<p class="empty">No themes yet. {escape(note or "")}</p>')
    else:
        parts.append("<table><thead><tr><th>Theme</th><th>Data points</th><th>Share</th><th>First seen</th>"
                     "<th>Last seen</th><th>Trend</th></tr></thead><tbody>")
        for theme in themes:
            trend = direction.get(theme.theme_id, "steady")
            share = theme.data_points / data_points if data_points else 0.0
            parts.append(f'<tr><td><a href="#{escape(theme.theme_id)}">{escape(theme.label)}</a></td>'
                         f"<td>{theme.data_points}</td><td>{share:.1%}</td><td>{_when(theme.first_seen)}</td>"
                         f'<td>{_when(theme.last_seen)}</td><td class="{trend}">{trend}</td></tr>')
        # Noise and feedback close to no theme are counted, not hidden in the nearest theme.
        other = max(data_points - sum(theme.data_points for theme in themes), 0)
        parts.append(f'<tr class="other"><td>Other / unclear</td><td>{other}</td>'
                     f'<td>{other / data_points if data_points else 0.0:.1%}</td><td></td><td></td><td></td></tr>')
        parts.append("</tbody></table>")
        for theme in themes:
            parts.append(f'<section class="theme" id="{escape(theme.theme_id)}"><h3>{escape(theme.label)}</h3>')
            parts.append(f'<p class="keywords">{escape(", ".join(theme.keywords))}</p>')
            parts.append(f"<p>{theme.data_points} data points, first seen {_when(theme.first_seen)}, "
                         f"last seen {_when(theme.last_seen)}.</p><ul>")
            for quote in theme.quotes:
                link = (f' <a href="{escape(quote["source_url"])}">open in Usersnap</a>'
                        if quote.get("source_url") else "")
                # Quotes are masked when themes are found; themes found before that are masked here too.
                parts.append(f"<li><blockquote>“{escape(redact(quote['text']))}”</blockquote>{link}</li>")
            parts.append("</ul></section>")
    parts.append("</body></html>")
    return "\n".join(parts)
