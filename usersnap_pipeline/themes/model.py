"""A discovered theme model: one centroid per theme in the encoder's embedding space.

The model is plain data (JSON in the warehouse), so assigning new data points needs no refit: embed
them with the same encoder, then score by cosine similarity to each centroid. That is what keeps
theme ids stable between runs: only a deliberate re-discovery changes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .languages import LanguageCentring

# A data point closer than this to every theme is "Other / unclear", not forced into the nearest theme.
# Chosen on the corpora designs are tuned on (bench/README.md: themes): at 0.3 a sixth of their data points
# were left unthemed, most of them written for a topic (often in another language) whose theme was nearest;
# at 0.15 about 6 % are, and NMI rose on both (project 0.64 → 0.69, dev 0.54 → 0.57); 0.1 gained nothing more.
MIN_SCORE = 0.15
# A data point joins a second theme only when it is nearly as close to it as to its best one.
SECONDARY_RATIO = 0.92


@dataclass(frozen=True)
class Theme:
    theme_id: str
    label: str
    keywords: tuple[str, ...]
    centroid: np.ndarray  # unit length, in the encoder's space


class Assignment(NamedTuple):
    index: int  # row of the embedding that was assigned
    theme_id: str
    rank: int  # 1 = the best theme
    score: float  # cosine similarity to the theme's centroid


@dataclass(frozen=True)
class ThemeModel:
    version: str
    encoder: str  # TextEncoder.version the centroids live in
    themes: tuple[Theme, ...]
    centring: LanguageCentring | None = None  # the centroids live in vectors centred per language

    def centroids(self) -> np.ndarray:
        return np.vstack([theme.centroid for theme in self.themes])

    def centred(self, embeddings: np.ndarray, languages: Sequence[str | None] | None) -> np.ndarray:
        """The embeddings as the centroids see them: centred on their language's means, when the themes were."""
        if self.centring is None or languages is None:
            return embeddings
        return self.centring.apply(embeddings, languages)

    def assign(self, embeddings: np.ndarray, languages: Sequence[str | None] | None = None) -> list[Assignment]:
        """Each embedding's best theme, plus any theme scoring at least SECONDARY_RATIO of the best;
        none when no theme reaches MIN_SCORE. ``languages``: each embedding's text's, for a model whose
        themes were found centred per language."""
        if not len(embeddings) or not self.themes:
            return []
        scores = self.centred(embeddings, languages) @ self.centroids().T
        assignments = []
        for index, row in enumerate(scores):
            order = np.argsort(-row, kind="stable")
            best = float(row[order[0]])
            for rank, column in enumerate(order, start=1):
                score = float(row[column])
                if score < MIN_SCORE or (rank > 1 and score < SECONDARY_RATIO * best):
                    break
                assignments.append(Assignment(index, self.themes[column].theme_id, rank, round(score, 4)))
        return assignments

    def to_json(self) -> str:
        return json.dumps({
            "version": self.version,
            "encoder": self.encoder,
            "themes": [{"theme_id": t.theme_id, "label": t.label, "keywords": list(t.keywords),
                        "centroid": t.centroid.tolist()} for t in self.themes],  # exact: float32 → float64
            **({"centring": self.centring.to_json()} if self.centring is not None else {}),
        })

    @classmethod
    def from_json(cls, text: str) -> ThemeModel:
        data = json.loads(text)
        if "encoder" not in data:
            raise ValueError("a theme model from before embeddings (TF-IDF): re-discover the themes")
        return cls(data["version"], data["encoder"], tuple(
            Theme(t["theme_id"], t["label"], tuple(t["keywords"]), np.asarray(t["centroid"], dtype=np.float32))
            for t in data["themes"]), LanguageCentring.from_json(data["centring"]) if "centring" in data else None)
