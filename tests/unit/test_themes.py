"""Pure theme functions: trends arithmetic and flags, cleaning, keyphrases and labels, quotes, discovery
on embeddings (determinism, stable ids, the Other bucket), the model round trip."""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
import pytest

from usersnap_pipeline.themes import MIN_DATA_POINTS
from usersnap_pipeline.themes.clean import STOP_WORDS, clean_for_themes, is_unclear, language_of
from usersnap_pipeline.themes.describe import describe_themes, representative_quotes, summary_of
from usersnap_pipeline.themes.discover import NotEnoughFeedback, discover_themes
from usersnap_pipeline.themes.model import MIN_SCORE, ThemeModel
from usersnap_pipeline.themes.sentiment import Sentiment
from usersnap_pipeline.themes.trends import Themed, movers, theme_trends

MONDAY = date(2026, 6, 1)


def _clusters(sizes: list[int], seed: int = 1, spread: float = 0.35, dimensions: int = 32):
    """Unit vectors around one random direction per cluster, with texts naming their cluster."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(sizes), dimensions))
    vectors, texts, truth = [], [], []
    for cluster, size in enumerate(sizes):
        points = centers[cluster] / np.linalg.norm(centers[cluster]) + spread * rng.normal(size=(size, dimensions)) / np.sqrt(dimensions)
        vectors.append(points)
        texts += [f"topic{cluster} issue number {n} with word{cluster}" for n in range(size)]
        truth += [cluster] * size
    matrix = np.vstack(vectors)
    return [f"k{i:05d}" for i in range(len(texts))], texts, (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32), truth


def test_a_theme_that_doubles_its_share_in_a_complete_week_is_rising():
    days = [MONDAY + timedelta(days=i % 7) for i in range(200)] + [MONDAY + timedelta(days=7 + i % 7) for i in range(200)]
    themed = [Themed("dark", d, None) for d in days[:20] + days[200:260]] + \
             [Themed("billing", d, None) for d in days[:60] + days[200:215]]
    rows = theme_trends(["dark", "billing"], themed, days, as_of=MONDAY + timedelta(days=14))
    week = {(r.theme_id, r.period_start): r for r in rows if r.granularity == "week"}
    second = MONDAY + timedelta(days=7)
    assert week[("dark", second)].data_points == 60 and week[("dark", second)].previous_data_points == 20
    assert week[("dark", second)].share == 0.3 and week[("dark", second)].change == 40
    assert week[("dark", second)].direction == "rising"
    assert week[("billing", second)].direction == "falling"
    assert movers(rows) == {"rising": ["dark"], "falling": ["billing"]}
    assert {r.period_start for r in rows if r.granularity == "day"} == {MONDAY + timedelta(days=i) for i in range(14)}


def test_noise_is_not_flagged_and_an_unfinished_period_only_once_it_has_risen():
    days = [MONDAY + timedelta(days=i % 14) for i in range(280)]
    themed = [Themed("a", d, None) for d in days[:150:2]]  # ~27% every week
    rows = theme_trends(["a"], themed, days, as_of=MONDAY + timedelta(days=10))
    weeks = [r for r in rows if r.granularity == "week"]
    assert [r.direction for r in weeks] == ["steady", "in progress"]
    assert [r.complete for r in weeks] == [True, False]
    assert theme_trends(["a"], [], [], as_of=MONDAY) == []

    # Three days into the second week the theme has already passed the whole first week: rising now.
    days = [MONDAY + timedelta(days=i % 7) for i in range(140)] + [MONDAY + timedelta(days=7 + i % 3) for i in range(60)]
    themed = [Themed("a", d, None) for d in days[:10] + days[140:180]]
    week = [r for r in theme_trends(["a"], themed, days, as_of=MONDAY + timedelta(days=10)) if r.granularity == "week"]
    assert [(r.complete, r.data_points, r.direction) for r in week] == [(True, 10, "steady"), (False, 40, "rising")]


def test_each_period_counts_the_sentiment_of_its_data_points():
    negative, positive = Sentiment("negative", -0.8, -0.8, None), Sentiment("positive", 0.6, 0.6, None)
    themed = [Themed("a", MONDAY, negative), Themed("a", MONDAY, negative), Themed("a", MONDAY, positive),
              Themed("a", MONDAY, None), Themed("a", MONDAY + timedelta(days=1), None)]
    rows = theme_trends(["a"], themed, [MONDAY] * 4 + [MONDAY + timedelta(days=1)], as_of=MONDAY + timedelta(days=7))
    day = {r.period_start: r for r in rows if r.granularity == "day"}
    assert (day[MONDAY].negative, day[MONDAY].positive, day[MONDAY].sentiment) == (2, 1, round(-1.0 / 3, 4))
    assert day[MONDAY + timedelta(days=1)].sentiment is None  # nothing scored: unknown, not neutral
    [week] = [r for r in rows if r.granularity == "week"]
    assert (week.data_points, week.negative, week.positive) == (5, 2, 1)


@pytest.mark.parametrize("text, cleaned", [
    ("Hi team, the login page reloads. Thanks!", "the login page reloads."),
    ("Hello,\n\nexport is broken.\n\nBest regards\nJonas Huber\nIT Admin | Acme GmbH", "export is broken."),
    ("Hey! Quick one: the badge count is wrong. Thx\n\nSent from my iPhone", "the badge count is wrong."),
    ("Search finds nothing. urgent!! 🙏", "Search finds nothing."),
    ("Dark mode please. Dark mode please. Otherwise great product ❤️", "Dark mode please."),
    ("Hallo zusammen, die Suche findet nichts. Danke!", "die Suche findet nichts."),
    ("Is there a way to export only my tasks? Kind regards, Petra", "Is there a way to export only my tasks?"),
    ("The login page reloads\nEnterprise\nCritical", "The login page reloads"),  # form choices beside it
    ("Export", "Export"),
])
def test_boilerplate_is_removed_before_anything_reads_the_text(text, cleaned):
    assert clean_for_themes(text) == cleaned


@pytest.mark.parametrize("text", ["test", "👍👍", "Thanks!", "Sent from my iPhone", "asdf", "Hi", "Best regards,\nJohn", ""])
def test_texts_with_nothing_left_are_unclear(text):
    assert is_unclear(clean_for_themes(text))


def test_the_language_of_a_text_comes_from_its_function_words():
    assert [language_of(t) for t in ("the export is broken", "die Suche findet nichts, wir sind traurig",
                                     "la búsqueda no encuentra nada en el proyecto", "je ne peux pas me connecter",
                                     "dark mode pls")] == ["English", "German", "Spanish", "French", "English"]


def test_keyphrases_keep_their_written_order_and_labels_never_start_or_end_on_filler():
    groups = [["Please add a dark mode, my eyes hurt", "dark mode would be great at night", "Dark mode doesn't save",
               "the dark mode toggle is hidden"],
              ["password reset email never arrives", "The password reset email is in spam",
               "password reset link expired", "can't log in, password reset doesn't work"]]
    (dark_label, dark_words), (reset_label, reset_words) = describe_themes(groups)
    assert dark_label == "Dark mode"
    assert reset_label.lower().startswith("password reset")
    for phrase in (*dark_words, *reset_words):
        words = phrase.lower().split()
        assert words[0] not in STOP_WORDS and words[-1] not in STOP_WORDS, phrase
        assert "doesn" not in words  # contractions are words, not broken tokens


def test_one_message_sent_many_times_does_not_name_its_theme():
    group = ["the dashboard loads veeery slowly"] * 8 + [f"the {page} page is slow since {day}" for page in
                                                         ("reports", "settings", "tasks") for day in
                                                         ("monday", "friday", "the update", "yesterday")]
    [(label, keywords)] = describe_themes([group, ["dark mode please", "dark mode at night"]])[:1]
    assert "slow" in label.lower() and "veeery" not in label and "veeery" not in " ".join(keywords)


def test_a_theme_written_mostly_in_other_languages_is_named_by_them():
    [(label, _)] = describe_themes([["Die Suche findet nichts und das ist schlecht", "Die App ist langsam und hängt",
                                     "la aplicación no funciona con el proyecto", "English text about the export"]])
    assert label == "Feedback in German, Spanish"


def test_quotes_skip_near_duplicates_and_start_with_the_closest():
    vectors = np.array([[1, 0, 0], [0.999, 0.04, 0], [0.8, 0.6, 0], [0, 0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    candidates = [("a", "Dark mode please", "u/a"), ("b", "Dark mode please!!", "u/b"), ("c", "Night theme", "u/c"),
                  ("d", "Other thing", None)]
    quotes = representative_quotes(candidates, vectors, np.array([1, 0, 0], dtype=np.float32))
    assert [q.feedback_id for q in quotes] == ["a", "c", "d"]  # b says what a says


def test_discovery_finds_the_clusters_and_does_not_depend_on_row_order():
    keys, texts, vectors, truth = _clusters([120, 100, 90, 80, 60, 50])
    model, scores = discover_themes(keys, texts, vectors, version="v1", encoder="enc")
    assert len(model.themes) == 6 and scores
    order = list(range(len(keys)))
    random.Random(3).shuffle(order)
    shuffled, _ = discover_themes([keys[i] for i in order], [texts[i] for i in order], vectors[order],
                                  version="v1", encoder="enc")
    assert [(t.theme_id, t.label) for t in shuffled.themes] == [(t.theme_id, t.label) for t in model.themes]
    best = {a.index: a.theme_id for a in model.assign(vectors) if a.rank == 1}
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(truth, [best.get(i, "other") for i in range(len(keys))]) > 0.95
    restored = ThemeModel.from_json(model.to_json())
    assert restored.assign(vectors) == model.assign(vectors)


def test_a_data_point_close_to_no_theme_is_left_unthemed():
    keys, texts, vectors, _ = _clusters([120, 100, 90, 80, 60, 50])
    model, _ = discover_themes(keys, texts, vectors, version="v1", encoder="enc")
    far = -model.centroids().sum(axis=0)
    assert (model.centroids() @ (far / np.linalg.norm(far))).max() < MIN_SCORE
    assert model.assign((far / np.linalg.norm(far))[None, :].astype(np.float32)) == []


def test_below_the_minimum_volume_no_themes_are_invented():
    keys, texts, vectors, _ = _clusters([MIN_DATA_POINTS - 1])
    with pytest.raises(NotEnoughFeedback, match=f"{MIN_DATA_POINTS - 1} data points with text; themes need at least"):
        discover_themes(keys, texts, vectors, version="v1", encoder="enc")


def test_rediscovery_with_more_data_keeps_the_ids_of_matching_themes():
    keys, texts, vectors, _ = _clusters([150, 130, 110, 100, 90, 70], seed=4)
    half = np.arange(0, len(keys), 2)
    first, _ = discover_themes([keys[i] for i in half], [texts[i] for i in half], vectors[half], version="v1",
                               encoder="enc")
    second, _ = discover_themes(keys, texts, vectors, version="v2", encoder="enc", previous=first)
    assert {t.theme_id for t in second.themes} == {t.theme_id for t in first.themes}


def test_the_summary_is_one_paragraph_with_quotes_and_their_links():
    vectors = np.eye(2, dtype=np.float32)
    quotes = representative_quotes([("a", "Dark mode please", "https://app.usersnap.com/l/feedback/a"),
                                    ("b", "Night theme", None)], vectors, np.array([0.9, 0.1], dtype=np.float32))
    summary = summary_of(["dark mode", "theme"], 40, 0.125, quotes)
    assert summary == ("40 data points (12% of feedback) about dark mode, theme. People say: “Dark mode please” "
                       "(https://app.usersnap.com/l/feedback/a) “Night theme”")
