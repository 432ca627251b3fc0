"""Sentiment accuracy on hand-labeled realistic feedback (bench/sentiment_quality.py has the figures and
the comparison with a rating-only baseline and VADER). The held-out texts were never trained on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from usersnap_pipeline.steps.themes import embed_texts
from usersnap_pipeline.themes.clean import language_of
from usersnap_pipeline.themes.encoder import MINILM, TextEncoder
from usersnap_pipeline.themes.sentiment import SentimentModel, rating_score, train

FIXTURES = Path(__file__).parent.parent / "fixtures"
LABELED, HELDOUT = FIXTURES / "sentiment_labeled.jsonl", FIXTURES / "sentiment_heldout.jsonl"
C = 1.0  # as the shipped weights were trained (bench/sentiment_quality.py)
# Measured: held-out 0.92 with the rating, 0.86 text alone, 0.80 on the other languages; 5-fold CV 0.81.
HELDOUT_FLOOR, OTHER_LANGUAGES_FLOOR, CROSS_VALIDATED_FLOOR = 0.8, 0.7, 0.75


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def embed(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    vectors = embed_texts(TextEncoder(MINILM), texts)
    clear = np.array([vector is not None for vector in vectors])
    return np.vstack([np.zeros(384) if vector is None else vector for vector in vectors]), clear


def _accuracy(predicted, truth) -> float:
    return sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)


def test_the_shipped_sentiment_holds_on_feedback_it_never_saw():
    rows, model = load(HELDOUT), SentimentModel.shipped()
    vectors, clear = embed([row["text"] for row in rows])
    logits = model.logits(vectors)
    truth = [row["sentiment"] for row in rows]
    ratings = [rating_score(row["rating"], row["rating_scale"]) for row in rows]
    found = [model.score(logits[i] if clear[i] else None, ratings[i]).label for i in range(len(rows))]
    text_only = [model.score(logits[i] if clear[i] else None, None).label for i in range(len(rows))]
    assert _accuracy(found, truth) >= HELDOUT_FLOOR
    other = [i for i, row in enumerate(rows) if language_of(row["text"]) != "English"]
    assert len(other) >= 8 and _accuracy([found[i] for i in other], [truth[i] for i in other]) >= OTHER_LANGUAGES_FLOOR
    rated = [i for i, rating in enumerate(ratings) if rating is not None]
    assert _accuracy([found[i] for i in rated], [truth[i] for i in rated]) > \
        _accuracy([text_only[i] for i in rated], [truth[i] for i in rated]), "the rating must help where there is one"
    assert {"negative", "neutral", "positive"} <= set(found)


def test_training_on_the_labeled_corpus_generalizes_across_folds():
    rows = load(LABELED)
    vectors, clear = embed([row["text"] for row in rows])
    vectors, truth = vectors[clear], np.array([row["sentiment"] for row in rows])[clear]
    correct = 0
    for fit, check in StratifiedKFold(5, shuffle=True, random_state=0).split(vectors, truth):
        model = train(vectors[fit], list(truth[fit]), version="fold", encoder=MINILM, C=C)
        correct += sum(model.score(logits, None).label == label
                       for logits, label in zip(model.logits(vectors[check]), truth[check], strict=True))
    assert correct / len(truth) >= CROSS_VALIDATED_FLOOR
