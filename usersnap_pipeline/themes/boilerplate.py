"""Boilerplate learned from the feedback itself, not from lists: a line or a sentence that recurs verbatim
(case and spacing aside) across many texts that otherwise say different things is a template, a signature,
a device footer or a paste, whatever its language or wording. It is removed before anything embeds or labels
a text: the cleaner's lists (clean.py) know the greetings people write, these are the ones nobody listed.

"Otherwise say different things" is what tells a template from a popular complaint: the texts holding a
customer's sentence ("Please add a dark mode.") are that sentence with a greeting or a thank-you around it,
so once it is taken out and the rest is cleaned (clean.py: greetings, thanks, sign-offs) nothing is left to
read; the texts holding a footer are about everything, so what is left of them is feedback, and differs.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

MIN_TEXTS = 8  # a unit in fewer distinct texts than this is not a pattern yet
MIN_SHARE = 0.004  # ... nor in fewer than this share of the distinct texts (at scale, a popular sentence recurs)
DISAGREE = 0.8  # at least this share of the texts holding it must say something else, and differ, without it
MIN_CHARACTERS = 12  # "Thanks!", "Hi" are the cleaner's; a unit this short is too weak a signal to learn from
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def normalized(unit: str) -> str:
    return " ".join(unit.casefold().split())


def units_of(text: str) -> list[str]:
    """A text's lines, and the sentences of each line, normalized: the units boilerplate is made of."""
    found = []
    for line in (text or "").splitlines():
        line = normalized(line)
        if not line:
            continue
        found.append(line)
        sentences = [normalized(s) for s in _SENTENCE.split(line)]
        if len(sentences) > 1:
            found += [s for s in sentences if s]
    return found


def learn_boilerplate(texts: Iterable[str]) -> frozenset[str]:
    """The units (normalized lines and sentences) that recur in many distinct texts which, without them, differ."""
    distinct = {normalized(text): text for text in texts if text and text.strip()}
    holders: dict[str, list[str]] = defaultdict(list)
    for key, text in distinct.items():
        for unit in set(units_of(text)):
            if len(unit) >= MIN_CHARACTERS:
                holders[unit].append(key)
    from .clean import clean_for_themes, is_unclear  # clean.py imports this module

    needed = max(MIN_TEXTS, MIN_SHARE * len(distinct))
    # Each text is cleaned once, and a unit taken out of the cleaned text: cleaning (personal details masked
    # over the whole text, pasted logs included) again for every unit a text holds took 290 s for the demo's
    # 3,000 texts; what is left of a text without a unit reads the same either way.
    cleaned: dict[str, str] = {}
    learned = set()
    for unit, keys in holders.items():
        if len(keys) < needed:
            continue
        rests = set()
        for key in keys:
            if key not in cleaned:
                cleaned[key] = clean_for_themes(distinct[key])
            rest = strip_boilerplate(cleaned[key], frozenset({unit}))
            if not is_unclear(rest):
                rests.add(normalized(rest))
        if len(rests) >= DISAGREE * len(keys):
            learned.add(unit)
    return frozenset(learned)


@lru_cache(maxsize=8)
def _pattern(boilerplate: frozenset[str]) -> re.Pattern:
    # Longest first: a whole line goes before a sentence of it. Anywhere in a line, case and spacing aside:
    # a footer pasted after a sentence with no full stop is the same footer.
    units = sorted(boilerplate, key=lambda unit: (-len(unit), unit))
    return re.compile("|".join(r"(?<!\w)" + r"\s+".join(map(re.escape, unit.split())) + r"(?!\w)" for unit in units),
                      re.IGNORECASE)


def strip_boilerplate(text: str, boilerplate: frozenset[str]) -> str:
    """The text without its learned boilerplate (line breaks kept, a line left empty dropped)."""
    if not boilerplate or not text:
        return text or ""
    lines = (" ".join(line.split()) for line in _pattern(boilerplate).sub(" ", text).splitlines())
    return "\n".join(line for line in lines if line)
