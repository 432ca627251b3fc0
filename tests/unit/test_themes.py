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
from usersnap_pipeline.themes.alerts import Alert, message
from usersnap_pipeline.themes.describe import Quote
from usersnap_pipeline.themes.trends import (FALSE_DISCOVERY, Themed, TrendRow, _benjamini_hochberg, movers, percent,
                                             theme_trends, why)

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


def _weeks(counts: dict[str, list[int]], totals: list[int], *, in_progress_days: int | None = None):
    """Themed data points and every data point's day from weekly counts (spread over each week's days);
    the last week has only its first ``in_progress_days`` days when given."""
    themed, days = [], []
    for week, total in enumerate(totals):
        span = in_progress_days if in_progress_days and week == len(totals) - 1 else 7
        week_days = [MONDAY + timedelta(days=7 * week + i % span) for i in range(total)]
        days += week_days
        used = 0
        for theme_id, series in counts.items():
            themed += [Themed(theme_id, day, None) for day in week_days[used:used + series[week]]]
            used += series[week]
    return themed, days


def _verdicts(rows, project_id=""):
    return {(r.theme_id, r.period_start): r for r in rows if r.granularity == "week" and r.project_id == project_id}


def test_a_slow_rise_no_week_of_which_is_half_again_the_last_is_flagged_rising_with_its_numbers():
    rise = [12, 15, 19, 24, 30, 36, 42, 48]  # 3 % → 12 % of 400 a week: never 1.5× the week before
    steady = [40] * 8
    themed, days = _weeks({"dark": rise, "billing": steady, "search": steady}, [400] * 8)
    rows = theme_trends(["dark", "billing", "search"], themed, days, as_of=MONDAY + timedelta(days=56))
    assert all(b < 1.5 * a for a, b in zip(rise, rise[1:], strict=False))
    week = _verdicts(rows)
    last = week[("dark", MONDAY + timedelta(days=49))]
    assert last.direction == "rising" and last.complete
    assert last.weeks == 8 and last.share_from < 0.04 and last.share_to > 0.11 and last.p_value < 0.001
    assert why(last).startswith(f"{percent(last.share_from)} → {percent(last.share_to)} of feedback over 8 weeks")
    assert {row.direction for (theme, _), row in week.items() if theme != "dark"} == {"steady"}
    assert movers(rows) == {"rising": ["dark"], "falling": []}
    # Each week is judged on the weeks up to it: the first weeks cannot be a trend yet.
    assert [week[("dark", MONDAY + timedelta(days=7 * w))].direction for w in range(2)] == ["steady", "steady"]
    assert {r.period_start for r in rows if r.granularity == "day"} == {MONDAY + timedelta(days=i) for i in range(56)}
    assert {r.direction for r in rows if r.granularity == "day"} == {None}  # days are counted, not judged


def test_a_fade_is_falling_and_a_jump_out_of_a_flat_history_is_a_spike_the_week_it_starts():
    fade = [60, 52, 44, 36, 28, 20, 14, 4]
    spike = [20, 20, 20, 20, 20, 20, 20, 30]  # the last week, three days in: 30 of 150 against 20 of 400
    themed, days = _weeks({"billing": fade, "export": spike, "search": [40] * 7 + [15]},
                          [400] * 7 + [150], in_progress_days=3)
    rows = theme_trends(["billing", "export", "search"], themed, days, as_of=MONDAY + timedelta(days=52))
    week = _verdicts(rows)
    now = MONDAY + timedelta(days=49)
    assert week[("billing", MONDAY + timedelta(days=42))].direction == "falling"
    assert week[("export", now)].direction == "spike" and not week[("export", now)].complete
    assert week[("export", now)].share_from == 0.05 and week[("export", now)].share_to == 0.2
    assert why(week[("export", now)]) == ("5.0 % of feedback in the 4 weeks before → 20 % in the week of "
                                          f"{now:%Y-%m-%d} (so far) (p = {week[('export', now)].p_value:.2g})")
    assert week[("search", now)].direction == "in progress"
    assert theme_trends(["a"], [], [], as_of=MONDAY) == []


def test_a_theme_out_of_nothing_is_new_and_a_handful_is_never_flagged():
    # 4 out of nothing after four weeks is improbable enough (p = 0.2⁴) to pass the tests: too few to act on.
    themed, days = _weeks({"sso": [0, 0, 0, 0, 25], "tiny": [0, 0, 0, 0, 4]}, [300] * 5)
    week = _verdicts(theme_trends(["sso", "tiny"], themed, days, as_of=MONDAY + timedelta(days=35)))
    assert week[("sso", MONDAY + timedelta(days=28))].direction == "new"
    assert week[("tiny", MONDAY + timedelta(days=28))].direction == "steady", "4 data points are no news"


def test_steady_themes_raise_almost_no_false_flags():
    rng = np.random.default_rng(5)
    themes, weeks, total = 15, 20, 300
    counts = rng.multinomial(total, [1 / (themes + 1)] * (themes + 1), size=weeks).T[:themes]
    themed, days = _weeks({f"t{i}": list(map(int, counts[i])) for i in range(themes)}, [total] * weeks)
    rows = theme_trends([f"t{i}" for i in range(themes)], themed, days, as_of=MONDAY + timedelta(days=7 * weeks))
    flags = [r for r in rows if r.granularity == "week" and r.direction != "steady"]
    assert len(flags) <= 3, [(r.theme_id, r.period_start, r.direction, r.p_value) for r in flags]  # of 300 theme-weeks


def test_the_false_discovery_adjustment_spares_a_clear_signal_and_stops_a_lucky_one():
    adjusted, cutoff = _benjamini_hochberg([0.001, 0.04, 0.5, 0.9])
    assert adjusted[0] == pytest.approx(0.004) and cutoff == 0.001
    assert adjusted[1] == pytest.approx(0.08) and adjusted[1] > FALSE_DISCOVERY  # alone it would pass 0.05
    assert _benjamini_hochberg([0.5, 0.9]) == ([0.9, 0.9], -1.0)


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


def test_an_alert_says_why_and_links_only_to_safe_urls():
    row = TrendRow("t", "week", MONDAY, 30, 0.12, 10, 20, True, "rising", 3, 1, -0.4, "", 0.03, 0.12, 4, 0.001)
    quotes = [Quote("a", "Dark <b> mode", "javascript:document.title='PWNED3'"),
              Quote("b", "Night theme", "https://app.usersnap.com/l/feedback/b|x>y")]
    in_project = row._replace(project_id="p1", share_from=0.02, share_to=0.2, weeks=8, p_value=0.0004)
    text = message(Alert(row, "Dark mode", quotes, [row, in_project]), {"p1": "Web <app>"})["text"]
    assert "3.0 % → 12 % of feedback over 4 weeks (p = 0.001)" in text
    assert "\nIn Web &lt;app&gt;: 2.0 % → 20 % of feedback over 8 weeks (p = 0.0004)\n" in text
    assert "javascript" not in text and "> Dark &lt;b&gt; mode\n" in text
    # | and > are no URL's characters: that link is dropped; & is Slack markup: escaped
    assert text.endswith("> Night theme")
    linked = message(Alert(row, "Dark mode", [Quote("c", "Dim it", "https://app.usersnap.com/l/c?a=1&b=2")], [row]))
    assert linked["text"].endswith("> Dim it <https://app.usersnap.com/l/c?a=1&amp;b=2|open in Usersnap>")


# Junk of kinds the cleaner's lists have never seen, appended verbatim to many unrelated texts.
DEVICE_LINE = "Gerät: Pixel 7 Pro · Android 14 · App-Version 5.2.1 (build 8812)"
TICKET_HEADER = "[Ticket-Vorlage] Bitte beschreiben Sie Ihr Anliegen unterhalb dieser Zeile:"
LEGAL_FOOTER = ("This e-mail and any attachments are confidential and intended solely for the addressee. "
                "If you received it in error, please delete it.")


def test_boilerplate_nobody_listed_is_learned_from_the_data_and_removed_before_embedding():
    from usersnap_pipeline.emulator.corpus import corpus_texts
    from usersnap_pipeline.themes.boilerplate import learn_boilerplate, normalized

    rng = random.Random(4)
    texts = []
    for entry in corpus_texts():
        text = entry.text
        if rng.random() < 0.25:
            text = f"{text}\n{DEVICE_LINE}"
        if rng.random() < 0.15:
            text = f"{TICKET_HEADER}\n{text}"
        if rng.random() < 0.2:
            text = f"{text} {LEGAL_FOOTER}"
        texts.append(text)
    # A request many customers make in the same words, with a greeting or a thank-you around it: not junk.
    popular = "Please add a dark mode for the dashboard."
    texts += [f"{greeting}\n{popular}" for greeting in ("Hi team,", "Thanks!", "Hello", "Hey", "Hi there", "Hallo",
                                                       "Good morning", "Dear support", "Hi all", "Greetings")]
    texts += [popular, f"{popular} Thanks", f"Hi, {popular}"]
    learned = learn_boilerplate(texts * 3)  # each text sent more than once, as customers do
    assert normalized(popular) not in learned
    cleaned = [clean_for_themes(text, learned) for text in texts]
    for junk in ("Pixel 7 Pro", "Ticket-Vorlage", "intended solely", "received it in error"):
        assert not [text for text in cleaned if junk in text], junk
    # Only the junk: every sentence a customer wrote stays (the hand-written corpus repeats none).
    content = {normalized(entry.text) for entry in corpus_texts()}
    assert learned and not [unit for unit in learned if any(unit in text for text in content)]
    assert clean_for_themes(f"Die Suche findet nichts.\n{DEVICE_LINE}", learned) == "Die Suche findet nichts."
