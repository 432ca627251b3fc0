"""Themes over the warehouse: embed data points (incrementally), discover themes (deliberately), assign
data points to them (incrementally), and count them over time. Reads data_points, writes the theme tables."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from ..reports import Scope, render_report, trend_chart_png
from ..themes import MIN_DATA_POINTS
from ..themes.boilerplate import learn_boilerplate, strip_boilerplate, units_of
from ..themes.clean import clean_for_themes, is_unclear, prose
from ..themes.describe import ThemeSummary, representative_quotes, summary_of
from ..themes.discover import NotEnoughFeedback, discover_themes
from ..themes.encoder import TextEncoder, parts_of
from ..themes.languages import detect as detect_language
from ..themes.model import ThemeModel
from ..themes.sentiment import Sentiment
from ..themes.trends import Themed, TrendRow, theme_trends
from ..transform.links import safe_link
from ..transform.redact import redact
from ..warehouse import Warehouse
from ..warehouse import schema as s
from ..warehouse.store import read_date, read_timestamp

# Customers' feedback as it is now: not Usersnap's demo samples, not feedback deleted in Usersnap since.
FEEDBACK = sa.and_(s.data_points.c.is_demo == sa.false(), s.data_points.c.deleted_at.is_(None))
# Part of every embedding's key: a change to what clean_for_themes removes embeds every text again.
CLEANING_VERSION = "cleaned-4"
EMBED_CHUNK = 2000  # data points embedded and written per transaction: memory stays bounded


@dataclass
class EmbeddingReport:
    encoder: str
    data_points: int
    embedded: int = 0  # now: new or edited texts
    unclear: int = 0  # of those, too little left to embed ("Other / unclear")
    removed: int = 0  # data points gone
    boilerplate: int = 0  # lines and sentences learned as boilerplate (removed before embedding)


@dataclass
class Discovery:
    data_points: int
    model: ThemeModel | None = None
    scores: dict[int, float] = field(default_factory=dict)
    not_enough: str | None = None  # why no themes were found
    other: int = 0  # data points without a theme ("Other / unclear"): no text, too little, or close to none


@dataclass
class AssignmentReport:
    model_version: str | None
    rows: int = 0  # in data_point_themes
    assigned: int = 0
    removed: int = 0
    data_points: int = 0
    themed: int = 0
    per_theme: dict[str, int] = field(default_factory=dict)
    waiting: int = 0  # new data points not embedded yet: assigned once they are


def encoder_key(encoder: TextEncoder) -> str:
    return f"{encoder.version}; {CLEANING_VERSION}"


def _sha1(text: str | None) -> str:
    return hashlib.sha1((text or "").encode("utf-8", "surrogatepass")).hexdigest()


def text_key(text: str, boilerplate: frozenset[str]) -> str:
    """What an embedding is cached under: the text, and the learned boilerplate found in it (a text embeds
    again when a line of it becomes, or stops being, boilerplate; the others are not touched)."""
    found = sorted(set(units_of(text)) & boilerplate) if boilerplate else []
    return _sha1(text if not found else "\x00".join([text, *found]))


def learned_boilerplate(warehouse: Warehouse) -> frozenset[str]:
    """The boilerplate of the customers' feedback as it is now (boilerplate.py)."""
    dp = s.data_points.c
    return learn_boilerplate(row.text for row in warehouse.fetch(sa.select(dp.text).where(FEEDBACK)))


def embed(warehouse: Warehouse, encoder: TextEncoder) -> EmbeddingReport:
    """Embed every data point whose text (or the boilerplate learned in it) is new or edited, or was embedded
    by another encoder; drop the embeddings of data points that are gone. Identical cleaned texts within a
    chunk are encoded once."""
    key, dp, emb = encoder_key(encoder), s.data_points.c, s.data_point_embeddings.c
    points = warehouse.fetch(sa.select(dp.feedback_id, dp.text).where(FEEDBACK).order_by(dp.feedback_id))
    boilerplate = learn_boilerplate(row.text for row in points)
    cached = {row.feedback_id: (row.encoder, row.text_sha1)
              for row in warehouse.fetch(sa.select(emb.feedback_id, emb.encoder, emb.text_sha1))}
    stale = [(row.feedback_id, row.text or "", digest) for row in points
             if cached.get(row.feedback_id) != (key, digest := text_key(row.text or "", boilerplate))]
    report = EmbeddingReport(key, len(points), embedded=len(stale), boilerplate=len(boilerplate))
    for start in range(0, len(stale), EMBED_CHUNK):
        chunk = stale[start:start + EMBED_CHUNK]
        cleaned = [clean_for_themes(text, boilerplate) for _, text, _ in chunk]
        vectors = embed_cleaned(encoder, cleaned)
        rows = [(feedback_id, key, digest, None if vector is None else vector.astype(np.float16).tobytes(),
                 None if vector is None else detect_language(text))
                for (feedback_id, _, digest), vector, text in zip(chunk, vectors, cleaned, strict=True)]
        report.unclear += sum(1 for row in rows if row[3] is None)
        warehouse.replace_rows({s.data_point_embeddings: rows}, feedback_ids=[row[0] for row in rows])
    gone = sorted(set(cached) - {row.feedback_id for row in points})
    if gone:
        warehouse.replace_rows({s.data_point_embeddings: []}, feedback_ids=gone)
    report.removed = len(gone)
    return report


def embed_texts(encoder: TextEncoder, texts: Sequence[str],
                boilerplate: frozenset[str] = frozenset()) -> list[np.ndarray | None]:
    """Each text as themes and sentiment read it: cleaned, then embedded (identical cleaned texts
    once); None when too little is left ("Other / unclear")."""
    return embed_cleaned(encoder, [clean_for_themes(text, boilerplate) for text in texts])


def embed_cleaned(encoder: TextEncoder, cleaned: Sequence[str]) -> list[np.ndarray | None]:
    unique = sorted({text for text in cleaned if not is_unclear(text)})
    vectors = dict(zip(unique, encoder.encode(unique), strict=True))
    return [vectors.get(text) for text in cleaned]


def vectors_of(rows: Sequence[sa.Row]) -> np.ndarray:
    """The rows' stored embeddings (float16 bytes) as one float32 matrix."""
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack([np.frombuffer(row.vector, dtype=np.float16) for row in rows]).astype(np.float32)


def load_model(warehouse: Warehouse) -> ThemeModel | None:
    """The current theme model; None when there is none, or only one from before embeddings (TF-IDF),
    whose themes cannot assign embeddings: the next discovery replaces it."""
    rows = warehouse.fetch(sa.select(s.theme_model.c.model_json).order_by(s.theme_model.c.discovered_at.desc()))
    try:
        return ThemeModel.from_json(rows[0][0]) if rows else None
    except ValueError:
        return None


def discover(warehouse: Warehouse, encoder: TextEncoder, *, now: datetime, seed: int = 0,
             min_data_points: int = MIN_DATA_POINTS) -> Discovery:
    """Find themes in every embedded data point and make them the current model; keep the previous
    model (and its assignments) when there is too little feedback."""
    key, dp, emb = encoder_key(encoder), s.data_points.c, s.data_point_embeddings.c
    total = warehouse.fetch(sa.select(sa.func.count()).select_from(s.data_points).where(FEEDBACK))[0][0]
    points = warehouse.fetch(
        sa.select(dp.feedback_id, dp.text, dp.source_url, dp.created_at, emb.vector, emb.language)
        .select_from(s.data_points.join(s.data_point_embeddings, emb.feedback_id == dp.feedback_id))
        .where(FEEDBACK, emb.encoder == key, emb.vector.is_not(None))
        .order_by(dp.feedback_id))
    vectors = vectors_of(points)
    boilerplate = learned_boilerplate(warehouse)
    try:
        model, scores = discover_themes([row.feedback_id for row in points],
                                        [clean_for_themes(row.text or "", boilerplate) for row in points], vectors,
                                        version=now.isoformat(), encoder=key, embed=encoder.encode, seed=seed,
                                        previous=load_model(warehouse), min_data_points=min_data_points,
                                        languages=[row.language for row in points],
                                        parts=parts_of(encoder.model, vectors.shape[1]))
    except NotEnoughFeedback as exc:
        return Discovery(total, not_enough=str(exc))

    vectors = model.centred(vectors, [row.language for row in points])  # as the centroids see them
    members: dict[str, list[int]] = defaultdict(list)
    for assignment in model.assign(vectors):
        if assignment.rank == 1:
            members[assignment.theme_id].append(assignment.index)
    theme_rows = []
    for theme in model.themes:
        chosen = members[theme.theme_id]
        quotes = representative_quotes([(points[i].feedback_id, prose(strip_boilerplate(points[i].text, boilerplate)),
                                          safe_link(points[i].source_url)) for i in chosen],
                                       vectors[chosen], theme.centroid)
        seen = [read_timestamp(points[i].created_at) for i in chosen]
        theme_rows.append((theme.theme_id, theme.label, json.dumps(list(theme.keywords), ensure_ascii=False),
                           summary_of(theme.keywords, len(chosen), len(chosen) / max(total, 1), quotes),
                           json.dumps([q._asdict() for q in quotes], ensure_ascii=False), len(chosen),
                           min(seen, default=None), max(seen, default=None), model.version))
    warehouse.replace_rows({s.theme_model: [(model.version, now, total, model.to_json())], s.themes: theme_rows},
                           whole=(s.theme_model, s.themes))
    return Discovery(total, model, scores, other=total - sum(len(m) for m in members.values()))


def assign(warehouse: Warehouse, *, now: datetime) -> AssignmentReport:
    """Assign the data points that are new, edited, or were assigned by an older model, from their
    cached embeddings; drop the assignments of data points that are gone. Theme ids never change here.
    A data point whose embedding is not there yet waits for the next run; one too unclear to embed is
    assigned no theme ("Other / unclear")."""
    model = load_model(warehouse)
    if model is None:
        return AssignmentReport(None)
    dp, state, emb = s.data_points.c, s.theme_assignment_state.c, s.data_point_embeddings.c
    current = {row.feedback_id: read_timestamp(row.updated_at)
               for row in warehouse.fetch(sa.select(dp.feedback_id, dp.updated_at).where(FEEDBACK))}
    done = {row.feedback_id: (row.model_version, read_timestamp(row.data_point_updated_at))
            for row in warehouse.fetch(sa.select(state.feedback_id, state.model_version, state.data_point_updated_at))}
    stale = sorted(fid for fid, updated in current.items() if done.get(fid) != (model.version, updated))
    gone = sorted(set(done) - set(current))

    embedded = warehouse.fetch_by_ids(sa.select(emb.feedback_id, emb.vector, emb.language)
                                      .where(emb.encoder == model.encoder), emb.feedback_id, stale)
    ready = {row.feedback_id for row in embedded}
    with_vector = [row for row in embedded if row.vector is not None]
    assignments = model.assign(vectors_of(with_vector), [row.language for row in with_vector])
    theme_rows = [(with_vector[a.index].feedback_id, a.theme_id, a.rank, a.score) for a in assignments]
    state_rows = [(fid, model.version, current[fid], now) for fid in stale if fid in ready]
    warehouse.replace_rows({s.data_point_themes: theme_rows, s.theme_assignment_state: state_rows},
                           feedback_ids=[*ready, *gone])
    per_theme = {theme_id: size for theme_id, (size, _, _) in current_theme_sizes(warehouse).items()}
    rows = warehouse.fetch(sa.select(sa.func.count()).select_from(s.data_point_themes))[0][0]
    return AssignmentReport(model.version, rows, assigned=len(ready), removed=len(gone), data_points=len(current),
                            themed=sum(per_theme.values()), per_theme=per_theme, waiting=len(stale) - len(ready))


def current_theme_sizes(warehouse: Warehouse) -> dict[str, tuple[int, datetime | None, datetime | None]]:
    """Each theme's data points and first/last seen as assigned now (best theme only). Read, never
    stored: the themes table is discovery's, and assignment only writes its own tables."""
    dpt, dp = s.data_point_themes.c, s.data_points.c
    stats = warehouse.fetch(
        sa.select(dpt.theme_id, sa.func.count(), sa.func.min(dp.created_at), sa.func.max(dp.created_at))
        .select_from(s.data_point_themes.join(s.data_points, dp.feedback_id == dpt.feedback_id))
        .where(dpt.rank == 1).group_by(dpt.theme_id))
    return {row[0]: (row[1], read_timestamp(row[2]), read_timestamp(row[3])) for row in stats}


def build_trends(warehouse: Warehouse, *, as_of: date) -> list[TrendRow]:
    """Recount every theme per day and week, all projects and each, with its sentiment and each week's
    verdict, from the current assignments and scores; replaces theme_trends."""
    dpt, dp, snt = s.data_point_themes.c, s.data_points.c, s.data_point_sentiment.c
    theme_ids = [theme.theme_id for theme in read_themes(warehouse)]
    themed: dict[str, list[Themed]] = defaultdict(list)
    for row in warehouse.fetch(
            sa.select(dpt.theme_id, dp.project_id, dp.created_at, snt.sentiment, snt.score)
            .select_from(s.data_point_themes.join(s.data_points, dp.feedback_id == dpt.feedback_id)
                         .outerjoin(s.data_point_sentiment, snt.feedback_id == dpt.feedback_id))
            .where(dpt.rank == 1, FEEDBACK)):
        themed[row.project_id].append(Themed(row.theme_id, read_timestamp(row.created_at).date(),
                                             None if row.sentiment is None else Sentiment(row.sentiment, row.score,
                                                                                          None, None)))
    days: dict[str, list[date]] = defaultdict(list)
    for row in warehouse.fetch(sa.select(dp.project_id, dp.created_at).where(FEEDBACK)):
        days[row.project_id].append(read_timestamp(row.created_at).date())
    rows: list[TrendRow] = []
    if theme_ids:
        rows += theme_trends(theme_ids, [point for points in themed.values() for point in points],
                             [day for project in days.values() for day in project], as_of=as_of)
        for project_id in sorted(days):
            rows += theme_trends(theme_ids, themed[project_id], days[project_id], as_of=as_of,
                                 project_id=project_id)
    warehouse.replace_rows({s.theme_trends: rows}, whole=[s.theme_trends])
    return rows


def read_themes(warehouse: Warehouse) -> list[ThemeSummary]:
    """The current themes, largest first, sized by the assignments as they are now."""
    sizes = current_theme_sizes(warehouse)
    themes = [ThemeSummary(row["theme_id"], row["label"], json.loads(row["keywords_json"]), row["summary"],
                           json.loads(row["quotes_json"]), *sizes.get(row["theme_id"], (0, None, None)))
              for row in warehouse.rows(s.themes)]
    return sorted(themes, key=lambda theme: (-theme.data_points, theme.theme_id))


def read_trends(warehouse: Warehouse) -> list[TrendRow]:
    return [TrendRow(**{**row, "period_start": read_date(row["period_start"])}) for row in warehouse.rows(s.theme_trends)]


REPORT_FILE, CHART_FILE, CSV_FILE = "themes.html", "theme_trends.png", "data_points.csv"
# The export, one row per data point (customers' feedback as it is now): its best theme and sentiment.
# The text is masked as in the report: the file is made to be passed on; the warehouse keeps the original.
CSV_COLUMNS = ("feedback_id", "project_id", "project", "created_at", "theme_id", "theme", "sentiment",
               "sentiment_score", "rating", "rating_scale", "source_url", "text")
# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), +, -, @, and tab or
# CR before them): such a text cell gets a leading ' (OWASP's advice). The numeric columns (sentiment_score,
# rating) are numbers this code formats, never text from outside, so -0.5 stays a number there.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Report:
    html_path: Path
    chart_path: Path
    csv_path: Path
    chart_png: bytes
    themes: list[ThemeSummary]
    trends: list[TrendRow]
    scopes: list[Scope]
    links_dropped: int = 0  # links to Usersnap not rendered or exported: not https (http on loopback)


def _report_points(warehouse: Warehouse):
    """Every data point of the report with its best theme and sentiment, in project and time order."""
    dp, dpt, snt = s.data_points.c, s.data_point_themes.c, s.data_point_sentiment.c
    best = sa.select(dpt.feedback_id, dpt.theme_id).where(dpt.rank == 1).subquery()
    query = (sa.select(dp.feedback_id, dp.project_id, dp.created_at, dp.rating, dp.rating_scale, dp.source_url, dp.text,
                       best.c.theme_id, snt.sentiment, snt.score)
             .select_from(s.data_points.outerjoin(best, best.c.feedback_id == dp.feedback_id)
                          .outerjoin(s.data_point_sentiment, snt.feedback_id == dp.feedback_id))
             .where(FEEDBACK).order_by(dp.project_id, dp.created_at, dp.feedback_id))
    return warehouse.stream(query)


def csv_text(value: str) -> str:
    """A text cell no spreadsheet reads as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_report(warehouse: Warehouse, out_dir: Path, *, now: datetime, note: str | None = None) -> Report:
    """Render the trends chart, the HTML report (all projects, then each project) and the CSV export of
    data points from the warehouse into ``out_dir``; each file is replaced whole, so a reader never sees
    half of one. Only safe links (https; http on loopback) are rendered or exported; the others are counted."""
    themes, trends = read_themes(warehouse), read_trends(warehouse)
    labels = {theme.theme_id: theme.label for theme in themes}
    names = {row.project_id: row.name for row in warehouse.fetch(sa.select(s.projects.c.project_id, s.projects.c.name))}
    overall, per_project = Scope("All projects", "all-projects"), {}
    dropped = sum(1 for theme in themes for quote in theme.quotes
                  if quote.get("source_url") and safe_link(quote["source_url"]) is None)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / CSV_FILE
    partial = csv_path.with_suffix(".csv.partial")
    with partial.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for row in _report_points(warehouse):
            created = read_timestamp(row.created_at)
            sentiment = None if row.sentiment is None else Sentiment(row.sentiment, row.score, None, None)
            project = names.get(row.project_id) or row.project_id
            scope = per_project.setdefault(row.project_id, Scope(f"Project: {project}", f"project-{row.project_id}",
                                                                 row.project_id))
            for target in (overall, scope):
                target.add(row.theme_id, sentiment)
            link = safe_link(row.source_url)
            dropped += bool(row.source_url) and link is None
            texts = (row.feedback_id, row.project_id, names.get(row.project_id) or "", created.isoformat(),
                     row.theme_id or "", labels.get(row.theme_id, ""), row.sentiment or "")
            writer.writerow((*map(csv_text, texts), "" if row.score is None else row.score,
                             "" if row.rating is None else f"{row.rating:g}", csv_text(row.rating_scale or ""),
                             link or "", csv_text(redact(row.text or ""))))
    partial.replace(csv_path)
    chart = trend_chart_png(labels, trends)
    scopes = [overall, *sorted(per_project.values(), key=lambda scope: scope.title.casefold())]
    html = render_report(themes, scopes, trends, chart, generated_at=now, note=note)
    paths = out_dir / REPORT_FILE, out_dir / CHART_FILE
    for path, content in zip(paths, (html.encode(), chart), strict=True):
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_bytes(content)
        partial.replace(path)
    return Report(*paths, csv_path, chart, themes, trends, scopes, links_dropped=dropped)
