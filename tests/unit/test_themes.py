"""Pure theme functions: trends arithmetic and flags, keywords and labels, the model round trip."""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
import pytest

from usersnap_pipeline.emulator.data import TOPICS
from usersnap_pipeline.themes import MIN_DATA_POINTS
from usersnap_pipeline.themes.describe import keywords_of, label_of, representative_quotes, summary_of
from usersnap_pipeline.themes.discover import NotEnoughFeedback, discover_themes
from usersnap_pipeline.themes.model import ThemeModel
from usersnap_pipeline.themes.trends import movers, theme_trends

MONDAY = date(2026, 6, 1)


def _texts(count: int, seed: int = 1) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    topics = [rng.choice(list(TOPICS)) for _ in range(count)]
    return [rng.choice(TOPICS[t]["phrases"]) + ". " + rng.choice(TOPICS[t]["titles"]) for t in topics], topics


def test_a_theme_that_doubles_its_share_in_a_complete_week_is_rising():
    days = [MONDAY + timedelta(days=i % 7) for i in range(200)] + [MONDAY + timedelta(days=7 + i % 7) for i in range(200)]
    themed = [("dark", d) for d in days[:20]] + [("dark", d) for d in days[200:260]] + \
             [("billing", d) for d in days[:60]] + [("billing", d) for d in days[200:215]]
    rows = theme_trends(["dark", "billing"], themed, days, as_of=MONDAY + timedelta(days=14))
    week = {(r.theme_id, r.period_start): r for r in rows if r.granularity == "week"}
    second = MONDAY + timedelta(days=7)
    assert week[("dark", second)].data_points == 60 and week[("dark", second)].previous_data_points == 20
    assert week[("dark", second)].share == 0.3 and week[("dark", second)].change == 40
    assert week[("dark", second)].direction == "rising"
    assert week[("billing", second)].direction == "falling"
    assert movers(rows) == {"rising": ["dark"], "falling": ["billing"]}
    assert {r.period_start for r in rows if r.granularity == "day"} == {MONDAY + timedelta(days=i) for i in range(14)}


def test_noise_and_unfinished_periods_are_not_flagged():
    days = [MONDAY + timedelta(days=i % 14) for i in range(280)]
    themed = [("a", d) for d in days[:150:2]]  # ~27% every week
    rows = theme_trends(["a"], themed, days, as_of=MONDAY + timedelta(days=10))
    weeks = [r for r in rows if r.granularity == "week"]
    assert [r.direction for r in weeks] == ["steady", "in progress"]
    assert [r.complete for r in weeks] == [True, False]
    assert theme_trends(["a"], [], [], as_of=MONDAY) == []


def test_keywords_prefer_phrases_and_labels_stay_short():
    vocabulary = ["dark", "dark mode", "mode", "theme", "night"]
    keywords = keywords_of(np.array([0.9, 0.8, 0.7, 0.5, 0.1]), vocabulary)
    assert keywords == ("dark", "dark mode", "theme", "night")
    assert label_of(keywords) == "Dark mode / theme"
    assert label_of(()) == "(no keywords)"


def test_representative_quotes_skip_duplicates_and_keep_the_best():
    quotes = representative_quotes([(0.5, "b", "Same text", None), (0.9, "a", "same  text", "u"), (0.7, "c", "Other", "v")])
    assert [(q.feedback_id, q.text) for q in quotes] == [("a", "same text"), ("c", "Other")]


def test_discovery_is_deterministic_and_the_model_survives_json():
    texts, _ = _texts(600)
    model, scores = discover_themes(texts, version="v1")
    again, _ = discover_themes(texts, version="v1")
    assert [t.theme_id for t in model.themes] == [t.theme_id for t in again.themes]
    assert scores and max(scores, key=scores.get) >= 3
    restored = ThemeModel.from_json(model.to_json())
    assert restored.assign(texts) == model.assign(texts)


def test_below_the_minimum_volume_no_themes_are_invented():
    texts, _ = _texts(MIN_DATA_POINTS - 1)
    with pytest.raises(NotEnoughFeedback, match=f"{MIN_DATA_POINTS - 1} data points with text; themes need at least"):
        discover_themes(texts + ["", "   "], version="v1")


def test_rediscovery_with_more_data_keeps_the_ids_of_matching_themes():
    texts, _ = _texts(800)
    first, _ = discover_themes(texts[:500], version="v1")
    second, _ = discover_themes(texts, version="v2", previous=first)
    kept = {t.theme_id for t in second.themes} & {t.theme_id for t in first.themes}
    assert len(kept) >= 0.75 * min(len(first.themes), len(second.themes))


def test_the_summary_is_one_paragraph_with_quotes_and_their_links():
    quotes = representative_quotes([(0.9, "a", "Dark mode please", "https://app.usersnap.com/l/feedback/a"),
                                    (0.8, "b", "Night theme", None)])
    summary = summary_of(["dark mode", "theme"], 40, 0.125, quotes)
    assert summary == ("40 data points (12% of feedback) about dark mode, theme. People say: “Dark mode please” "
                       "(https://app.usersnap.com/l/feedback/a) “Night theme”")
