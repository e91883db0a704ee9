"""Ingest throughput and peak memory of `memgpt load` (the Client.load path), each case in a fresh process.

Cases:
- ``nq``: the 2,655 NQ-Open oracle passages (``../shared/data/nq_open_oracle``) written out as one
  text file each (title line + passage), loaded with the local embedding model.
- ``folder``: a generated folder of text files (default 50 MB), loaded with ``MEMGPT_EMBEDDING=none``:
  walking, hashing, parsing, chunking and storing, no embedding.
- ``embed-sample``: the first files of that folder (about ``--sample`` passages) with the local model:
  the throughput of the embedding step that the ``folder`` case leaves out.

Peak memory is the child process's ``ru_maxrss`` (``resource.getrusage``). Run from the repository root::

    nice -n 10 python benchmarks/ingest.py --output benchmarks/results/ingest.md
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NQ_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nq_open_oracle" / "nq-open-oracle.jsonl.gz"


def write_nq_files(folder: Path, data: Path = NQ_DATA) -> int:
    """One text file per question's oracle passage; returns how many were written."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with gzip.open(data, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            ctx = row["ctxs"][0]
            (folder / f"nq-{count:05d}.txt").write_text(f"{ctx['title']}\n\n{ctx['text']}\n", encoding="utf-8")
            count += 1
    return count


def write_text_folder(folder: Path, megabytes: float, file_kb: int = 100) -> tuple[int, int]:
    """Generated prose (Zipf-distributed words in sentences and paragraphs); returns (files, bytes)."""
    from memgpt.evals.bench import synthetic_text

    folder.mkdir(parents=True, exist_ok=True)
    target = int(megabytes * 1_000_000)
    written = files = sentence = 0
    while written < target:
        paragraphs = []
        size = 0
        while size < file_kb * 1000:
            text = " ".join(synthetic_text(sentence + k, words=14).capitalize() + "." for k in range(5))
            sentence += 5
            paragraphs.append(text)
            size += len(text) + 2
        body = "\n\n".join(paragraphs)
        (folder / f"doc-{files:05d}.txt").write_text(body, encoding="utf-8")
        written += len(body.encode())
        files += 1
    return files, written


async def run_load(paths: list[Path], size: int, embedding: str) -> dict[str, Any]:
    from memgpt.client import Client
    from memgpt.embeddings import open_embedder

    embedder = open_embedder(embedding)
    with tempfile.TemporaryDirectory() as workdir:
        client = await Client.open(f"sqlite:///{Path(workdir) / 'ingest.db'}", embedder=embedder)
        try:
            await client.create_agent("reader", model="openai/gpt-4o-mini")
            started = time.perf_counter()
            report = await client.load(paths, agent="reader", source="bench")
            seconds = time.perf_counter() - started
        finally:
            await client.close()
    loaded = sum(1 for f in report.files if f.status == "loaded")
    return {
        "embedding": embedder.name if embedder is not None else "none",
        "files": loaded,
        "skipped": len(report.skipped),
        "bytes": size,
        "passages": report.passages_added,
        "seconds": round(seconds, 2),
        "passages_per_s": round(report.passages_added / seconds, 1),
        "mb_per_s": round(size / 1e6 / seconds, 2),
    }


def child(case: str, folder: Path, embedding: str, limit_files: int | None) -> None:
    files = sorted(folder.iterdir())[:limit_files] if limit_files else sorted(folder.iterdir())
    size = sum(f.stat().st_size for f in files)
    result = asyncio.run(run_load(files if limit_files else [folder], size, embedding))
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["load_average_1m"] = round(os.getloadavg()[0], 1)  # other processes sharing the CPU
    print(json.dumps({"case": case, **result}))


def spawn(case: str, folder: Path, embedding: str, limit_files: int | None = None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", case, "--folder", str(folder), "--embedding", embedding]
    if limit_files:
        command += ["--limit-files", str(limit_files)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=50.0)
    parser.add_argument("--sample", type=int, default=512, help="passages for the embed-sample case")
    parser.add_argument("--cases", default="nq,folder,embed-sample")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--embedding", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--limit-files", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder, args.embedding, args.limit_files)
        return
    cases = args.cases.split(",")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "nq" in cases:
            write_nq_files(root / "nq")
            results["nq_local_model"] = spawn("nq", root / "nq", "local")
        if "folder" in cases or "embed-sample" in cases:
            files, _ = write_text_folder(root / "text", args.megabytes)
            if "folder" in cases:
                results["text_folder_no_embedding"] = spawn("folder", root / "text", "none")
            if "embed-sample" in cases:
                per_file = max(1, results.get("text_folder_no_embedding", {}).get("passages", 0) // files) or 110
                sample_files = max(1, args.sample // per_file)
                results["text_sample_local_model"] = spawn("embed-sample", root / "text", "local", sample_files)
    if args.output:
        from memgpt.evals.bench import write_results

        write_results(args.output, "ingest (memgpt load)", results)
        print(f"Appended to {args.output}")


if __name__ == "__main__":
    main()
