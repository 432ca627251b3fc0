"""Find themes in data point embeddings: k-means on the unit sphere with the number of themes chosen
by silhouette, outliers left to "Other / unclear", then keyphrase labels (see bench/README.md for
what was compared and why).

Deterministic and independent of row order: data points are put in a canonical order (by text, then
key) before anything is sampled or fitted, and every random choice comes from ``seed``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

import numpy as np

from . import MIN_DATA_POINTS
from .describe import describe_themes
from .languages import LanguageCentring
from .model import MIN_SCORE, Theme, ThemeModel

THEME_COUNTS = range(6, 25)  # fewer is too coarse to act on; more than two dozen is more than a team reads
SAMPLE_SIZE = 4000  # data points used to choose the number of themes; the final fit uses all of them
MIN_POINTS_PER_THEME = 15  # in the sample: no count is tried that would leave fewer per theme
MIN_THEME_SHARE = 0.015  # a "theme" smaller than this is dissolved: its data points go to their next theme
SAME_THEME = 0.8  # cosine similarity above which a re-discovered theme keeps the old theme's id
N_INIT = 4


class NotEnoughFeedback(ValueError):
    def __init__(self, found: int, needed: int):
        super().__init__(f"{found} data points with text; themes need at least {needed}")
        self.found, self.needed = found, needed


def discover_themes(keys: Sequence[str], texts: Sequence[str], embeddings: np.ndarray, *, version: str,
                    encoder: str, embed: Callable[[Sequence[str]], np.ndarray] | None = None, seed: int = 0,
                    previous: ThemeModel | None = None, min_data_points: int = MIN_DATA_POINTS,
                    languages: Sequence[str | None] | None = None,
                    parts: Sequence[tuple[int, int]] | None = None) -> tuple[ThemeModel, dict[int, float]]:
    """The themes of the data points (``keys``, their cleaned ``texts`` and unit ``embeddings``), and
    the silhouette of each number of themes that was tried. ``embed`` (the encoder's) lets labels be
    chosen by meaning. With ``languages`` (each text's), vectors are centred per language first
    (languages.py; ``parts``: the encoders' column ranges). Themes that match one of ``previous``'s (same
    encoder) keep its id, so a re-discovery does not rename what a team already knows."""
    if len(keys) < min_data_points:
        raise NotEnoughFeedback(len(keys), min_data_points)
    centring = None
    if languages is not None:
        centring = LanguageCentring.fit(embeddings, languages, parts or [(0, embeddings.shape[1])])
        embeddings = centring.apply(embeddings, languages)
    order = sorted(range(len(keys)), key=lambda i: (texts[i], keys[i]))
    vectors = np.ascontiguousarray(embeddings[order], dtype=np.float32)
    ordered_texts = [texts[i] for i in order]

    scores = _score_theme_counts(vectors, seed)
    count = max(scores, key=lambda k: (scores[k], -k))
    from sklearn.cluster import KMeans

    fit = KMeans(count, n_init=N_INIT, random_state=seed).fit(vectors)
    centroids = _refine(vectors, _unit(fit.cluster_centers_), min_members=math.ceil(MIN_THEME_SHARE * len(keys)))
    labels = _nearest(vectors, centroids)
    groups = [[ordered_texts[i] for i in np.flatnonzero(labels == t)] for t in range(len(centroids))]
    described = describe_themes(groups, centroids, embed)
    themes = [Theme("", label, keywords, centroid) for (label, keywords), centroid in zip(described, centroids, strict=True)]
    themes = _with_stable_ids(themes, previous if previous is not None and previous.encoder == encoder else None)
    return ThemeModel(version, encoder, tuple(themes), centring), scores


def _score_theme_counts(vectors: np.ndarray, seed: int) -> dict[int, float]:
    """Silhouette (cosine) of k-means on a seeded sample, for each number of themes worth trying."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    sample = vectors[np.sort(rng.choice(len(vectors), min(len(vectors), SAMPLE_SIZE), replace=False))]
    scores = {}
    for count in THEME_COUNTS:
        if count * MIN_POINTS_PER_THEME > len(sample) and scores:
            break
        labels = KMeans(count, n_init=N_INIT, random_state=seed).fit_predict(sample)
        scores[count] = round(float(silhouette_score(sample, labels, metric="cosine")), 4)
    return scores


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


def _nearest(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each vector's nearest centroid, or -1 ("Other / unclear") when none is close enough."""
    similarity = vectors @ centroids.T
    return np.where(similarity.max(axis=1) >= MIN_SCORE, similarity.argmax(axis=1), -1)


def _refine(vectors: np.ndarray, centroids: np.ndarray, *, min_members: int, rounds: int = 2) -> np.ndarray:
    """Drop themes too small to matter, then move every data point to its nearest remaining centroid
    (the way new data points will be assigned later), outliers to Other; largest theme first."""
    for _ in range(rounds + 1):
        labels = _nearest(vectors, centroids)
        sizes = np.bincount(labels[labels >= 0], minlength=len(centroids))
        kept = [t for t in range(len(centroids)) if sizes[t] >= min_members] or [int(sizes.argmax())]
        centroids = _unit(np.vstack([vectors[labels == t].mean(axis=0) for t in kept]))
    labels = _nearest(vectors, centroids)
    sizes = np.bincount(labels[labels >= 0], minlength=len(centroids))
    return centroids[np.argsort(-sizes, kind="stable")]


def _with_stable_ids(themes: list[Theme], previous: ThemeModel | None) -> list[Theme]:
    """Match each theme to the most similar previous theme (greedy, best pairs first)."""
    ids: dict[int, str] = {}
    if previous is not None and previous.themes:
        similarity = np.vstack([t.centroid for t in themes]) @ previous.centroids().T
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
