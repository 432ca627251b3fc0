"""Words for a theme: its keywords, a short label, and a summary made of representative quotes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np

KEYWORDS = 8
QUOTES = 3
QUOTE_LENGTH = 220


class Quote(NamedTuple):
    feedback_id: str
    text: str
    source_url: str | None


def keywords_of(centroid: np.ndarray, vocabulary: Sequence[str], count: int = KEYWORDS) -> tuple[str, ...]:
    """The heaviest terms of a centroid, skipping a word already inside a chosen phrase and a phrase
    whose words were all chosen."""
    chosen: list[str] = []
    words: set[str] = set()
    for index in np.argsort(-centroid, kind="stable"):
        if centroid[index] <= 0 or len(chosen) == count:
            break
        term = vocabulary[index]
        parts = term.split()
        if (len(parts) == 1 and term in words) or (len(parts) > 1 and all(p in words for p in parts)):
            continue
        chosen.append(term)
        words.update(parts)
    return tuple(chosen)


def label_of(keywords: Sequence[str]) -> str:
    """A short human label from the two leading keywords, a phrase standing in for a word it
    contains: "Dark mode / theme" rather than "Dark / dark mode"."""
    terms: list[str] = []
    for keyword in keywords:
        widened = next((i for i, term in enumerate(terms) if set(term.split()) < set(keyword.split())), None)
        if widened is not None:
            terms[widened] = keyword
        elif not any(set(keyword.split()) & set(term.split()) for term in terms):
            terms.append(keyword)
        if len(terms) == 2:
            break
    label = " / ".join(terms) or "(no keywords)"
    return label[0].upper() + label[1:]


def shorten(text: str, length: int = QUOTE_LENGTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def representative_quotes(candidates: Sequence[tuple[float, str, str, str | None]], count: int = QUOTES) -> list[Quote]:
    """The highest-scoring distinct texts among (score, feedback_id, text, source_url) candidates."""
    quotes, seen = [], set()
    for _score, feedback_id, text, url in sorted(candidates, key=lambda c: (-c[0], c[1])):
        short = shorten(text)
        if short.lower() in seen:
            continue
        seen.add(short.lower())
        quotes.append(Quote(feedback_id, short, url))
        if len(quotes) == count:
            break
    return quotes


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
