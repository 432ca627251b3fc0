"""Theme quality and speed: the default method against alternatives and a labels baseline, in one run.

The emulator's generator knows which of its 8 topics produced each text; every method is scored
against that truth with NMI and adjusted Rand (ARI), on the data points the pipeline makes from
the generated items (demo items and texts-less forms left out). Each method runs as its own child
process so its wall time and peak RSS are its own:

  labels     the Usersnap label on the item as the theme (what a team gets without theme analysis)
  kmeans     TF-IDF + k-means, number of themes by silhouette over the same range
  nmf        TF-IDF + NMF, number of themes by silhouette × stability (the default, themes/discover.py)
  nmf-k8     TF-IDF + NMF told the true number of topics (8): the ceiling for this family

Time covers discovery plus assigning every data point; `ratio` is the time against TF-IDF
vectorizing alone, measured in the same run. Writes bench/results/themes_quality.json.

    python bench/themes_quality.py                    # N = 20,000 and 100,000
    python bench/themes_quality.py --items 20000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "themes_quality.json"
METHODS = ("tfidf-only", "labels", "kmeans", "nmf", "nmf-k8")
END = datetime(2026, 6, 30, tzinfo=timezone.utc)


def corpus(items: int) -> tuple[list[str], list[str], list[str]]:
    from usersnap_pipeline.emulator.data import generate
    from usersnap_pipeline.transform.normalize import normalize_item

    dataset = generate(seed=42, items=items, projects=4, days=180, end=END)
    texts, truth, labels = [], [], []
    for item in dataset.items:
        point = normalize_item(item, project_id=item["project_id"], partition_date=date(2026, 1, 1)).data_points[0]
        if point.is_demo or not point.text.strip():
            continue
        texts.append(point.text)
        truth.append(dataset.topics[point.feedback_id])
        labels.append(",".join(sorted(lab["identifier"] for lab in item["labels"])) or "(no label)")
    return texts, truth, labels


def run_method(method: str, items: int, corpus_file: str, queue) -> None:
    import warnings

    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

    from usersnap_pipeline.themes.discover import THEME_COUNTS, discover_themes
    from usersnap_pipeline.themes.model import clip, vectorizer

    warnings.simplefilter("ignore", ConvergenceWarning)
    texts, truth, labels = json.loads(Path(corpus_file).read_text())
    started = time.perf_counter()
    count = None
    if method == "labels":
        found = labels
    elif method == "nmf":
        model, _ = discover_themes(texts, version="bench")
        best = {a.index: a.theme_id for a in model.assign(texts) if a.rank == 1}
        found, count = [best.get(i, "-") for i in range(len(texts))], len(model.themes)
    else:
        matrix = vectorizer(min_df=2, max_df=0.5, max_features=20000).fit_transform(clip(texts))
        if method == "tfidf-only":
            found = ["-"] * len(texts)
        elif method == "nmf-k8":
            found, count = NMF(8, init="nndsvda", random_state=0, max_iter=400).fit_transform(matrix).argmax(1), 8
        else:
            rng = np.random.default_rng(0)
            sample = matrix[np.sort(rng.choice(matrix.shape[0], min(matrix.shape[0], 2500), replace=False))]
            scores = {}
            for k in THEME_COUNTS:
                fit = KMeans(k, n_init=3, random_state=0).fit(sample)
                scores[k] = silhouette_score(sample, fit.labels_, metric="cosine", sample_size=1500, random_state=0)
            count = max(scores, key=scores.get)
            found = KMeans(count, n_init=3, random_state=0).fit(matrix).labels_
    seconds = time.perf_counter() - started
    found = [str(label) for label in found]
    queue.put({"method": method, "items": items, "data_points": len(texts), "themes": count,
               "seconds": round(seconds, 2),
               "nmi": None if method == "tfidf-only" else round(normalized_mutual_info_score(truth, found), 3),
               "ari": None if method == "tfidf-only" else round(adjusted_rand_score(truth, found), 3),
               "peak_rss_mb": peak_rss_mb()})


def peak_rss_mb() -> float:
    # VmHWM starts afresh at exec; ru_maxrss would carry the parent's peak from before it.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def measure(method: str, items: int, corpus_file: Path) -> dict:
    # A fresh process that reads only the texts: its peak RSS is the method's own.
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=run_method, args=(method, items, str(corpus_file), queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, action="append", help="feedback items (repeatable)")
    args = parser.parse_args()
    rows = []
    for items in args.items or [20000, 100000]:
        with tempfile.TemporaryDirectory() as folder:
            corpus_file = Path(folder) / "corpus.json"
            corpus_file.write_text(json.dumps(corpus(items)))
            measured = [measure(method, items, corpus_file) for method in METHODS]
        baseline = next(r for r in measured if r["method"] == "tfidf-only")["seconds"] or 1e-9
        for row in measured:
            row["time_vs_tfidf"] = round(row["seconds"] / baseline, 1)
        rows.extend(measured)
    print(f"{'items':>7} {'data pts':>8} {'method':<11} {'themes':>6} {'NMI':>6} {'ARI':>6} {'seconds':>8} "
          f"{'× tfidf':>8} {'peak RSS':>9}")
    for r in rows:
        print(f"{r['items']:>7} {r['data_points']:>8} {r['method']:<11} {r['themes'] or '':>6} "
              f"{'' if r['nmi'] is None else r['nmi']:>6} {'' if r['ari'] is None else r['ari']:>6} "
              f"{r['seconds']:>8} {r['time_vs_tfidf']:>8} {r['peak_rss_mb']:>7} MB")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": {"cpus": multiprocessing.cpu_count(), "python": platform.python_version(),
                                               "platform": platform.platform()},
                                   "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": rows},
                                  indent=2) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
