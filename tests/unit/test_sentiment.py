"""Sentiment arithmetic: rating scales, how a rating moves the text's verdict, the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest

from usersnap_pipeline.themes.encoder import MINILM
from usersnap_pipeline.themes.sentiment import LABELS, Sentiment, SentimentModel, rating_score


@pytest.mark.parametrize("rating, scale, expected", [
    (5, "five_star", 1.0), (3, "five_star", 0.0), (1, "five_star", -1.0), (4, "smileys", 0.5),
    (10, "nps", 1.0), (7, "nps", 0.0), (0, "nps", -1.0), (4, "nps", -1.0), (9, "nps", 2 / 3),
    (1, "thumbs", 1.0), (0, "thumbs", -1.0), (-1, "thumbs", -1.0), (None, None, None), (4, None, None),
])
def test_ratings_map_onto_one_scale(rating, scale, expected):
    assert rating_score(rating, scale) == (expected if expected is None else pytest.approx(expected))


def _model() -> SentimentModel:
    # Three dimensions, one per label.
    return SentimentModel("test", MINILM, 2 * np.eye(3), np.zeros(3))


def test_a_clear_text_decides_and_an_unsure_one_follows_the_rating():
    model = _model()
    clear = model.logits(np.array([1.5, 0.0, 0.0]))
    assert model.score(clear, 1.0).label == "negative"  # 5 stars do not turn "it crashes" positive
    unsure = model.logits(np.array([0.2, 0.25, 0.2]))
    assert model.score(unsure, None).label == "neutral"
    assert model.score(unsure, 1.0).label == "positive" and model.score(unsure, -1.0).label == "negative"
    found = model.score(unsure, 1.0)
    assert found.text_score == pytest.approx(0.0, abs=1e-6) and found.rating_score == 1.0 and 0 < found.score <= 1


def test_without_text_the_rating_alone_decides_and_without_either_it_is_neutral():
    model = _model()
    assert model.score(None, None) == Sentiment("neutral", 0.0, None, None)
    assert model.score(None, 1.0).label == "positive" and model.score(None, -2 / 3).label == "negative"
    assert model.score(None, 0.0).label == "neutral" and model.score(None, 1 / 3).label == "neutral"


def test_the_shipped_weights_load_and_survive_a_round_trip():
    model = SentimentModel.shipped()
    assert model.encoder == MINILM and model.weights.shape == (len(LABELS), 384) and model.bias.shape == (3,)
    again = SentimentModel.from_json(model.to_json())
    assert again.version == model.version and np.allclose(again.weights, model.weights, atol=1e-6)
    with pytest.raises(ValueError, match="labels"):
        SentimentModel.from_json(model.to_json().replace('"negative"', '"bad"'))
