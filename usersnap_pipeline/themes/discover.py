"""Find themes in data point texts: TF-IDF, NMF with the number of themes chosen automatically,
then centroids for assigning new texts later (see bench/README.md for what was compared and why).

Deterministic: the sample, NMF's initialisation and the silhouette sample all come from ``seed``.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, silhouette_score

from . import MIN_DATA_POINTS
from .describe import keywords_of, label_of
from .model import Theme, ThemeModel, clip, vectorizer

THEME_COUNTS = range(3, 13)  # more than a dozen themes is more than a team reads
SAMPLE_SIZE = 2500  # texts used to choose the number of themes; the final fit uses all of them
MIN_THEME_SHARE = 0.01  # a "theme" of a handful of texts is dropped; its texts go to their nearest theme
SAME_THEME = 0.5  # cosine similarity above which a re-discovered theme keeps the old theme's id


class NotEnoughFeedback(ValueError):
    def __init__(self, found: int, needed: int):
        super().__init__(f"{found} data points with text; themes need at least {needed}")
        self.found, self.needed = found, needed


def discover_themes(texts: Sequence[str], *, version: str, seed: int = 0, previous: ThemeModel | None = None,
                    min_data_points: int = MIN_DATA_POINTS) -> tuple[ThemeModel, dict[int, float]]:
    """The themes of ``texts`` and the score of each number of themes that was tried.

    Themes that match one of ``previous``'s keep its id, so a re-discovery does not rename
    everything a team already knows.
    """
    usable = [text for text in clip(texts) if text.strip()]
    if len(usable) < min_data_points:
        raise NotEnoughFeedback(len(usable), min_data_points)
    vec = vectorizer(min_df=2, max_df=0.5, max_features=20000)
    matrix = vec.fit_transform(usable)
    vocabulary = tuple(vec.get_feature_names_out())

    scores = _score_theme_counts(matrix, seed)
    if not scores:
        raise NotEnoughFeedback(len(usable), min_data_points)
    count = max(scores, key=lambda k: (scores[k], -k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weights = NMF(count, init="nndsvda", random_state=seed, max_iter=400).fit_transform(matrix)
    labels = np.where(weights.max(axis=1) > 0, weights.argmax(axis=1), -1)
    centroids = _refine(matrix, labels, min_members=max(3, math.ceil(MIN_THEME_SHARE * len(usable))))

    themes = []
    for centroid in centroids:
        keywords = keywords_of(centroid, vocabulary)
        themes.append(Theme("", label_of(keywords), keywords, centroid))
    themes = _with_stable_ids(themes, vocabulary, previous)
    return ThemeModel(version, vocabulary, vec.idf_.astype(np.float64), tuple(themes)), scores


def _score_theme_counts(matrix, seed: int) -> dict[int, float]:
    """Silhouette (are themes apart?) times stability (do two fits on different subsamples agree?)."""
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
    """Centroids of NMF's groups, small groups dropped, then two k-means steps: every text moves to
    its nearest centroid, the way new texts will be assigned later."""
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


def _with_stable_ids(themes: list[Theme], vocabulary: tuple[str, ...], previous: ThemeModel | None) -> list[Theme]:
    """Match each theme to the most similar previous theme (greedy, best pairs first)."""
    ids: dict[int, str] = {}
    if previous is not None and previous.themes:
        position = {term: i for i, term in enumerate(vocabulary)}
        old = np.zeros((len(previous.themes), len(vocabulary)), dtype=np.float32)
        for row, theme in enumerate(previous.themes):
            for index in np.flatnonzero(theme.centroid):
                term = previous.vocabulary[index]
                if term in position:
                    old[row, position[term]] = theme.centroid[index]
        similarity = np.vstack([t.centroid for t in themes]) @ old.T
        taken: set[int] = set()
        for new, prior in sorted(np.ndindex(similarity.shape), key=lambda pair: -similarity[pair]):
            if similarity[new, prior] < SAME_THEME:
                break
            if new not in ids and prior not in taken:
                ids[new] = previous.themes[prior].theme_id
                taken.add(prior)
    used = set(ids.values())
    result = []
    for index, theme in enumerate(themes):
        theme_id = ids.get(index) or _new_id(theme.keywords, used)
        used.add(theme_id)
        result.append(Theme(theme_id, theme.label, theme.keywords, theme.centroid))
    return result


def _new_id(keywords: Sequence[str], used: set[str]) -> str:
    digest = hashlib.sha1("|".join(sorted(keywords[:5])).encode()).hexdigest()
    theme_id, suffix = f"theme-{digest[:8]}", 1
    while theme_id in used:
        suffix += 1
        theme_id = f"theme-{digest[:8]}-{suffix}"
    return theme_id
