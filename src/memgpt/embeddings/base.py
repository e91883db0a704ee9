"""The embedding protocol: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into vectors. ``name`` and ``dim`` are stored with every embedding."""

    name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Return an array of shape (len(texts), dim), float32, each row of unit length.

        CPU-bound implementations run in a worker thread so the event loop never blocks.
        """
        ...

    async def close(self) -> None: ...
