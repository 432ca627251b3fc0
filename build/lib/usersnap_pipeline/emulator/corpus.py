"""Hand-written feedback of a B2B SaaS product, as its customers write it, with its true topic.

``corpus/<topic>.jsonl`` holds one text per line (``{"text": …, "lang": …, "also": …}``): about fifty
different situations per topic, in varied voices and lengths, with typos, greetings and signatures,
about one text in ten in German, Spanish, French or Portuguese, texts about two topics (``also`` names
the second), and a file of noise. Nothing here was generated from templates: it is what theme quality
is measured on, and what the emulator serves, so the demo shows themes a person recognises.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import NamedTuple

NOISE = "noise"  # texts about nothing: a theme finder should leave them in "Other / unclear"


class CorpusText(NamedTuple):
    topic: str
    text: str
    language: str  # ISO 639-1
    also: str | None  # a second topic the text is about


@cache
def corpus_texts() -> tuple[CorpusText, ...]:
    texts = []
    for path in sorted(files(__package__).joinpath("corpus").iterdir(), key=lambda p: p.name):
        if path.name.endswith(".jsonl"):
            topic = path.name.removesuffix(".jsonl")
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                texts.append(CorpusText(topic, entry["text"], entry.get("lang", "en"), entry.get("also")))
    return tuple(texts)


@cache
def texts_by_topic() -> dict[str, tuple[str, ...]]:
    by_topic: dict[str, list[str]] = {}
    for entry in corpus_texts():
        by_topic.setdefault(entry.topic, []).append(entry.text)
    return {topic: tuple(texts) for topic, texts in by_topic.items()}
