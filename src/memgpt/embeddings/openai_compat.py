"""An OpenAI-compatible ``/v1/embeddings`` client (OpenAI, Ollama, vLLM, TEI) on httpx."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np

from memgpt.embeddings.base import Vectors
from memgpt.errors import EmbeddingUnavailableError

BATCH = 256
RETRIES = 3
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAICompatibleEmbedder:
    """Embeds through an HTTP endpoint; ``dim`` is learned from the first reply unless given."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        name: str | None = None,
        dim: int = 0,
        timeout: float = 60.0,
        backoff: float = 0.5,
    ) -> None:
        self.model = model
        self.name = name or f"openai-compatible/{model}"
        self.dim = dim
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._backoff = backoff
        self._client: Any = None

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self._timeout)
        return self._client

    async def embed(self, texts: Sequence[str]) -> Vectors:
        chunks = [await self._embed_batch(list(texts[i : i + BATCH])) for i in range(0, len(texts), BATCH)]
        if not chunks:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.concatenate(chunks).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: Vectors = vectors / np.maximum(norms, 1e-12)
        return normalised

    async def _embed_batch(self, texts: list[str]) -> Vectors:
        import httpx

        last_error = ""
        for attempt in range(RETRIES):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = await self._http().post("/embeddings", json={"model": self.model, "input": texts})
            except httpx.HTTPError as exc:
                last_error = f"cannot reach {self.base_url} ({type(exc).__name__})"
                continue
            if response.status_code in (401, 403):
                raise EmbeddingUnavailableError(
                    f"The embedding endpoint {self.base_url} rejected the API key (HTTP {response.status_code}); "
                    "check MEMGPT_EMBEDDING_API_KEY / OPENAI_API_KEY."
                )
            if response.status_code in RETRY_STATUS:
                last_error = f"HTTP {response.status_code} from {self.base_url}"
                continue
            if response.status_code >= 400:
                raise EmbeddingUnavailableError(
                    f"The embedding endpoint {self.base_url} answered HTTP {response.status_code}: "
                    f"{response.text[:200]}"
                )
            return self._vectors(response.json(), len(texts))
        raise EmbeddingUnavailableError(f"Embedding failed after {RETRIES} tries: {last_error}.")

    def _vectors(self, body: dict[str, Any], expected: int) -> Vectors:
        data = sorted(body.get("data", []), key=lambda item: item.get("index", 0))
        if len(data) != expected:
            raise EmbeddingUnavailableError(f"The embedding endpoint sent {len(data)} vectors for {expected} texts.")
        vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        if not self.dim:
            self.dim = vectors.shape[1]
        elif vectors.shape[1] != self.dim:
            raise EmbeddingUnavailableError(f"The endpoint returned {vectors.shape[1]}-d vectors, expected {self.dim}.")
        return vectors

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
