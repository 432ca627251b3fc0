"""A discovered theme model: the TF-IDF vocabulary it was built on and one centroid per theme.

The model is plain data (JSON in the warehouse), so assigning new data points needs no refit:
vectorize with the stored vocabulary and idf, then score by cosine similarity to each centroid.
That is what keeps theme ids stable between runs: only a deliberate re-discovery changes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

# Words, not numbers or ids; unigrams and bigrams so labels read like "dark mode", "export csv".
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"
NGRAMS = (1, 2)
# A data point joins a second theme only when it is nearly as close to it as to its best one.
SECONDARY_RATIO = 0.8
MIN_SCORE = 0.05  # below this a text shares (almost) no vocabulary with any theme: it stays unthemed
MAX_TEXT = 4000  # a few long texts (logs pasted into a comment) must not dominate a theme


def vectorizer(**kwargs) -> TfidfVectorizer:
    return TfidfVectorizer(stop_words="english", token_pattern=TOKEN_PATTERN, ngram_range=NGRAMS,
                           sublinear_tf=True, dtype=np.float32, **kwargs)


def clip(texts: Sequence[str]) -> list[str]:
    return [(text or "")[:MAX_TEXT] for text in texts]


@dataclass(frozen=True)
class Theme:
    theme_id: str
    label: str
    keywords: tuple[str, ...]
    centroid: np.ndarray  # unit length, over the model's vocabulary


class Assignment(NamedTuple):
    index: int  # position of the text in the list that was assigned
    theme_id: str
    rank: int  # 1 = the best theme
    score: float  # cosine similarity to the theme's centroid, 0..1


@dataclass(frozen=True)
class ThemeModel:
    version: str
    vocabulary: tuple[str, ...]
    idf: np.ndarray
    themes: tuple[Theme, ...]

    def vectorize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        vec = vectorizer(vocabulary={term: i for i, term in enumerate(self.vocabulary)})
        vec.idf_ = self.idf
        return vec.transform(clip(texts))

    def centroids(self) -> np.ndarray:
        return np.vstack([theme.centroid for theme in self.themes])

    def assign(self, texts: Sequence[str]) -> list[Assignment]:
        """Each text's best theme, plus any theme scoring at least SECONDARY_RATIO of the best."""
        if not texts or not self.themes:
            return []
        scores = np.asarray(self.vectorize(texts) @ self.centroids().T)
        assignments = []
        for index, row in enumerate(scores):
            best = float(row.max())
            if best < MIN_SCORE:
                continue
            order = np.argsort(-row, kind="stable")
            for rank, column in enumerate(order, start=1):
                score = float(row[column])
                if rank > 1 and score < max(MIN_SCORE, SECONDARY_RATIO * best):
                    break
                assignments.append(Assignment(index, self.themes[column].theme_id, rank, round(score, 4)))
        return assignments

    def to_json(self) -> str:
        return json.dumps({
            "version": self.version,
            "vocabulary": list(self.vocabulary),
            "idf": self.idf.tolist(),
            "themes": [{"theme_id": t.theme_id, "label": t.label, "keywords": list(t.keywords),
                        # sparse: a centroid touches a small part of the vocabulary
                        "centroid": {str(i): round(float(t.centroid[i]), 6) for i in np.flatnonzero(t.centroid)}}
                       for t in self.themes],
        })

    @classmethod
    def from_json(cls, text: str) -> ThemeModel:
        data = json.loads(text)
        size = len(data["vocabulary"])
        themes = []
        for item in data["themes"]:
            centroid = np.zeros(size, dtype=np.float32)
            for index, value in item["centroid"].items():
                centroid[int(index)] = value
            themes.append(Theme(item["theme_id"], item["label"], tuple(item["keywords"]), centroid))
        return cls(data["version"], tuple(data["vocabulary"]), np.asarray(data["idf"], dtype=np.float64),
                   tuple(themes))
