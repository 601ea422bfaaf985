"""Optional static-embedding similarity for duplicate suggestions.

Used only when the ``wordllama`` package is importable (it is NOT a default
dependency). wordllama ships its 256-dim static token embeddings (16 MB) and
tokenizer inside the wheel and needs no torch; it is loaded from the package
directory only, never from a model hub (``cache_dir`` points at the package,
whose ``weights/`` and ``tokenizers/`` folders hold the files).

``available()`` says whether it can be used; ``Embedder().similarity_matrix``
returns cosine similarities of queries against documents.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["Embedder", "available"]


def available() -> bool:
    try:
        import wordllama  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _model():
    import wordllama
    from wordllama import WordLlama

    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, dim=256)


class Embedder:
    """Normalised text embeddings from the bundled wordllama model."""

    def __init__(self) -> None:
        self._wl = _model()

    def embed(self, texts: list[str]) -> np.ndarray:
        vecs = np.asarray(self._wl.embed(texts, norm=True), dtype=np.float32)
        return vecs

    def similarity_matrix(self, queries: list[str], docs: list[str]) -> np.ndarray:
        return self.embed(queries) @ self.embed(docs).T
