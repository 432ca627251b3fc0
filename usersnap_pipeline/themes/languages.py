"""The language of a text, and embeddings centred per language so that a topic's texts meet whatever
language they are written in. Pure: the detector's model ships in its wheel (py3langid).

An encoder puts texts of one language near each other before it puts them near their topic: German
feedback about logging in and German feedback about invoices share a direction that English feedback
lacks. Subtracting each language's mean vector (taken over the feedback being themed, so it is that
account's languages and mix) removes that direction and leaves the topic. Each encoder's part of the
vector is centred on its own, then the whole once more. Measured on the project's corpus: NMI 0.60 →
0.69, non-English texts 0.05 → 0.65 (bench/README.md: themes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

MIN_TEXTS = 10  # a language with fewer texts is centred on all texts' mean: its own would be noise
EVERY_LANGUAGE = ""  # the key of the mean over all texts


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)


def detect(text: str) -> str | None:
    """The text's language (ISO 639-1), None for a text too short to tell."""
    if not text or len(text.split()) < 2:
        return None
    return _identifier().classify(text)[0]


def _unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class LanguageCentring:
    parts: tuple[tuple[int, int], ...]  # column ranges of each encoder's part of a vector
    means: dict[str, tuple[np.ndarray, ...]]  # language -> each part's mean, then the whole's

    @classmethod
    def fit(cls, vectors: np.ndarray, languages: Sequence[str | None],
            parts: Sequence[tuple[int, int]]) -> LanguageCentring:
        keys = _keys(languages, {language for language in languages if language is not None
                                 and sum(1 for other in languages if other == language) >= MIN_TEXTS})
        means: dict[str, list[np.ndarray]] = {key: [] for key in set(keys) | {EVERY_LANGUAGE}}
        stage = []
        for start, stop in parts:
            part = vectors[:, start:stop]
            for key in means:
                rows = part if key == EVERY_LANGUAGE else part[[i for i, k in enumerate(keys) if k == key]]
                means[key].append(rows.mean(axis=0))
            stage.append(_unit(part - np.vstack([means[key][-1] for key in keys])))
        joined = np.hstack(stage)
        for key in means:
            rows = joined if key == EVERY_LANGUAGE else joined[[i for i, k in enumerate(keys) if k == key]]
            means[key].append(rows.mean(axis=0))
        return cls(tuple(tuple(p) for p in parts), {key: tuple(m.astype(np.float32) for m in v)
                                                    for key, v in means.items()})

    def apply(self, vectors: np.ndarray, languages: Sequence[str | None]) -> np.ndarray:
        """The vectors centred on their language's means (unit length)."""
        if not len(vectors):
            return vectors
        keys = _keys(languages, set(self.means) - {EVERY_LANGUAGE})
        stage = [_unit(vectors[:, start:stop] - np.vstack([self.means[key][n] for key in keys]))
                 for n, (start, stop) in enumerate(self.parts)]
        joined = np.hstack(stage)
        return _unit(joined - np.vstack([self.means[key][-1] for key in keys]))

    def to_json(self) -> dict:
        return {"parts": [list(p) for p in self.parts],
                "means": {key: [m.tolist() for m in means] for key, means in self.means.items()}}

    @classmethod
    def from_json(cls, data: dict) -> LanguageCentring:
        return cls(tuple(tuple(p) for p in data["parts"]),
                   {key: tuple(np.asarray(m, dtype=np.float32) for m in means) for key, means in data["means"].items()})


def _keys(languages: Sequence[str | None], known: set[str]) -> list[str]:
    return [language if language in known else EVERY_LANGUAGE for language in languages]
