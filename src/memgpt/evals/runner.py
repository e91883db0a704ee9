"""The question loop shared by every LLM evaluation: agents, metering, concurrency, resume, summaries.

Each evaluation turns its data set into :class:`Question` objects and an ``answer`` coroutine that
drives agents through the public :class:`memgpt.Client` API and returns one record per question.
:func:`run_questions` runs them ``concurrency`` at a time and appends every finished record to a JSONL
cache (first line: the settings it was made with), so an interrupted run continues where it stopped
and a rerun with other settings is refused instead of mixing results. Questions whose answer raised
an LLM error are reported but not cached, so a rerun retries them.

Every LLM call made while a question is answered (agent steps, summaries, the judge) is metered:
tokens in and out, calls and wall time are attributed to that question through a context variable,
so the figures stay right with many questions in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from memgpt.embeddings.base import Embedder, Vectors
from memgpt.errors import ConfigError, LLMError
from memgpt.llm.base import ChatRequest, ChatResponse, DeltaCallback, LLMClient

SCRIPTED = "scripted"


@dataclass(slots=True)
class Meter:
    """LLM usage of one question (or of one set-up), split between the agent and the judge."""

    tokens_in: int = 0
    tokens_out: int = 0
    llm_calls: int = 0
    llm_seconds: float = 0.0
    judge_tokens_in: int = 0
    judge_tokens_out: int = 0
    judge_calls: int = 0


_METER: ContextVar[Meter | None] = ContextVar("memgpt_eval_meter", default=None)


class MeteredLLM:
    """An LLM client that adds each call's usage and time to the current question's :class:`Meter`."""

    def __init__(self, inner: LLMClient, *, judge: bool = False) -> None:
        self.inner = inner
        self.model = inner.model
        self.judge = judge

    async def chat(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResponse:
        started = time.perf_counter()
        response = await self.inner.chat(request, on_delta)
        meter = _METER.get()
        if meter is not None:
            usage = response.usage
            if self.judge:
                meter.judge_calls += 1
                meter.judge_tokens_in += usage.prompt_tokens if usage else 0
                meter.judge_tokens_out += usage.completion_tokens if usage else 0
            else:
                meter.llm_calls += 1
                meter.tokens_in += usage.prompt_tokens if usage else 0
                meter.tokens_out += usage.completion_tokens if usage else 0
                meter.llm_seconds += time.perf_counter() - started
        return response

    async def close(self) -> None:
        await self.inner.close()


@contextlib.contextmanager
def metering() -> Any:
    """Attribute LLM usage inside the block (and in tasks started from it) to a fresh Meter."""
    meter = Meter()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


class CachedEmbedder:
    """Memoises another embedder by text: an evaluation loads the same texts into many fresh agents."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._vectors: dict[str, Vectors] = {}

    async def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, await self.inner.embed(missing), strict=True):
                self._vectors[text] = vector
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32, copy=False)

    async def close(self) -> None:
        await self.inner.close()


@dataclass(slots=True)
class EvalSettings:
    """What an evaluation runs against. ``llm`` / ``judge_llm`` inject clients (tests); else models are opened."""

    model: str
    judge_model: str | None = None
    limit: int | None = None
    concurrency: int = 1
    cache: Path | None = None
    context_window: int | None = None
    embedding: str | None = None
    llm: LLMClient | None = None
    judge_llm: LLMClient | None = None
    on_progress: Callable[[int, int], None] | None = None
    on_estimate: Callable[[CostEstimate], None] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The model the results are labelled with; ``scripted`` for the scripted LLM."""
        return SCRIPTED if _is_scripted(self.model, self.llm) else self.model

    @property
    def judge_label(self) -> str:
        spec = self.judge_model or self.model
        return SCRIPTED if _is_scripted(spec, self.judge_llm or (None if self.judge_model else self.llm)) else spec

    def fingerprint(self, task: str) -> dict[str, Any]:
        """The settings a cached record depends on; a cache made with others is refused."""
        return {
            "task": task,
            "model": self.model,
            "judge_model": self.judge_model or self.model,
            "context_window": self.context_window,
            "embedding": self.embedding,
            **self.options,
        }


def _is_scripted(spec: str, llm: LLMClient | None) -> bool:
    name = spec.rpartition("/")[2]
    return name == SCRIPTED or (llm is not None and llm.model == SCRIPTED)


@dataclass(slots=True)
class Question:
    """One unit of work: ``id`` is stable across runs (the cache key), ``group`` is its category or level."""

    id: str
    group: str
    data: dict[str, Any]


Answer = Callable[[Question], Awaitable[dict[str, Any]]]


class ResultCache:
    """Per-question records in a JSONL file whose first line holds the settings that produced them."""

    def __init__(self, path: Path | None, fingerprint: dict[str, Any]) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        if path is None:
            return
        if path.exists() and path.stat().st_size:
            self._load(path, fingerprint)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"settings": fingerprint}) + "\n", encoding="utf-8")

    def _load(self, path: Path, fingerprint: dict[str, Any]) -> None:
        lines = path.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0]).get("settings")
        except (ValueError, AttributeError):
            header = None
        if header != fingerprint:
            raise ConfigError(
                f"The results cache {path} was made with other settings ({header}); "
                "delete it or choose another --output to start afresh."
            )
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by an interrupted write: that question runs again
            self.records[record["id"]] = record

    def add(self, record: dict[str, Any]) -> None:
        self.records[record["id"]] = record
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


@dataclass(slots=True)
class RunOutcome:
    """Records in question order (cached and new), the questions that failed, and how many were cached."""

    records: list[dict[str, Any]]
    failures: list[dict[str, str]]
    cached: int
    seconds: float


async def run_questions(
    task: str,
    questions: Sequence[Question],
    answer: Answer,
    settings: EvalSettings,
    *,
    cost: Callable[[list[Question], int], CostEstimate] | None = None,
) -> RunOutcome:
    """Answer every question not already cached, ``settings.concurrency`` at a time.

    ``cost(todo, cached)`` estimates the run; the estimate goes to ``settings.on_estimate`` before any call.
    """
    cache = ResultCache(settings.cache, settings.fingerprint(task))
    todo = [q for q in questions if q.id not in cache.records]
    cached = len(questions) - len(todo)
    if cost is not None and settings.on_estimate is not None:
        settings.on_estimate(cost(todo, cached))
    failures: list[dict[str, str]] = []
    done = cached
    semaphore = asyncio.Semaphore(max(1, settings.concurrency))
    started = time.perf_counter()

    async def one(question: Question) -> None:
        nonlocal done
        async with semaphore:
            try:
                record = await _answer_metered(question, answer)
            except LLMError as exc:
                failures.append({"id": question.id, "error": str(exc)})
            else:
                cache.add(record)
            done += 1
            if settings.on_progress is not None:
                settings.on_progress(done, len(questions))

    if settings.on_progress is not None:
        settings.on_progress(done, len(questions))
    await asyncio.gather(*(one(q) for q in todo))
    records = [cache.records[q.id] for q in questions if q.id in cache.records]
    return RunOutcome(records, failures, cached, time.perf_counter() - started)


async def _answer_metered(question: Question, answer: Answer) -> dict[str, Any]:
    with metering() as meter:
        started = time.perf_counter()
        record = await answer(question)
        elapsed = time.perf_counter() - started
    record = {"id": question.id, "group": question.group, **record}
    record.update(asdict(meter))
    record["latency_s"] = round(elapsed, 4)
    record["llm_seconds"] = round(meter.llm_seconds, 4)
    return record


class SharedSetup:
    """Set-up work shared by several questions (a conversation played to an agent), run once on demand.

    Its LLM usage is metered apart from any question and reported under ``usage.setup``.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self.meters: dict[str, Meter] = {}

    async def get(self, key: str, work: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._tasks:
            self._tasks[key] = asyncio.get_running_loop().create_task(self._run(key, work))
        return await asyncio.shield(self._tasks[key])

    async def _run(self, key: str, work: Callable[[], Awaitable[Any]]) -> Any:
        with metering() as meter:
            self.meters[key] = meter
            return await work()

    def usage(self) -> dict[str, int]:
        return {
            "llm_calls": sum(m.llm_calls for m in self.meters.values()),
            "tokens_in": sum(m.tokens_in for m in self.meters.values()),
            "tokens_out": sum(m.tokens_out for m in self.meters.values()),
        }


# --------------------------------------------------------------------------- clients
@contextlib.asynccontextmanager
async def eval_client(settings: EvalSettings) -> AsyncIterator[Any]:
    """A Client on a throw-away SQLite store with the metered agent LLM and a memoising embedder."""
    from memgpt.client import Client
    from memgpt.embeddings import open_embedder
    from memgpt.llm.models import open_llm, resolve_model

    resolve_model(settings.model)
    inner_llm = settings.llm or open_llm(settings.model)
    inner = open_embedder(settings.embedding)
    embedder = CachedEmbedder(inner) if inner is not None else None
    try:
        with tempfile.TemporaryDirectory(prefix="memgpt-eval-") as tmp:
            client = await Client.open(
                f"sqlite:///{Path(tmp) / 'eval.db'}", embedder=embedder, llm=MeteredLLM(inner_llm)
            )
            try:
                yield client
            finally:
                await client.close()
    finally:
        if settings.llm is None:
            await inner_llm.close()


@contextlib.asynccontextmanager
async def judge_client(settings: EvalSettings) -> AsyncIterator[LLMClient]:
    """The metered judge: ``judge_llm``, else ``judge_model``, else the agent's own model."""
    from memgpt.llm.models import open_llm

    injected = settings.judge_llm or (settings.llm if settings.judge_model is None else None)
    inner = injected or open_llm(settings.judge_model or settings.model)
    try:
        yield MeteredLLM(inner, judge=True)
    finally:
        if injected is None:
            await inner.close()


async def create_agent(client: Any, name: str, settings: EvalSettings, **blocks: str) -> None:
    """A fresh agent for one question (or one conversation) with the evaluation's model."""
    await client.create_agent(
        name,
        model=settings.model,
        context_window=settings.context_window,
        persona=blocks.get("persona", ""),
        human=blocks.get("human", ""),
    )


def replies(events: Sequence[Any]) -> str:
    """The text the user saw: every ``send_message`` of the answer, joined."""
    return "\n".join(e.content or "" for e in events if e.type == "assistant_message")


def function_results(events: Sequence[Any], name: str) -> list[str]:
    """The results of every call of function ``name`` during the answer."""
    return [e.content or "" for e in events if e.type == "function_result" and e.data.get("name") == name]


# --------------------------------------------------------------------------- summaries
def summarize(
    task: str,
    outcome: RunOutcome,
    settings: EvalSettings,
    *,
    breakdown: str = "by_category",
    excluded: Sequence[str] = (),
    metrics: Sequence[str] = (),
) -> dict[str, Any]:
    """The result document: accuracy overall (``excluded`` groups left out) and per group, plus costs."""
    records = outcome.records
    counted = [r for r in records if r["group"] not in excluded]
    groups = sorted({r["group"] for r in records}, key=_group_order)
    result: dict[str, Any] = {
        "task": task,
        "model": settings.label,
        "judge_model": settings.judge_label if any("judge" in r for r in records) else None,
        "scripted": settings.label == SCRIPTED,
        "n": len(counted),
        "accuracy": _mean(r["correct"] for r in counted),
    }
    for metric in metrics:
        result[metric] = _mean(r[metric] for r in counted)
    if excluded:
        result["excluded_from_overall"] = list(excluded)
        result["n_total"] = len(records)
        result["accuracy_all"] = _mean(r["correct"] for r in records)
    result[breakdown] = {g: _group_summary([r for r in records if r["group"] == g], metrics) for g in groups}
    result["usage"] = _usage(records)
    result["questions"] = records
    result["failed"] = len(outcome.failures)
    if outcome.failures:
        result["failures"] = outcome.failures[:20]
    result["settings"] = settings.fingerprint(task)
    from memgpt.evals.bench import machine

    result["run"] = {**machine(), "cached_questions": outcome.cached, "seconds": round(outcome.seconds, 1)}
    return result


def _group_order(group: str) -> tuple[int, str]:
    return (int(group), "") if group.isdigit() else (1 << 30, group)


def _group_summary(records: list[dict[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {"n": len(records), "accuracy": _mean(r["correct"] for r in records)}
    for metric in metrics:
        summary[metric] = _mean(r[metric] for r in records)
    return summary


def _usage(records: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [r["latency_s"] for r in records]
    totals = {
        key: sum(r.get(key, 0) for r in records)
        for key in ("tokens_in", "tokens_out", "llm_calls", "judge_tokens_in", "judge_tokens_out", "judge_calls")
    }
    per_question = {f"{key}_mean": round(value / len(records), 1) if records else 0.0 for key, value in totals.items()}
    latency = {
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else 0.0,
        "latency_mean_s": round(statistics.fmean(latencies), 3) if latencies else 0.0,
        "latency_max_s": round(max(latencies), 3) if latencies else 0.0,
    }
    return {"total": totals, "per_question": {**per_question, **latency}}


def _mean(values: Any) -> float:
    items = [float(v) for v in values]
    return round(sum(items) / len(items), 4) if items else 0.0


# --------------------------------------------------------------------------- cost estimate
@dataclass(slots=True)
class CostEstimate:
    """A rough count of what a run will use, printed before it starts."""

    questions: int
    cached: int
    llm_calls: int
    tokens_in: int
    tokens_out: int
    assumptions: str

    def dollars(self, price_in: float | None, price_out: float | None) -> float | None:
        """Cost at the given prices (USD per million tokens), or None without prices."""
        if price_in is None or price_out is None:
            return None
        return (self.tokens_in * price_in + self.tokens_out * price_out) / 1_000_000


BASE_CONTEXT_TOKENS = 1700  # system prompt + function schemas of a fresh agent (memgpt bench step)


def estimate(
    todo: int,
    cached: int,
    *,
    calls_per_question: float = 3.0,
    context_per_call: int = BASE_CONTEXT_TOKENS + 600,
    judged: bool = True,
    extra_calls: int = 0,
    extra_context: int = 0,
) -> CostEstimate:
    """Tokens for the ``todo`` questions still to run: each agent call resends the context; a judge call ~400 in."""
    calls = round(todo * calls_per_question) + extra_calls
    tokens_in = round(todo * calls_per_question * context_per_call) + extra_calls * extra_context
    tokens_out = calls * 60
    if judged:
        calls += todo
        tokens_in += todo * 400
        tokens_out += todo * 40
    note = f"~{calls_per_question:g} agent calls per question of ~{context_per_call:,} tokens each"
    if judged:
        note += ", one judge call each"
    if extra_calls:
        note += f", plus {extra_calls:,} calls to play the conversations"
    return CostEstimate(todo + cached, cached, calls, tokens_in, tokens_out, note)
