"""How a customer feels in a data point: negative, neutral or positive, with a score from -1 to 1.
Pure: no I/O beyond reading the shipped weights.

The text is read through the sentence embedding themes already computed (no second model, nothing
downloaded): a multinomial logistic regression over it, trained on hand-labeled feedback in five
languages (tests/fixtures/sentiment_labeled.jsonl; ``bench/train_sentiment.py`` writes
``sentiment_weights.json``). Where the form has a rating it is evidence too: it moves the text's
log-odds towards positive or negative, by at most RATING_WEIGHT. Measured in bench/README.md
(sentiment): held-out accuracy against a rating-only baseline and the VADER lexicon.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

import numpy as np

LABELS = ("negative", "neutral", "positive")
# A full-scale rating (5 stars, NPS 10, thumbs up) adds this to the positive log-odds and takes it from
# the negative: a clear text still decides, an unsure one follows the rating. Fixed, not fitted:
# the labeled texts carry no ratings.
RATING_WEIGHT = 1.0
# Rating only (no text to read): a rating at least this far from the scale's middle decides.
RATING_DECIDES = 0.5
WEIGHTS_FILE = "sentiment_weights.json"


class Sentiment(NamedTuple):
    label: str  # negative | neutral | positive
    score: float  # P(positive) - P(negative), -1 … 1
    text_score: float | None  # the text alone; None: no text to read
    rating_score: float | None  # the rating alone on -1 … 1; None: no rating


def rating_score(rating: float | None, scale: str | None) -> float | None:
    """A rating on -1 … 1: 3 of 5 stars and NPS 7 are the middle; NPS promoters (9-10) are positive,
    detractors (0-6) negative, as NPS counts them."""
    if rating is None or scale is None:
        return None
    if scale == "thumbs":
        return 1.0 if rating > 0 else -1.0
    if scale == "nps":
        return float(np.clip((rating - 7) / 3, -1, 1))
    return float(np.clip((rating - 3) / 2, -1, 1))  # five_star, smileys: 1 … 5


@dataclass(frozen=True)
class SentimentModel:
    version: str
    encoder: str  # the TextEncoder model the weights read (its embeddings of clean_for_themes text)
    weights: np.ndarray  # (len(LABELS), dimensions)
    bias: np.ndarray  # (len(LABELS),)

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        return vectors @ self.weights.T + self.bias

    def score(self, logits: np.ndarray | None, rating: float | None) -> Sentiment:
        """One data point from its text's logits (None: no text) and its rating score (None: none)."""
        if logits is None:
            if rating is None:
                return Sentiment("neutral", 0.0, None, None)
            label = "positive" if rating >= RATING_DECIDES else "negative" if rating <= -RATING_DECIDES else "neutral"
            return Sentiment(label, round(rating, 4), None, rating)
        text = _softmax(logits)
        combined = text if rating is None else _softmax(logits + RATING_WEIGHT * rating * np.array([-1.0, 0.0, 1.0]))
        return Sentiment(LABELS[int(np.argmax(combined))], round(float(combined[2] - combined[0]), 4),
                         round(float(text[2] - text[0]), 4), rating)

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "encoder": self.encoder, "labels": list(LABELS),
                           "weights": np.round(self.weights, 6).tolist(), "bias": np.round(self.bias, 6).tolist()})

    @classmethod
    def from_json(cls, text: str) -> SentimentModel:
        data = json.loads(text)
        if tuple(data["labels"]) != LABELS:
            raise ValueError(f"sentiment weights for labels {data['labels']}, expected {list(LABELS)}")
        return cls(data["version"], data["encoder"], np.asarray(data["weights"], dtype=np.float32),
                   np.asarray(data["bias"], dtype=np.float32))

    @classmethod
    def shipped(cls) -> SentimentModel:
        return cls.from_json(resources.files(__package__).joinpath(WEIGHTS_FILE).read_text())


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def train(vectors: np.ndarray, labels: list[str], *, version: str, encoder: str, C: float = 1.0) -> SentimentModel:
    """Fit the text classifier; classes weighted by their frequency, as praise is rare in feedback."""
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(vectors, labels)
    order = [list(fitted.classes_).index(label) for label in LABELS]
    return SentimentModel(version, encoder, fitted.coef_[order].astype(np.float32),
                          fitted.intercept_[order].astype(np.float32))
