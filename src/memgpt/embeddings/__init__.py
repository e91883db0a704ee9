"""Embedding models behind one protocol (:class:`memgpt.embeddings.base.Embedder`).

``MEMGPT_EMBEDDING`` chooses: unset or ``local`` (offline all-MiniLM-L6-v2), ``openai/<model>``,
``openai-compatible/<model>`` (with ``MEMGPT_EMBEDDING_BASE_URL``), or ``none`` (full-text search only).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from memgpt.errors import ConfigError, EmbeddingUnavailableError

if TYPE_CHECKING:
    from memgpt.embeddings.base import Embedder

OPENAI_BASE_URL = "https://api.openai.com/v1"


def local_model_available() -> bool:
    """Whether the offline model's weights are installed."""
    from memgpt.embeddings.local import model_dir

    folder = model_dir()
    return folder is not None and (folder / "model.safetensors").is_file()


def open_embedder(
    spec: str | None = None, *, base_url: str | None = None, api_key: str | None = None
) -> Embedder | None:
    """The embedder named by ``spec`` (default ``$MEMGPT_EMBEDDING``), or None for ``none``."""
    spec = (spec or os.environ.get("MEMGPT_EMBEDDING") or "local").strip()
    if spec == "none":
        return None
    if spec == "local":
        from memgpt.embeddings.local import INSTALL_HINT, LocalEmbedder

        if not local_model_available():
            raise EmbeddingUnavailableError(f"The local embedding model is not installed. {INSTALL_HINT}")
        return LocalEmbedder()
    provider, _, model = spec.partition("/")
    if provider not in ("openai", "openai-compatible") or not model:
        raise ConfigError(
            f"MEMGPT_EMBEDDING={spec!r} is not understood: use local, none, openai/<model> or "
            "openai-compatible/<model> (with MEMGPT_EMBEDDING_BASE_URL)."
        )
    from memgpt.embeddings.openai_compat import OpenAICompatibleEmbedder

    url = base_url or os.environ.get("MEMGPT_EMBEDDING_BASE_URL")
    if provider == "openai-compatible":
        url = url or os.environ.get("MEMGPT_LLM_BASE_URL")
        if not url:
            raise ConfigError(f"{spec} needs MEMGPT_EMBEDDING_BASE_URL, e.g. http://localhost:11434/v1 for Ollama.")
    key = api_key or next(
        (
            os.environ[k]
            for k in ("MEMGPT_EMBEDDING_API_KEY", "MEMGPT_LLM_API_KEY", "OPENAI_API_KEY")
            if os.environ.get(k)
        ),
        None,
    )
    return OpenAICompatibleEmbedder(model, base_url=url or OPENAI_BASE_URL, api_key=key, name=spec)
