"""The theme method the pipeline used before sentence embeddings (moved here from themes/, unchanged
in what it computes): TF-IDF over words and two-word phrases, NMF with the number of themes chosen by
silhouette × stability, two k-means refinement steps, best theme by cosine to the centroids.

It scored NMI 0.90 on the first generator's six template phrases per topic and 0.13 on the
hand-written corpus (bench/README.md), which is why it is now only a baseline.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, silhouette_score

TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"
THEME_COUNTS = range(3, 13)
SAMPLE_SIZE = 2500
MIN_THEME_SHARE = 0.01
MIN_SCORE = 0.05
MAX_TEXT = 4000


def themes_of(texts: Sequence[str], seed: int = 0) -> list[int]:
    """Each text's best theme (-1: unthemed), as the previous pipeline found and assigned them."""
    clipped = [(text or "")[:MAX_TEXT] for text in texts]
    usable = [i for i, text in enumerate(clipped) if text.strip()]
    vectorizer = TfidfVectorizer(stop_words="english", token_pattern=TOKEN_PATTERN, ngram_range=(1, 2),
                                 sublinear_tf=True, dtype=np.float32, min_df=2, max_df=0.5, max_features=20000)
    matrix = vectorizer.fit_transform([clipped[i] for i in usable])
    scores = _score_theme_counts(matrix, seed)
    count = max(scores, key=lambda k: (scores[k], -k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weights = NMF(count, init="nndsvda", random_state=seed, max_iter=400).fit_transform(matrix)
    labels = np.where(weights.max(axis=1) > 0, weights.argmax(axis=1), -1)
    centroids = np.vstack(_refine(matrix, labels, min_members=max(3, math.ceil(MIN_THEME_SHARE * len(usable)))))
    similarity = np.asarray(matrix @ centroids.T)
    best = np.where(similarity.max(axis=1) >= MIN_SCORE, similarity.argmax(axis=1), -1)
    found = [-1] * len(texts)
    for row, index in enumerate(usable):
        found[index] = int(best[row])
    return found


def _score_theme_counts(matrix, seed: int) -> dict[int, float]:
    rng = np.random.default_rng(seed)
    rows = matrix.shape[0]
    sample = matrix[np.sort(rng.choice(rows, min(rows, SAMPLE_SIZE), replace=False))]
    halves = [np.sort(rng.choice(sample.shape[0], int(sample.shape[0] * 0.8), replace=False)) for _ in range(2)]
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for count in THEME_COUNTS:
            if count * 10 > sample.shape[0]:
                break
            labels = NMF(count, init="nndsvda", random_state=seed, max_iter=300).fit_transform(sample).argmax(axis=1)
            if len(set(labels.tolist())) < 2:
                continue
            silhouette = silhouette_score(sample, labels, metric="cosine", sample_size=min(1500, sample.shape[0]),
                                          random_state=seed)
            fits = [NMF(count, init="nndsvda", random_state=seed, max_iter=300).fit(sample[half]) for half in halves]
            stability = adjusted_rand_score(*(fit.transform(sample).argmax(axis=1) for fit in fits))
            scores[count] = round(float(silhouette * max(stability, 0.0)), 4)
    return scores


def _refine(matrix, labels: np.ndarray, *, min_members: int, rounds: int = 2) -> list[np.ndarray]:
    centroids = []
    for _ in range(rounds + 1):
        centroids = []
        for label in sorted(set(labels.tolist()) - {-1}):
            members = matrix[labels == label]
            if members.shape[0] < min_members:
                continue
            centroid = np.asarray(members.mean(axis=0)).ravel()
            centroids.append(centroid / (np.linalg.norm(centroid) or 1.0))
        similarity = np.asarray(matrix @ np.vstack(centroids).T)
        labels = np.where(similarity.max(axis=1) > 0, similarity.argmax(axis=1), -1)
    sizes = np.bincount(labels[labels >= 0], minlength=len(centroids))
    return [centroids[i].astype(np.float32) for i in np.argsort(-sizes, kind="stable") if sizes[i] > 0]
