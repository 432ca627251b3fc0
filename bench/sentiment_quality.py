"""Sentiment quality on hand-labeled feedback: the shipped classifier against a rating-only baseline and
the VADER lexicon, with each one's time and peak memory; ``--write-weights`` trains the shipped weights.

Data (labeled by hand, one label per text: how the customer feels about the product in it):
  tests/fixtures/sentiment_labeled.jsonl  every text of the emulator's corpus (740, 14 topics and noise,
                                          five languages) and 50 more written for praise and plain
                                          questions, which the corpus has few of: the training set
  tests/fixtures/sentiment_heldout.jsonl  50 texts written after the weights' design was fixed, 29 with
                                          the rating a customer gave: never trained on

Rubric: negative = something does not work as it should, or the customer is unhappy (a bug, a loss, a
complaint, frustration); neutral = a question or a request for something new with no complaint, and
noise; positive = praise or thanks is what the text is about (praise with a small wish is positive).

Figures: 5-fold cross-validated accuracy on the training set (overall, English, other languages), and
held-out accuracy of the shipped weights: text alone, text with the rating (the pipeline's
sentiment), rating only (neutral without a rating), and VADER's compound score (±0.05, its authors'
thresholds). Texts left unclear by themes' cleaning ("Thanks!", "ok") are neutral unless rated, as in
the pipeline.

    pip install -e '.[bench]'
    python bench/sentiment_quality.py                  # bench/results/sentiment_quality.json
    python bench/sentiment_quality.py --write-weights  # usersnap_pipeline/themes/sentiment_weights.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LABELED = ROOT / "tests" / "fixtures" / "sentiment_labeled.jsonl"
HELDOUT = ROOT / "tests" / "fixtures" / "sentiment_heldout.jsonl"
RESULTS = ROOT / "bench" / "results" / "sentiment_quality.json"
VERSION = "sentiment-1"
SCALE = 10_000
C = 1.0  # the regularization 5-fold CV chose among 0.5 … 8 (0.81-0.82 all; bench/README.md)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def embed(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's embeddings of the texts (zeros where too little is left) and which texts have one."""
    from usersnap_pipeline.steps.themes import embed_texts
    from usersnap_pipeline.themes.encoder import MINILM, TextEncoder

    vectors = embed_texts(TextEncoder(MINILM), texts)
    clear = np.array([vector is not None for vector in vectors])
    dimensions = next(len(vector) for vector in vectors if vector is not None)
    return np.vstack([np.zeros(dimensions) if vector is None else vector for vector in vectors]), clear


def _accuracy(predicted: list[str], truth: list[str], mask=None) -> float:
    pairs = [(p, t) for i, (p, t) in enumerate(zip(predicted, truth, strict=True)) if mask is None or mask[i]]
    return round(sum(p == t for p, t in pairs) / len(pairs), 3) if pairs else float("nan")


def write_weights() -> Path:
    from usersnap_pipeline.themes.encoder import MINILM
    from usersnap_pipeline.themes.sentiment import WEIGHTS_FILE, train

    rows = load(LABELED)
    vectors, clear = embed([row["text"] for row in rows])
    labels = [row["sentiment"] for row in rows]
    model = train(vectors[clear], [label for label, ok in zip(labels, clear, strict=True) if ok],
                  version=f"{VERSION} ({int(clear.sum())} labeled texts, C={C:g})", encoder=MINILM, C=C)
    path = ROOT / "usersnap_pipeline" / "themes" / WEIGHTS_FILE
    path.write_text(model.to_json() + "\n")
    return path


def measure() -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from usersnap_pipeline.themes.clean import language_of
    from usersnap_pipeline.themes.sentiment import SentimentModel, rating_score

    labeled, heldout = load(LABELED), load(HELDOUT)
    started = time.perf_counter()
    vectors, clear = embed([row["text"] for row in labeled])
    truth = [row["sentiment"] for row in labeled]
    english = [language_of(row["text"]) == "English" for row in labeled]
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    fitted = cross_val_predict(LogisticRegression(C=C, class_weight="balanced", max_iter=2000),
                               vectors[clear], np.array(truth)[clear], cv=folds)
    cross_validated = iter(fitted)
    cv = [next(cross_validated) if ok else "neutral" for ok in clear]
    training = {
        "texts": len(labeled), "labels": dict(Counter(truth)),
        "cv_accuracy": _accuracy(cv, truth),
        "cv_accuracy_english": _accuracy(cv, truth, english),
        "cv_accuracy_other_languages": _accuracy(cv, truth, [not e for e in english]),
        "other_language_texts": english.count(False),
        "majority_class_accuracy": round(Counter(truth).most_common(1)[0][1] / len(truth), 3),
    }

    model = SentimentModel.shipped()
    texts = [row["text"] for row in heldout]
    truth = [row["sentiment"] for row in heldout]
    ratings = [rating_score(row["rating"], row["rating_scale"]) for row in heldout]
    t0 = time.perf_counter()
    vectors, clear = embed(texts)
    logits = model.logits(vectors)
    text_only = [model.score(logits[i] if clear[i] else None, None).label for i in range(len(texts))]
    combined = [model.score(logits[i] if clear[i] else None, ratings[i]).label for i in range(len(texts))]
    ours_seconds = time.perf_counter() - t0
    rating_only = [model.score(None, rating).label for rating in ratings]
    t0 = time.perf_counter()
    vader = SentimentIntensityAnalyzer()
    compound = [vader.polarity_scores(text)["compound"] for text in texts]
    vader_seconds = time.perf_counter() - t0
    vader_labels = ["positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral" for c in compound]
    rated = [r is not None for r in ratings]
    # What sentiment adds to a pipeline run: its embeddings are the themes' (already cached), so scoring is
    # the whole cost. 10,000 data points, scored as data_point_sentiment does, against VADER reading them.
    many = np.resize(vectors, (SCALE, vectors.shape[1]))
    many_texts = [texts[i % len(texts)] for i in range(SCALE)]
    t0 = time.perf_counter()
    for row, rating in zip(model.logits(many), (ratings[i % len(ratings)] for i in range(SCALE)), strict=False):
        model.score(row, rating)
    scoring_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    for text in many_texts:
        vader.polarity_scores(text)
    vader_many_seconds = time.perf_counter() - t0
    english = [language_of(text) == "English" for text in texts]

    def figures(predicted: list[str]) -> dict:
        return {"accuracy": _accuracy(predicted, truth), "rated": _accuracy(predicted, truth, rated),
                "unrated": _accuracy(predicted, truth, [not r for r in rated]),
                "english": _accuracy(predicted, truth, english),
                "other_languages": _accuracy(predicted, truth, [not e for e in english])}

    return {
        "machine": platform.platform(), "shipped": model.version, "training": training,
        "heldout": {"texts": len(heldout), "rated": sum(rated), "labels": dict(Counter(truth)),
                    "other_language_texts": english.count(False),
                    "text_and_rating (pipeline)": figures(combined), "text_only": figures(text_only),
                    "rating_only": figures(rating_only), "vader": figures(vader_labels)},
        "seconds": {"embed_and_score_heldout": round(ours_seconds, 3), "vader_heldout": round(vader_seconds, 3),
                    f"score_{SCALE}_cached_embeddings": round(scoring_seconds, 3),
                    f"vader_{SCALE}_texts": round(vader_many_seconds, 3),
                    "scoring_vs_vader": round(scoring_seconds / vader_many_seconds, 3),
                    "total": round(time.perf_counter() - started, 1)},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-weights", action="store_true", help="train on the labeled set and ship the weights")
    args = parser.parse_args()
    if args.write_weights:
        print(f"wrote {write_weights()}")
        return
    result = measure()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
