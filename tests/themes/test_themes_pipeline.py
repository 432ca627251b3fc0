"""The themes assets through Dagster, on data imported from the emulator over HTTP, in a real
warehouse: quality on the hand-written realistic corpus the emulator serves (against each text's true
topic), readable labels, stable ids, incremental assignment and embedding, minimum volume, and the
chart and report files."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from tests.conftest import ANCHOR
from tests.conftest import utc as _utc
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.orchestration.resources import ThemeEncoderResource
from usersnap_pipeline.orchestration.themes import ASSIGNMENT_ASSETS
from usersnap_pipeline.steps.themes import read_themes
from usersnap_pipeline.transform.redact import redact
from usersnap_pipeline.warehouse import schema

# Measured 0.58 / 0.41 on this data (700 draws from the corpus, its noise counted as a topic and
# unthemed data points as one more cluster); bench/themes_quality.py reports more.
NMI_FLOOR, ARI_FLOOR, LARGEST_SHARE = 0.5, 0.3, 0.2
# Words of greetings, politeness and signatures: a theme named after one is a theme of boilerplate.
BOILERPLATE = {"thanks", "thank", "thx", "hi", "hello", "hey", "urgent", "asap", "please", "regards", "cheers",
               "sent", "iphone", "team", "danke", "gracias", "merci", "hallo", "hola", "bonjour"}


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def _best_themes(warehouse) -> dict[str, str]:
    table = schema.data_point_themes
    return {row.feedback_id: row.theme_id for row in warehouse.fetch(sa.select(table).where(table.c.rank == 1))}


def _table(warehouse, table: sa.Table) -> list[tuple]:
    return [tuple(row) for row in warehouse.fetch(sa.select(table).order_by(*table.primary_key.columns))]


# Theme discovery, its figures, the report and the schedule's choice do not depend on the warehouse:
# these run on the SQLite file only; incremental assignment covers the PostgreSQL storage of embeddings,
# assignments and trends, and the deployment test runs the themes job on PostgreSQL end to end.
SQLITE_ONLY = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_themes_match_the_topics_that_produced_the_feedback(pipeline, pipeline_emulator):
    pipeline.seed(FIRST_DAY, ANCHOR.date())
    with dg.instance_for_test() as instance:
        result = pipeline.themes(instance)
    assert result.success

    dp = schema.data_points.c
    texts = {row.feedback_id: row.text for row in pipeline.warehouse.fetch(
        sa.select(dp.feedback_id, dp.text).where(dp.is_demo == sa.false()))}
    best = _best_themes(pipeline.warehouse)
    with_text = sorted(fid for fid, text in texts.items() if text.strip())
    assert len(with_text) >= 600
    truth = [pipeline_emulator.store.topics[fid] for fid in with_text]
    found = [best.get(fid, "unthemed") for fid in with_text]
    assert normalized_mutual_info_score(truth, found) >= NMI_FLOOR
    assert adjusted_rand_score(truth, found) >= ARI_FLOOR
    sizes = [found.count(theme_id) for theme_id in set(found) - {"unthemed"}]
    assert max(sizes) <= LARGEST_SHARE * len(found), "no catch-all theme"
    noise = [f for f, topic in zip(found, truth, strict=True) if topic == "noise"]
    assert noise.count("unthemed") >= 0.6 * len(noise), "noise goes to Other / unclear"

    demo_ids = {row[0] for row in pipeline.warehouse.fetch(sa.select(dp.feedback_id).where(dp.is_demo == sa.true()))}
    assert demo_ids and not demo_ids & set(best), "demo items must not be themed"

    themes = list(pipeline.warehouse.rows(schema.themes))
    assert 6 <= len(themes) <= 24
    assert sum(t.data_points for t in read_themes(pipeline.warehouse)) == len(best)
    for theme in themes:
        quotes = json.loads(theme["quotes_json"])
        assert theme["label"] and json.loads(theme["keywords_json"]) and quotes
        assert not set(theme["label"].lower().replace("/", " ").split()) & BOILERPLATE, theme["label"]
        assert len({q["text"].lower() for q in quotes}) == len(quotes)
        assert all(q["source_url"].startswith("https://app.usersnap.com/l/feedback/") for q in quotes)
        assert theme["first_seen"] is not None and theme["last_seen"] is not None
    metadata = _metadata(result, "themes")
    assert metadata["dagster/row_count"] == len(themes)
    assert {record.data["theme_id"] for record in metadata["top_themes"].records} <= {t["theme_id"] for t in themes}


@SQLITE_ONLY
def test_theme_ids_and_assignments_are_stable_between_runs(pipeline):
    pipeline.seed(FIRST_DAY, ANCHOR.date())
    with dg.instance_for_test() as instance:
        assert pipeline.themes(instance).success
        first_themes = {t["theme_id"]: t["label"] for t in pipeline.warehouse.rows(schema.themes)}
        first = _best_themes(pipeline.warehouse)
        # A deliberate re-discovery on the same data finds the same themes under the same ids.
        assert pipeline.themes(instance).success
    assert {t["theme_id"]: t["label"] for t in pipeline.warehouse.rows(schema.themes)} == first_themes
    assert _best_themes(pipeline.warehouse) == first


@SQLITE_ONLY
def test_the_same_data_points_in_another_row_order_give_the_same_themes(pipeline):
    import random

    import numpy as np

    from usersnap_pipeline.steps.themes import learned_boilerplate, load_model
    from usersnap_pipeline.themes.encoder import parts_of
    from usersnap_pipeline.themes.clean import clean_for_themes
    from usersnap_pipeline.themes.discover import discover_themes

    pipeline.seed(FIRST_DAY, ANCHOR.date())
    with dg.instance_for_test() as instance:
        assert pipeline.themes(instance).success
    stored, model = _best_themes(pipeline.warehouse), load_model(pipeline.warehouse)
    dp, emb = schema.data_points.c, schema.data_point_embeddings.c
    rows = pipeline.warehouse.fetch(sa.select(dp.feedback_id, dp.text, emb.vector, emb.language).select_from(
        schema.data_points.join(schema.data_point_embeddings, emb.feedback_id == dp.feedback_id))
        .where(emb.vector.is_not(None)))
    random.Random(11).shuffle(rows)
    vectors = np.vstack([np.frombuffer(row.vector, dtype=np.float16) for row in rows]).astype(np.float32)
    encoder = ThemeEncoderResource(model=pipeline.settings.themes_model).encoder()
    boilerplate = learned_boilerplate(pipeline.warehouse)
    languages = [row.language for row in rows]
    shuffled, _ = discover_themes([row.feedback_id for row in rows],
                                  [clean_for_themes(row.text, boilerplate) for row in rows], vectors,
                                  version=model.version, encoder=model.encoder, embed=encoder.encode,
                                  languages=languages, parts=parts_of(encoder.model, vectors.shape[1]))
    assert [(t.theme_id, t.label) for t in shuffled.themes] == [(t.theme_id, t.label) for t in model.themes]
    again = {rows[a.index].feedback_id: a.theme_id for a in shuffled.assign(vectors, languages) if a.rank == 1}
    assert again == stored


def test_new_data_points_are_assigned_incrementally_to_the_existing_themes(pipeline, pipeline_emulator):
    pipeline.seed(FIRST_DAY, ANCHOR.date())
    with dg.instance_for_test() as instance:
        assert pipeline.themes(instance).success
        model_before = _table(pipeline.warehouse, schema.theme_model)
        assignments_before = _table(pipeline.warehouse, schema.data_point_themes)

        new = [pipeline_emulator.store.submit_random() for _ in range(25)]
        best_before = _best_themes(pipeline.warehouse)
        # Copies of themed data points' forms: the same text must land in the same theme, by the same model.
        originals = sorted(best_before)[:10]
        items = {item["feedback_id"]: item for item in pipeline_emulator.store.items()}
        copies = {pipeline_emulator.store.submit(items[fid]["project_id"], {
            "ordered_inputs": items[fid]["ordered_inputs"], "is_demo": False})["feedback_id"]: fid for fid in originals}
        today = datetime.now(timezone.utc).date()
        pipeline.seed(today, today)
        result = pipeline.themes(instance, ASSIGNMENT_ASSETS)
    assert result.success

    new_feedback = {item["feedback_id"] for item in new if not item["is_demo"]} | set(copies)
    metadata = _metadata(result, "data_point_themes")
    assert metadata["assigned_now"] == len(new_feedback)
    assert _metadata(result, "data_point_embeddings")["embedded_now"] == len(new_feedback), \
        "old data points are not embedded again"
    assert _table(pipeline.warehouse, schema.theme_model) == model_before, "assignment must not re-discover"
    after = _table(pipeline.warehouse, schema.data_point_themes)
    assert [row for row in after if row[0] not in new_feedback] == assignments_before
    best = _best_themes(pipeline.warehouse)
    assert {copy: best.get(copy) for copy in copies} == {copy: best_before[fid] for copy, fid in copies.items()}
    themed_new = [fid for fid in new_feedback if fid in best]
    assert len(themed_new) >= 0.6 * len(new_feedback)  # noise and forms without text stay "Other / unclear"


@SQLITE_ONLY
def test_too_little_feedback_gives_no_themes_and_says_so(pipeline):
    pipeline.seed(FIRST_DAY, ANCHOR.date())
    with dg.instance_for_test() as instance:
        result = pipeline.themes(instance, run_config={"ops": {"themes": {"config": {"min_data_points": 5000}}}})
    assert result.success
    status = _metadata(result, "themes")["status"]
    assert "Not enough feedback" in status and "at least 5000" in status
    assert "No themes yet" in _metadata(result, "data_point_themes")["status"]
    assert not _table(pipeline.warehouse, schema.themes)
    assert not _table(pipeline.warehouse, schema.data_point_themes)
    report = (pipeline.settings.report_dir / "themes.html").read_text()
    assert "No themes yet" in report


def _plant_personal_details(emulator) -> list[str]:
    """Customers' emails, phone numbers, card numbers, IBANs and addresses added to every text input of
    every item, as some write them; the details planted."""
    planted = [json.loads(line) for line in (Path(__file__).parents[1] / "fixtures" / "planted_pii.jsonl")
               .read_text(encoding="utf-8").splitlines()]
    details = []
    for n, item in enumerate(emulator.store.items()):
        extra = planted[n % len(planted)]
        inputs = [{**entry, "text_value": f"{entry['text_value']} {extra['text']}"}
                  if isinstance(entry.get("text_value"), str) and entry["text_value"].strip() else entry
                  for entry in item["ordered_inputs"]]
        emulator.store.edit(item["feedback_id"], {"ordered_inputs": inputs})
        details += extra["pii"]
    return sorted(set(details))


def _shown(metadata: dict) -> str:
    """Every text a metadata entry shows in the UI, tables included."""
    return json.dumps({key: [record.data for record in value.records] if hasattr(value, "records") else str(value)
                       for key, value in metadata.items()}, ensure_ascii=False)


HOSTILE_LINK = "javascript:document.title='PWNED3'"
FORMULA = '=HYPERLINK("http://evil","x")'


def _plant_hostile_rows(warehouse) -> list[str]:
    """Rows as an import from before links were checked would have stored them: a javascript: link on every
    fifth data point, and a text that a spreadsheet would run as a formula; their ids."""
    dp = schema.data_points.c
    ids = [row.feedback_id for row in warehouse.fetch(sa.select(dp.feedback_id).where(dp.is_demo == sa.false())
                                                      .order_by(dp.feedback_id))][::5]
    with warehouse.engine.begin() as conn:
        conn.execute(schema.data_points.update().where(dp.feedback_id.in_(ids)).values(source_url=HOSTILE_LINK))
        conn.execute(schema.data_points.update().where(dp.feedback_id == ids[0]).values(text=FORMULA))
    return ids


@SQLITE_ONLY
def test_trends_chart_and_report_are_written_and_attached(pipeline, pipeline_emulator):
    planted = _plant_personal_details(pipeline_emulator)
    pipeline.seed(FIRST_DAY, ANCHOR.date())
    hostile = _plant_hostile_rows(pipeline.warehouse)
    with dg.instance_for_test() as instance:
        result = pipeline.themes(instance)
    metadata = _metadata(result, "theme_report")
    assert metadata["trends_chart"].startswith("![") and "data:image/png;base64," in metadata["trends_chart"]
    top = metadata["top_themes"]
    assert [column.name for column in top.schema.columns] == ["theme", "data points", "keywords", "theme_id"]
    assert [record.data["theme"] for record in top.records] == [theme.label for theme in read_themes(
        pipeline.warehouse)][:len(top.records)] and top.records

    chart = pipeline.settings.report_dir / "theme_trends.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000
    report = pipeline.settings.report_dir / "themes.html"
    assert metadata["report"] == str(report.resolve())
    html = report.read_text()
    dp = schema.data_points.c
    projects = {row.project_id for row in pipeline.warehouse.fetch(sa.select(dp.project_id).distinct())}
    for heading in ("<h1>Usersnap feedback themes</h1>", "<h2>Trends</h2>", "<h2>All projects</h2>",
                    *(f"<h2>Project: {project}</h2>" for project in projects), '<h2 id="themes">Themes</h2>'):
        assert heading in html
    themes = list(pipeline.warehouse.rows(schema.themes))
    assert all(escape(t["label"]) in html for t in themes)
    assert html.count("Other / unclear") == 1 + len(projects)
    assert metadata["projects"] == len(projects)

    # Sentiment: every data point scored, from its text (the corpus is mostly complaints) and its rating.
    feedback = {row.feedback_id: row for row in pipeline.warehouse.fetch(
        sa.select(dp.feedback_id, dp.text, dp.rating).where(dp.is_demo == sa.false(), dp.deleted_at.is_(None)))}
    sentiments = {row["feedback_id"]: row for row in pipeline.warehouse.rows(schema.data_point_sentiment)}
    assert set(sentiments) == set(feedback)
    labels = Counter(row["sentiment"] for row in sentiments.values())
    assert labels.most_common(1)[0][0] == "negative" and labels["positive"] and labels["neutral"]
    rated = [row for fid, row in sentiments.items() if feedback[fid].rating is not None]
    assert rated and all(row["rating_score"] is not None for row in rated)
    assert "% negative" in html

    # The CSV export: one row per data point, its best theme and sentiment as the warehouse has them.
    with open(pipeline.settings.report_dir / "data_points.csv", newline="", encoding="utf-8") as file:
        exported = {row["feedback_id"]: row for row in csv.DictReader(file)}
    assert metadata["data_points_csv"] == str((pipeline.settings.report_dir / "data_points.csv").resolve())
    best, theme_labels = _best_themes(pipeline.warehouse), {t["theme_id"]: t["label"] for t in themes}
    assert set(exported) == set(feedback)
    for fid, row in exported.items():
        assert (row["theme_id"], row["theme"]) == (best.get(fid, ""), theme_labels.get(best.get(fid), ""))
        assert (row["sentiment"], float(row["sentiment_score"])) == (sentiments[fid]["sentiment"],
                                                                      sentiments[fid]["score"])
        text = redact(feedback[fid].text)
        # A cell a spreadsheet would run as a formula starts with ' instead; numbers stay numbers.
        assert row["text"] == ("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)
        assert row["source_url"] == ("" if fid in hostile else f"https://app.usersnap.com/l/feedback/{fid}")

    # Links from outside: a javascript: link stored by an older import is never a link or an export.
    assert exported[hostile[0]]["text"] == "'" + FORMULA
    assert any(row["sentiment_score"].startswith("-") for row in exported.values()), "negative scores stay numbers"
    assert "javascript:" not in html and "javascript:" not in json.dumps(exported)
    assert metadata["links_dropped"] == len(hostile)
    assert "javascript:" not in json.dumps([row["quotes_json"] for row in themes])
    # Quotes stored before themes checked links: the report renders none of them as a link, and counts them.
    from usersnap_pipeline.steps.themes import write_report

    with pipeline.warehouse.engine.begin() as conn:
        for theme in themes:
            quotes = [{**quote, "source_url": HOSTILE_LINK} for quote in json.loads(theme["quotes_json"])]
            conn.execute(schema.themes.update().where(schema.themes.c.theme_id == theme["theme_id"])
                         .values(quotes_json=json.dumps(quotes)))
    again = write_report(pipeline.warehouse, pipeline.settings.report_dir / "again", now=ANCHOR)
    rendered = again.html_path.read_text()
    assert "javascript:" not in rendered and "open in Usersnap" not in rendered and "<blockquote>" in rendered
    assert again.links_dropped == len(hostile) + sum(len(json.loads(t["quotes_json"])) for t in themes)

    # Personal details: kept in the warehouse, masked in the report's quotes and in the UI's metadata.
    stored = " ".join(row["text"] or "" for row in pipeline.warehouse.rows(schema.data_points))
    assert all(detail in stored for detail in planted)
    assert "[email]" in html or "[phone]" in html  # the quotes did carry some
    quotes = json.dumps([row["quotes_json"] for row in themes], ensure_ascii=False)
    shown = html + quotes + json.dumps(exported, ensure_ascii=False) + "".join(_shown(_metadata(result, asset)) for asset in ("themes", "theme_report"))
    assert [detail for detail in planted if detail in shown or escape(detail) in shown] == []

    every_scope = list(pipeline.warehouse.rows(schema.theme_trends))
    assert {row["project_id"] for row in every_scope} == {"", *projects}, "all projects, and each"
    trends = [row for row in every_scope if row["project_id"] == ""]
    days = {row["period_start"] for row in trends if row["granularity"] == "day"}
    assert len(days) == (ANCHOR.date() - FIRST_DAY).days + 1
    per_day = {}
    for row in trends:
        if row["granularity"] == "day":
            per_day[row["period_start"]] = per_day.get(row["period_start"], 0) + row["share"]
    # Each day's shares add up to the part of that day's feedback that has a theme; the rest is
    # "Other / unclear" and the forms without text.
    days_of = {row.feedback_id: _utc(row.created_at).date() for row in pipeline.warehouse.fetch(
        sa.select(dp.feedback_id, dp.created_at).where(dp.is_demo == sa.false()))}
    every, themed = Counter(days_of.values()), Counter(days_of[fid] for fid in best)
    assert per_day == pytest.approx({day: themed[day] / every[day] for day in every}, abs=1e-3)
    assert _metadata(result, "theme_trends")["dagster/row_count"] == len(every_scope)


@SQLITE_ONLY
def test_the_report_command_renders_from_the_warehouse(pipeline, tmp_path, capsys):
    from usersnap_pipeline.cli import main

    pipeline.seed(FIRST_DAY, ANCHOR.date())
    with dg.instance_for_test() as instance:
        assert pipeline.themes(instance).success
    out = tmp_path / "cli-report"
    url = pipeline.warehouse.url.render_as_string(hide_password=False)
    assert main(["report", "--warehouse-url", url, "--out", str(out)]) == 0
    themes = len(list(pipeline.warehouse.rows(schema.themes)))
    assert f"{themes} themes" in capsys.readouterr().out
    assert (out / "themes.html").read_text().count('<section class="theme"') == themes
    assert (out / "theme_trends.png").stat().st_size > 10_000


@SQLITE_ONLY
def test_the_hourly_schedule_discovers_only_when_there_are_no_themes_yet(pipeline):
    def requested() -> set[str]:
        with dg.instance_for_test() as instance, \
                dg.build_schedule_context(instance=instance, resources=pipeline.defs.resources) as context:
            schedule = pipeline.defs.resolve_schedule_def("usersnap_hourly_themes")
            [request] = schedule.evaluate_tick(context).run_requests
        return {key.to_user_string() for key in request.asset_selection}

    pipeline.seed(FIRST_DAY, ANCHOR.date())
    assert requested() == {"data_point_embeddings", "data_point_sentiment", "themes", "data_point_themes",
                           "theme_trends", "theme_report", "theme_alerts"}
    with dg.instance_for_test() as instance:
        assert pipeline.themes(instance).success
    assert requested() == {"data_point_embeddings", "data_point_sentiment", "data_point_themes", "theme_trends",
                           "theme_report", "theme_alerts"}
