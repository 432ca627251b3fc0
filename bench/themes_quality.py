"""Theme quality and speed on realistic feedback: the default method against the alternatives, in one run.

First, the held-out corpus (bench/heldout_corpus/: written by a session that never saw the project's corpus,
14 topics and noise, ~15 % German, Spanish, French, Portuguese, and 10 kinds of junk lines), never used to
tune anything: 1,500 data points drawn from its texts, 40 % carrying one junk line (a prefix or a suffix,
one of its variants), themed by the default before issue 32 (``minilm``: MiniLM, no learned boilerplate, no
language centring), by today's with the previous "Other / unclear" threshold (``default-0.3``) and by today's
(``default``: MiniLM + multilingual USE, learned boilerplate, centred per language, Other below 0.15).
``--tuning-only`` gives the same figures on the corpora designs are chosen on (the project's corpus and
bench/dev_corpus/, three draws each) and never reads the held-out. Figures: NMI (noise a
topic, unthemed one more cluster), the largest theme's share, themes made of junk (most of their data points
carry one junk kind), and non-English data points in their topic's theme (the theme most of the topic's
English data points are in); texts per second and peak RSS of each encoder.

Data: the emulator serves generated items whose texts come from the hand-written corpus
(usersnap_pipeline/emulator/corpus/: 14 topics and noise, ~10 % other languages, greetings, signatures,
typos, two-topic texts), with its boilerplate mess added; the pipeline's import step fetches them over
HTTP into a SQLite warehouse, and each method themes the data points' texts. The same is done on the
first generator's template phrases (``templates``), where a lexical method looked excellent. Truth is
the topic each text was written for; noise counts as a topic, and data points left unthemed
("Other / unclear") count as one more cluster.

  tfidf-nmf          the previous default: TF-IDF + NMF (bench/baselines/tfidf_nmf.py), raw text
  tfidf-nmf-cleaned  the same on the cleaned text (themes/clean.py): what cleaning alone buys
  wordllama          static word embeddings (WordLlama; weights in its wheel) + the default clustering
  minilm             the default: all-MiniLM-L6-v2 sentence embeddings + k-means, Other bucket, labels

Each method runs in its own child process: wall time (embedding included) and peak RSS are its own;
``× before`` is the time against tfidf-nmf, measured in the same run. ``shuffle ARI`` compares the
default's assignment with the one it gives the same rows in another order.

    python bench/themes_quality.py                        # 3,000 items of each kind
    python bench/themes_quality.py --items 3000 --scale 100000
    python bench/themes_quality.py --tuning-only          # bench/results/themes_tuning.json
    python bench/themes_quality.py --heldout-only         # bench/results/themes_heldout.json: log every look
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import random
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "themes_quality.json"
TUNING_RESULTS = Path(__file__).parent / "results" / "themes_tuning.json"
HELDOUT_RESULTS = Path(__file__).parent / "results" / "themes_heldout.json"
HELDOUT = Path(__file__).parent / "heldout_corpus"
# Corpora designs may be tuned on: the project's own, and one written by an independent session (bench/dev_corpus/).
TUNING = {"project": Path(__file__).parents[1] / "usersnap_pipeline" / "emulator" / "corpus",
          "dev": Path(__file__).parent / "dev_corpus"}
TUNING_SEEDS = (42, 43, 44)
METHODS = ("tfidf-nmf", "tfidf-nmf-cleaned", "wordllama", "minilm", "default")
# default-0.3: today's default with the previous "Other / unclear" threshold (model.MIN_SCORE 0.3)
HELDOUT_METHODS = ("minilm", "default-0.3", "default")
PREVIOUS_MIN_SCORE = 0.3
HELDOUT_ITEMS, JUNK_SHARE = 1500, 0.4
END = datetime(2026, 6, 30, tzinfo=timezone.utc)
DAYS = 60


def imported_data_points(kind: str, items: int, warehouse_url: str) -> dict:
    """Serve ``items`` generated items from the emulator, import them with the pipeline's import step,
    and return the data points' texts with the topic each was written for."""
    import sqlalchemy as sa

    from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
    from usersnap_pipeline.steps.import_window import import_window
    from usersnap_pipeline.steps.projects import resolve_projects
    from usersnap_pipeline.usersnap import UsersnapClient
    from usersnap_pipeline.warehouse import Warehouse
    from usersnap_pipeline.warehouse import schema

    dataset = generate(seed=42, items=items, projects=2, days=DAYS, end=END, texts=kind)
    warehouse = Warehouse(warehouse_url)
    with Emulator(dataset, seed=42) as api, UsersnapClient(api.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as client:
        warehouse.ensure_schema()
        import_window(client, warehouse, resolve_projects(client, ()), (END - timedelta(days=DAYS + 1)).date(),
                      END.date() + timedelta(days=1))
        topics = dict(api.store.topics)
    dp = schema.data_points.c
    rows = warehouse.fetch(sa.select(dp.feedback_id, dp.text).where(dp.is_demo == sa.false(), dp.text != "")
                           .order_by(dp.feedback_id))
    warehouse.dispose()
    return {"keys": [r.feedback_id for r in rows], "texts": [r.text for r in rows],
            "truth": [topics[r.feedback_id] for r in rows]}


def wordllama_encode(texts):
    from pathlib import Path as P

    import numpy as np
    import wordllama

    # Its weights and tokenizer are in the wheel; pointing cache_dir there keeps it off the network.
    model = wordllama.WordLlama.load(cache_dir=P(wordllama.__file__).parent, disable_download=True)
    vectors = np.nan_to_num(np.asarray(model.embed(list(texts)), dtype=np.float32))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def run_method(method: str, data_file: str, order_seed: int | None, queue) -> None:
    import numpy as np

    from baselines.tfidf_nmf import themes_of
    from usersnap_pipeline.themes.clean import clean_for_themes, is_unclear
    from usersnap_pipeline.themes.discover import discover_themes
    from usersnap_pipeline.themes.encoder import TextEncoder

    data = json.loads(Path(data_file).read_text())
    keys, texts = data["keys"], data["texts"]
    order = list(range(len(keys)))
    if order_seed is not None:
        random.Random(order_seed).shuffle(order)
    started = time.perf_counter()
    found: dict[str, str] = {}
    labels: list[str] = []
    if method.startswith("tfidf-nmf"):
        inputs = [texts[i] if method == "tfidf-nmf" else clean_for_themes(texts[i]) for i in order]
        found = {keys[i]: str(theme) for i, theme in zip(order, themes_of(inputs), strict=True) if theme >= 0}
    else:
        from usersnap_pipeline.themes import discover, model as theme_model
        from usersnap_pipeline.themes.boilerplate import learn_boilerplate
        from usersnap_pipeline.themes.encoder import MINILM, parts_of
        from usersnap_pipeline.themes.languages import detect

        default = method.startswith("default")
        if method == "default-0.3":
            theme_model.MIN_SCORE = discover.MIN_SCORE = PREVIOUS_MIN_SCORE
        boilerplate = learn_boilerplate(texts) if default else frozenset()
        cleaned = {i: clean_for_themes(texts[i], boilerplate) for i in order}
        clear = [i for i in order if not is_unclear(cleaned[i])]
        encoder = TextEncoder() if default else TextEncoder(MINILM)
        encode = wordllama_encode if method == "wordllama" else encoder.encode
        vectors = encode([cleaned[i] for i in clear])
        languages = [detect(cleaned[i]) for i in clear] if default else None
        model, _ = discover_themes([keys[i] for i in clear], [cleaned[i] for i in clear], vectors, version="bench",
                                   encoder=method, embed=encode, languages=languages,
                                   parts=parts_of(encoder.model, vectors.shape[1]) if default else None)
        found = {keys[clear[a.index]]: a.theme_id for a in model.assign(vectors, languages) if a.rank == 1}
        labels = [theme.label for theme in model.themes]
    seconds = time.perf_counter() - started
    queue.put({"found": [found.get(key, "other") for key in keys], "seconds": round(seconds, 2),
               "peak_rss_mb": peak_rss_mb(), "labels": labels})


def peak_rss_mb() -> float:
    # VmHWM starts afresh at exec; ru_maxrss would carry the parent's peak from before it.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def in_child(target, *args) -> dict:
    """Run ``target(*args, queue)`` in a fresh process: its time and peak RSS are its own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def scores(truth: list[str], found: list[str]) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    sizes = Counter(theme for theme in found if theme != "other")
    return {"nmi": round(normalized_mutual_info_score(truth, found), 3),
            "ari": round(adjusted_rand_score(truth, found), 3),
            "themes": len(sizes),
            "largest_share": round(max(sizes.values(), default=0) / len(found), 3),
            "other_share": round(found.count("other") / len(found), 3)}


def quality(kind: str, items: int, folder: Path) -> list[dict]:
    data = imported_data_points(kind, items, f"sqlite:///{folder / f'{kind}.sqlite'}")
    data_file = folder / f"{kind}.json"
    data_file.write_text(json.dumps(data))
    rows = []
    for method in METHODS:
        result = in_child(run_method, method, str(data_file), None)
        row = {"data": kind, "items": items, "data_points": len(data["keys"]), "method": method,
               **scores(data["truth"], result["found"]), "seconds": result["seconds"],
               "peak_rss_mb": result["peak_rss_mb"], "labels": result["labels"]}
        if method == "minilm":
            from sklearn.metrics import adjusted_rand_score

            shuffled = in_child(run_method, method, str(data_file), 7)
            row["shuffle_ari"] = round(adjusted_rand_score(result["found"], shuffled["found"]), 4)
        rows.append(row)
    before = next(r["seconds"] for r in rows if r["method"] == "tfidf-nmf") or 1e-9
    for row in rows:
        row["time_vs_before"] = round(row["seconds"] / before, 1)
    return rows


def drawn_data_points(folder: Path = HELDOUT, seed: int = 42) -> dict:
    """HELDOUT_ITEMS data points drawn from a corpus's texts (``folder``: topic files, and the junk lines of
    boilerplate.jsonl when it has one), JUNK_SHARE of them with one junk line."""
    corpus, junk = [], []
    for path in sorted(folder.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if path.stem == "boilerplate":
            junk = rows
        else:
            corpus += [(path.stem, row["text"], row.get("lang", "en")) for row in rows]
    rng = random.Random(seed)
    keys, texts, truth, languages, kinds = [], [], [], [], []
    for n in range(HELDOUT_ITEMS):
        topic, text, language = rng.choice(corpus)
        kind = None
        if junk and rng.random() < JUNK_SHARE:
            chosen = rng.choice(junk)
            kind, line = chosen["kind"], rng.choice(chosen["variants"])
            text = f"{line}\n{text}" if chosen["position"] == "prefix" else f"{text}\n{line}"
        keys.append(f"h{n:05d}")
        texts.append(text)
        truth.append(topic)
        languages.append(language)
        kinds.append(kind)
    return {"keys": keys, "texts": texts, "truth": truth, "languages": languages, "junk": kinds}


def heldout_scores(data: dict, found: list[str]) -> dict:
    """The held-out targets' figures: NMI, largest theme, themes made of junk, non-English in their topic's theme."""
    result = scores(data["truth"], found)
    members: dict[str, list[int]] = {}
    for i, theme in enumerate(found):
        members.setdefault(theme, []).append(i)
    made_of_junk = [theme for theme, rows in members.items() if theme != "other"
                    and Counter(data["junk"][i] for i in rows).most_common(1)[0][0] is not None
                    and Counter(data["junk"][i] for i in rows).most_common(1)[0][1] > len(rows) / 2]
    home = {}
    for topic in set(data["truth"]):
        english = Counter(found[i] for i, t in enumerate(data["truth"]) if t == topic and data["languages"][i] == "en"
                          and found[i] != "other")
        home[topic] = english.most_common(1)[0][0] if english else None
    foreign = [i for i, language in enumerate(data["languages"]) if language != "en" and data["truth"][i] != "noise"]
    per_language = {}
    for language in sorted({data["languages"][i] for i in foreign}):
        rows = [i for i in foreign if data["languages"][i] == language]
        per_language[language] = round(sum(found[i] == home[data["truth"][i]] for i in rows) / len(rows), 2)
    return {**result, "junk_themes": len(made_of_junk),
            "non_english_in_topic_theme": round(sum(found[i] == home[data["truth"][i]] for i in foreign)
                                                / len(foreign), 3),
            "non_english_per_language": per_language}


def heldout(folder: Path, corpus: Path = HELDOUT, name: str = "held-out", seed: int = 42) -> list[dict]:
    data = drawn_data_points(corpus, seed)
    data_file = folder / f"{name}-{seed}.json"
    data_file.write_text(json.dumps(data))
    rows = []
    for method in HELDOUT_METHODS:
        result = in_child(run_method, method, str(data_file), None)
        rows.append({"data": name, "seed": seed, "method": method, "data_points": len(data["keys"]),
                     **heldout_scores(data, result["found"]), "seconds": result["seconds"],
                     "peak_rss_mb": result["peak_rss_mb"], "labels": result["labels"]})
    return rows


def tuning(folder: Path) -> list[dict]:
    """The held-out figures on the corpora designs are chosen on, each drawn with three seeds, and their means."""
    rows = [row for name, corpus in TUNING.items() for seed in TUNING_SEEDS
            for row in heldout(folder, corpus, name, seed)]
    means = []
    for name in TUNING:
        for method in HELDOUT_METHODS:
            runs = [r for r in rows if r["data"] == name and r["method"] == method]
            means.append({"data": name, "seed": "mean", "method": method, **{
                key: round(sum(r[key] for r in runs) / len(runs), 3) for key in
                ("nmi", "themes", "largest_share", "other_share", "junk_themes", "non_english_in_topic_theme")}})
    return rows + means


def run_scale(warehouse_url: str, new_items: int, queue) -> None:
    """Embed and discover over every data point, then embed and assign ``new_items`` new ones, through
    the steps the assets run."""
    from datetime import datetime as dt

    from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
    from usersnap_pipeline.steps import themes as steps
    from usersnap_pipeline.steps.import_window import import_window
    from usersnap_pipeline.steps.projects import resolve_projects
    from usersnap_pipeline.themes.encoder import TextEncoder
    from usersnap_pipeline.usersnap import UsersnapClient
    from usersnap_pipeline.warehouse import Warehouse

    warehouse, encoder, timings = Warehouse(warehouse_url), TextEncoder(), {}
    started = time.perf_counter()
    embedded = steps.embed(warehouse, encoder)
    timings["embed_all_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    found = steps.discover(warehouse, encoder, now=dt.now(timezone.utc))
    timings["discover_s"] = round(time.perf_counter() - started, 1)
    steps.assign(warehouse, now=dt.now(timezone.utc))
    # New feedback arrives: imported, then only it is embedded and assigned.
    new = generate(seed=99, items=new_items, projects=2, days=1, end=END + timedelta(days=2))
    with Emulator(new, seed=99) as api, UsersnapClient(api.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as client:
        import_window(client, warehouse, resolve_projects(client, ()), END.date(), END.date() + timedelta(days=3))
    started = time.perf_counter()
    embedded_new = steps.embed(warehouse, encoder)
    assigned = steps.assign(warehouse, now=dt.now(timezone.utc))
    timings["embed_and_assign_new_s"] = round(time.perf_counter() - started, 1)
    warehouse.dispose()
    queue.put({**timings, "data_points": embedded.data_points, "texts_embedded": embedded.embedded,
               "themes": len(found.model.themes) if found.model else 0, "new_embedded": embedded_new.embedded,
               "new_assigned": assigned.assigned, "peak_rss_mb": peak_rss_mb()})


def encode_speed(texts: list[str], model: str, queue) -> None:
    """Texts per second of an encoder on distinct texts (no cache can help)."""
    from usersnap_pipeline.themes.encoder import TextEncoder

    encoder = TextEncoder(model)
    encoder.encode(texts[:64])  # the model's load is not throughput
    started = time.perf_counter()
    encoder.encode(texts)
    queue.put({"texts": len(texts), "texts_per_second": round(len(texts) / (time.perf_counter() - started), 1),
               "peak_rss_mb": peak_rss_mb()})


def encoder_speeds(texts: list[str]) -> dict:
    from usersnap_pipeline.themes.encoder import DEFAULT_MODEL, MINILM

    speeds = {model: in_child(encode_speed, texts, model) for model in (MINILM, DEFAULT_MODEL)}
    speeds["default_time_vs_minilm"] = round(speeds[MINILM]["texts_per_second"]
                                             / speeds[DEFAULT_MODEL]["texts_per_second"], 2)
    return speeds


def distinct_texts() -> list[str]:
    from usersnap_pipeline.emulator.corpus import corpus_texts

    # Generated items repeat the corpus's 740 texts, and embeddings are cached per text: distinct texts
    # (each corpus text with a ticket number of its own) measure what 100k real texts would cost.
    return [f"{entry.text} (ticket {n})" for n, entry in
            enumerate(entry for _ in range(4) for entry in corpus_texts())][:2000]


def scale(items: int, new_items: int, folder: Path) -> dict:
    imported_data_points("corpus", items, f"sqlite:///{folder / 'scale.sqlite'}")
    result = in_child(run_scale, f"sqlite:///{folder / 'scale.sqlite'}", new_items)
    result["encoder"] = encoder_speeds(distinct_texts())
    result["items"] = items
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000, help="feedback items of each kind")
    parser.add_argument("--scale", type=int, help="also: discovery over this many items, then 1,000 new ones")
    parser.add_argument("--heldout-only", action="store_true", help="the held-out figures and the encoders' speed")
    parser.add_argument("--tuning-only", action="store_true",
                        help="the same figures on the corpora designs are tuned on (the held-out is not read)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if args.tuning_only:
            tuned = tuning(folder)
            for r in tuned:
                print(f"{r['data']:<8} {r['seed']:>5} {r['method']:<12} themes {r['themes']:>5} NMI {r['nmi']:>6} "
                      f"largest {r['largest_share']:>6} other {r['other_share']:>6} junk themes {r['junk_themes']} "
                      f"non-English home {r['non_english_in_topic_theme']:>6}  {r.get('non_english_per_language', '')}")
            TUNING_RESULTS.write_text(json.dumps({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                                  "rows": tuned}, indent=2, ensure_ascii=False) + "\n")
            print(f"written {TUNING_RESULTS}")
            return
        held = heldout(folder)
        print(f"{'held-out':<10} {'method':<10} {'themes':>6} {'NMI':>6} {'largest':>7} {'other':>6} {'junk themes':>11} "
              f"{'non-English home':>16} {'seconds':>8} {'peak RSS':>9}")
        for r in held:
            print(f"{'held-out':<10} {r['method']:<10} {r['themes']:>6} {r['nmi']:>6} {r['largest_share']:>7} "
                  f"{r['other_share']:>6} {r['junk_themes']:>11} {r['non_english_in_topic_theme']:>16} "
                  f"{r['seconds']:>8} {r['peak_rss_mb']:>7} MB  {r['non_english_per_language']}")
        speeds = encoder_speeds(distinct_texts())
        print(json.dumps(speeds))
        rows = [] if args.heldout_only else quality("corpus", args.items, folder) + quality("templates", args.items, folder)
        scaled = scale(args.scale, 1000, folder) if args.scale else None
    print(f"{'data':<10} {'method':<18} {'themes':>6} {'NMI':>6} {'ARI':>6} {'largest':>7} {'other':>6} "
          f"{'seconds':>8} {'× before':>8} {'peak RSS':>9}")
    for r in rows:
        print(f"{r['data']:<10} {r['method']:<18} {r['themes']:>6} {r['nmi']:>6} {r['ari']:>6} "
              f"{r['largest_share']:>7} {r['other_share']:>6} {r['seconds']:>8} {r['time_vs_before']:>8} "
              f"{r['peak_rss_mb']:>7} MB" + (f"  shuffle ARI {r['shuffle_ari']}" if "shuffle_ari" in r else ""))
    for r in held + rows:
        if r["labels"] and r["method"] in ("minilm", "default"):
            print(f"{r['data']} labels: {' | '.join(r['labels'])}")
    if scaled:
        print(json.dumps(scaled, indent=2))
    results = HELDOUT_RESULTS if args.heldout_only else RESULTS
    results.write_text(json.dumps({"machine": {"cpus": multiprocessing.cpu_count(), "python": platform.python_version(),
                                               "platform": platform.platform()},
                                   "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "heldout": held,
                                   "encoders": speeds, "rows": rows,
                                   "scale": scaled}, indent=2, ensure_ascii=False) + "\n")
    print(f"written {results}")


if __name__ == "__main__":
    main()
