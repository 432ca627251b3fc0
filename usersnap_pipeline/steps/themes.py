"""Themes over the warehouse: discover them (deliberately), assign data points to them
(incrementally), and count them over time. Reads data_points, writes the theme tables."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from ..reports import render_report, trend_chart_png
from ..themes import MIN_DATA_POINTS
from ..themes.describe import ThemeSummary, representative_quotes, summary_of
from ..themes.discover import NotEnoughFeedback, discover_themes
from ..themes.model import ThemeModel
from ..themes.trends import TrendRow, theme_trends
from ..warehouse import Warehouse
from ..warehouse import schema as s
from ..warehouse.store import read_date, read_timestamp

FEEDBACK = s.data_points.c.is_demo == sa.false()  # demo items are Usersnap's samples, not customers


@dataclass
class Discovery:
    data_points: int
    model: ThemeModel | None = None
    scores: dict[int, float] = field(default_factory=dict)
    not_enough: str | None = None  # why no themes were found


@dataclass
class AssignmentReport:
    model_version: str | None
    rows: int = 0  # in data_point_themes
    assigned: int = 0
    removed: int = 0
    data_points: int = 0
    themed: int = 0
    per_theme: dict[str, int] = field(default_factory=dict)


def load_model(warehouse: Warehouse) -> ThemeModel | None:
    rows = warehouse.fetch(sa.select(s.theme_model.c.model_json).order_by(s.theme_model.c.discovered_at.desc()))
    return ThemeModel.from_json(rows[0][0]) if rows else None


def discover(warehouse: Warehouse, *, now: datetime, seed: int = 0,
             min_data_points: int = MIN_DATA_POINTS) -> Discovery:
    """Find themes in every data point and make them the current model; keep the previous model
    (and its assignments) when there is too little feedback."""
    dp = s.data_points.c
    points = warehouse.fetch(sa.select(dp.feedback_id, dp.text, dp.source_url, dp.created_at)
                             .where(FEEDBACK).order_by(dp.created_at, dp.feedback_id))
    texts = [row.text or "" for row in points]
    try:
        model, scores = discover_themes(texts, version=now.isoformat(), seed=seed, previous=load_model(warehouse),
                                        min_data_points=min_data_points)
    except NotEnoughFeedback as exc:
        return Discovery(len(points), not_enough=str(exc))

    candidates, seen = defaultdict(list), defaultdict(list)
    for assignment in model.assign(texts):
        if assignment.rank == 1:
            row = points[assignment.index]
            candidates[assignment.theme_id].append((assignment.score, row.feedback_id, row.text, row.source_url))
            seen[assignment.theme_id].append(read_timestamp(row.created_at))
    theme_rows = []
    for theme in model.themes:
        quotes = representative_quotes(candidates[theme.theme_id])
        size = len(candidates[theme.theme_id])
        theme_rows.append((theme.theme_id, theme.label, json.dumps(list(theme.keywords)),
                           summary_of(theme.keywords, size, size / len(points), quotes),
                           json.dumps([q._asdict() for q in quotes], ensure_ascii=False), size,
                           min(seen[theme.theme_id], default=None), max(seen[theme.theme_id], default=None),
                           model.version))
    warehouse.replace_rows({s.theme_model: [(model.version, now, len(points), model.to_json())], s.themes: theme_rows},
                           whole=(s.theme_model, s.themes))
    return Discovery(len(points), model, scores)


def assign(warehouse: Warehouse, *, now: datetime) -> AssignmentReport:
    """Assign the data points that are new, edited, or were assigned by an older model; drop the
    assignments of data points that are gone. Theme ids never change here."""
    model = load_model(warehouse)
    if model is None:
        return AssignmentReport(None)
    dp, state = s.data_points.c, s.theme_assignment_state.c
    current = {row.feedback_id: read_timestamp(row.updated_at)
               for row in warehouse.fetch(sa.select(dp.feedback_id, dp.updated_at).where(FEEDBACK))}
    done = {row.feedback_id: (row.model_version, read_timestamp(row.data_point_updated_at))
            for row in warehouse.fetch(sa.select(state.feedback_id, state.model_version, state.data_point_updated_at))}
    stale = sorted(fid for fid, updated in current.items() if done.get(fid) != (model.version, updated))
    gone = sorted(set(done) - set(current))

    points = warehouse.fetch_by_ids(sa.select(dp.feedback_id, dp.text), dp.feedback_id, stale)
    assignments = model.assign([row.text or "" for row in points])
    theme_rows = [(points[a.index].feedback_id, a.theme_id, a.rank, a.score) for a in assignments]
    state_rows = [(fid, model.version, current[fid], now) for fid in stale]
    warehouse.replace_rows({s.data_point_themes: theme_rows, s.theme_assignment_state: state_rows},
                           feedback_ids=[*stale, *gone])
    per_theme = _refresh_theme_sizes(warehouse)
    rows = warehouse.fetch(sa.select(sa.func.count()).select_from(s.data_point_themes))[0][0]
    return AssignmentReport(model.version, rows, assigned=len(stale), removed=len(gone), data_points=len(current),
                            themed=sum(per_theme.values()), per_theme=per_theme)


def _refresh_theme_sizes(warehouse: Warehouse) -> dict[str, int]:
    """Size and first/last seen of each theme, from the best-theme assignments as they are now."""
    dpt, dp = s.data_point_themes.c, s.data_points.c
    stats = warehouse.fetch(
        sa.select(dpt.theme_id, sa.func.count(), sa.func.min(dp.created_at), sa.func.max(dp.created_at))
        .select_from(s.data_point_themes.join(s.data_points, dp.feedback_id == dpt.feedback_id))
        .where(dpt.rank == 1).group_by(dpt.theme_id))
    by_theme = {row[0]: row for row in stats}
    rows = []
    for theme in warehouse.rows(s.themes):
        _, size, first, last = by_theme.get(theme["theme_id"], (None, 0, None, None))
        rows.append((*[theme[c] for c in ("theme_id", "label", "keywords_json", "summary", "quotes_json")],
                     size, read_timestamp(first), read_timestamp(last), theme["model_version"]))
    warehouse.replace_rows({s.themes: rows}, whole=[s.themes])
    return {row[0]: row[5] for row in rows}


def build_trends(warehouse: Warehouse, *, as_of: date) -> list[TrendRow]:
    """Recount every theme per day and week from the current assignments; replaces theme_trends."""
    dpt, dp = s.data_point_themes.c, s.data_points.c
    theme_ids = [row[0] for row in warehouse.fetch(sa.select(s.themes.c.theme_id).order_by(s.themes.c.data_points.desc(),
                                                                                           s.themes.c.theme_id))]
    themed = [(row.theme_id, read_timestamp(row.created_at).date()) for row in warehouse.fetch(
        sa.select(dpt.theme_id, dp.created_at)
        .select_from(s.data_point_themes.join(s.data_points, dp.feedback_id == dpt.feedback_id))
        .where(dpt.rank == 1))]
    all_days = [read_timestamp(row.created_at).date()
                for row in warehouse.fetch(sa.select(dp.created_at).where(FEEDBACK))]
    rows = theme_trends(theme_ids, themed, all_days, as_of=as_of) if theme_ids else []
    warehouse.replace_rows({s.theme_trends: rows}, whole=[s.theme_trends])
    return rows


def read_themes(warehouse: Warehouse) -> list[ThemeSummary]:
    return [ThemeSummary(row["theme_id"], row["label"], json.loads(row["keywords_json"]), row["summary"],
                      json.loads(row["quotes_json"]), row["data_points"], read_timestamp(row["first_seen"]),
                      read_timestamp(row["last_seen"]))
            for row in warehouse.rows(s.themes, order_by=[s.themes.c.data_points.desc(), s.themes.c.theme_id])]


def read_trends(warehouse: Warehouse) -> list[TrendRow]:
    return [TrendRow(**{**row, "period_start": read_date(row["period_start"])}) for row in warehouse.rows(s.theme_trends)]


REPORT_FILE, CHART_FILE = "themes.html", "theme_trends.png"


@dataclass
class Report:
    html_path: Path
    chart_path: Path
    chart_png: bytes
    themes: list[ThemeSummary]
    trends: list[TrendRow]


def write_report(warehouse: Warehouse, out_dir: Path, *, now: datetime, note: str | None = None) -> Report:
    """Render the trends chart and the HTML report from the warehouse into ``out_dir`` (each file
    replaced whole, so a reader never sees half a report)."""
    themes, trends = read_themes(warehouse), read_trends(warehouse)
    chart = trend_chart_png({theme.theme_id: theme.label for theme in themes}, trends)
    count = warehouse.fetch(sa.select(sa.func.count()).select_from(s.data_points).where(FEEDBACK))[0][0]
    html = render_report(themes, trends, chart, generated_at=now, data_points=count, note=note)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / REPORT_FILE, out_dir / CHART_FILE
    for path, content in zip(paths, (html.encode(), chart), strict=True):
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_bytes(content)
        partial.replace(path)
    return Report(*paths, chart, themes, trends)
