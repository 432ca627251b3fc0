"""Words for a theme: keyphrases, a short label a product manager would write, and a summary made of
quotes that show different situations.

Keyphrases are n-grams of the theme's texts scored against the other themes' (class-based TF-IDF):
taken from the texts as written, they keep their natural word order ("dark mode", "password reset
email"), and no phrase starts or ends with a function word of the languages customers write in.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np

from ..transform.redact import redact
from .clean import STOP_WORDS, WORD, language_of

KEYWORDS = 8
QUOTES = 3
QUOTE_LENGTH = 220
MAX_PHRASE = 3  # words
NEAR_DUPLICATE = 0.9  # cosine similarity above which two quotes say the same thing
CANDIDATES = 15  # phrases per theme considered for its label and keywords
RANK_WEIGHT = 0.15  # how much a phrase's TF-IDF rank counts beside its closeness to the theme
WIDEN_SHARE = 0.5
DESCRIBED_TEXTS = 3000  # per theme: enough to know its phrases, bounded at any size
# Words as clean.words reads them, and numbers, so that a phrase never bridges over a number.
_TOKEN = re.compile(rf"{WORD.pattern}|\d+[^\W_]*")


class Quote(NamedTuple):
    feedback_id: str
    text: str
    source_url: str | None


def _phrases(text: str) -> dict[str, str]:
    """The candidate phrases of a text (lower-cased) with the form they were written in."""
    tokens = _TOKEN.findall(text)
    found: dict[str, str] = {}
    for size in range(1, MAX_PHRASE + 1):
        for start in range(len(tokens) - size + 1):
            written = tokens[start:start + size]
            lower = [t.casefold().replace("’", "'") for t in written]
            if lower[0] in STOP_WORDS or lower[-1] in STOP_WORDS or any(t[0].isdigit() for t in (lower[0], lower[-1])):
                continue
            if size == 1 and len(lower[0]) < 3:
                continue
            found.setdefault(" ".join(lower), " ".join(written))
    return found


def describe_themes(groups: Sequence[Sequence[str]], centroids: np.ndarray | None = None,
                    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
                    count: int = KEYWORDS) -> list[tuple[str, tuple[str, ...]]]:
    """(label, keyphrases) of each group of cleaned texts. Phrases are scored against all the groups
    (class-based TF-IDF); with ``embed`` and the groups' ``centroids``, the leading candidates are
    re-ranked by how close each phrase's own embedding is to its theme, which favours what a theme is
    about ("slow loading") over what its texts merely share ("seconds")."""
    # Support is counted in distinct texts: one message sent many times must not name a theme.
    groups = [_evenly(list(dict.fromkeys(group)), DESCRIBED_TEXTS) for group in groups]
    frequency = [Counter() for _ in groups]
    written: dict[str, Counter] = {}
    for group, counter in zip(groups, frequency, strict=True):
        for text in group:
            for phrase, form in _phrases(text).items():
                counter[phrase] += 1
                written.setdefault(phrase, Counter())[form] += 1
    everywhere = Counter()
    for counter in frequency:
        everywhere.update(counter)
    total = sum(len(group) for group in groups)
    shortlists = []
    for group, counter in zip(groups, frequency, strict=True):
        size = max(len(group), 1)
        weight = {p: (counter[p] / size) * math.log(1 + total / everywhere[p]) for p in counter
                  if counter[p] >= 2 or size < 10}
        ranked = sorted(weight, key=lambda p: (-weight[p], p))[:4 * CANDIDATES]
        shortlists.append(_widened(ranked, counter)[:CANDIDATES])
    if embed is not None and centroids is not None and any(shortlists):
        phrases = sorted({p for shortlist in shortlists for p in shortlist})
        closeness = dict(zip(phrases, np.asarray(embed(phrases)) @ np.asarray(centroids).T, strict=True))
        shortlists = [_reranked(shortlist, {p: float(closeness[p][theme]) for p in shortlist})
                      for theme, shortlist in enumerate(shortlists)]
    described = []
    for group, shortlist in zip(groups, shortlists, strict=True):
        keywords = tuple(written[p].most_common(1)[0][0] for p in _without_overlap(shortlist, count))
        languages = _other_languages(group)
        described.append((_label(keywords, languages), keywords))
    return described


def _evenly(texts: Sequence[str], most: int) -> Sequence[str]:
    """At most ``most`` of the texts, spread evenly over them: a large theme's words are known from a
    few thousand of its texts, and the same texts give the same sample."""
    if len(texts) <= most:
        return texts
    return [texts[i * len(texts) // most] for i in range(most)]


def _reranked(shortlist: Sequence[str], closeness: dict[str, float]) -> list[str]:
    score = {p: closeness[p] + RANK_WEIGHT / (1 + rank) for rank, p in enumerate(shortlist)}
    return sorted(shortlist, key=lambda p: (-score[p], p))


def _widened(ranked: Sequence[str], counter: Counter) -> list[str]:
    """A word gives way to a longer phrase that holds it in most of the same texts ("dark" → "dark mode")."""
    out: list[str] = []
    for phrase in ranked:
        longer = next((other for other in ranked if other != phrase and f" {phrase} " in f" {other} "
                       and counter[other] >= WIDEN_SHARE * counter[phrase]), None)
        chosen = longer or phrase
        if chosen not in out:
            out.append(chosen)
    return out


def _without_overlap(phrases: Sequence[str], count: int) -> list[str]:
    """The best phrases, skipping one whose words (plural and -ing/-ed forms folded) all sit in a
    phrase already chosen, or hold all of its words: "export" after "exported" says nothing new."""
    chosen: list[str] = []
    stems: list[set[str]] = []
    for phrase in phrases:
        own = {_stem(word) for word in phrase.split()}
        if any(own <= other or other <= own for other in stems):
            continue
        chosen.append(phrase)
        stems.append(own)
        if len(chosen) == count:
            break
    return chosen


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _other_languages(texts: Sequence[str]) -> list[str]:
    """The languages other than English most of a theme's texts are written in, if most are."""
    found = Counter(language_of(text) for text in texts)
    foreign = sum(n for language, n in found.items() if language != "English")
    if foreign <= len(texts) / 2:
        return []
    return [language for language, _ in found.most_common() if language != "English"][:3]


def _label(keywords: Sequence[str], languages: Sequence[str] = ()) -> str:
    """The leading keyphrase as a label (a single word with the next short keyphrase: "Login / password"); a
    theme held together by its language rather than its topic says so ("Feedback in German, Spanish": an English model reads other languages by their words)."""
    if languages:
        return f"Feedback in {', '.join(languages)}"
    if not keywords:
        return "(no keywords)"
    second = next((k for k in keywords[1:] if len(k.split()) <= 2), None)
    label = keywords[0] if " " in keywords[0] or second is None else f"{keywords[0]} / {second}"
    return label[0].upper() + label[1:]


def shorten(text: str, length: int = QUOTE_LENGTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def representative_quotes(candidates: Sequence[tuple[str, str, str | None]], embeddings: np.ndarray,
                          centroid: np.ndarray, count: int = QUOTES) -> list[Quote]:
    """Quotes from (feedback_id, text, source_url) candidates: the one closest to the theme first, then
    each next one the closest that is not a near-duplicate of a quote already chosen, so the quotes
    show different situations rather than one sentence three times."""
    if not len(candidates):
        return []
    closeness = embeddings @ centroid
    order = sorted(range(len(candidates)), key=lambda i: (-round(float(closeness[i]), 6), candidates[i][0]))
    chosen: list[int] = []
    seen: set[str] = set()
    for index in order:
        short = shorten(redact(candidates[index][1]))
        if short.casefold() in seen or any(float(embeddings[index] @ embeddings[other]) > NEAR_DUPLICATE
                                           for other in chosen):
            continue
        chosen.append(index)
        seen.add(short.casefold())
        if len(chosen) == count:
            break
    # Masked before it is shortened: a cut must not leave half an email address readable.
    return [Quote(candidates[i][0], shorten(redact(candidates[i][1])), candidates[i][2]) for i in chosen]


def summary_of(keywords: Sequence[str], size: int, share: float, quotes: Sequence[Quote]) -> str:
    """One extractive paragraph: what the theme is about, how big it is, and what people say, each
    quote followed by its link back to Usersnap."""
    about = ", ".join(keywords[:4])
    said = " ".join(f"“{quote.text}”" + (f" ({quote.source_url})" if quote.source_url else "") for quote in quotes)
    return f"{size} data points ({share:.0%} of feedback) about {about}. People say: {said}".strip()


@dataclass
class ThemeSummary:
    """A theme as the report and the UI show it."""
    theme_id: str
    label: str
    keywords: list[str]
    summary: str
    quotes: list[dict]  # Quote fields: feedback_id, text, source_url
    data_points: int
    first_seen: datetime | None
    last_seen: datetime | None
