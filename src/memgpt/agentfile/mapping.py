"""From a parsed agent file to what memgpt stores: agents, blocks, messages, FIFO, plus a report.

Everything here is pure (no store): :func:`plan_import` builds an :class:`ImportPlan` that the importer
writes in one transaction. What has a meaning in memgpt is mapped:

- blocks (label, value, limit, description, read-only), shared by every agent of the file that lists them;
- the agent's own system text as its instructions (with a short note on how memgpt works appended, for
  agent types whose instructions assume another loop);
- messages in order with their roles, tool calls and returns, dates; Letta's packaged user messages
  (``{"type": "user_message", ...}``) unpacked, its heartbeats, logins and alerts as system events;
- the in-context messages as the FIFO; Letta's "summary of the previous N messages" alert as the recursive
  summary; the compiled system messages Letta keeps (one per rebuild of its prompt) are not messages here;
- the model as a memgpt model spec where the provider is known;
- Letta's memory and base tools onto memgpt's functions; custom tools with Python source, tool rules, MCP
  servers and tool variables as :mod:`memgpt.agentfile.tools` says (custom tools are registered by the
  importer, and only when asked for).

Everything else (MCP servers, rules memgpt does not have, groups, sources, unknown fields) is listed in the
report with the reason, never dropped silently.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from memgpt.agent.prompts import load_prompt
from memgpt.agentfile.messages import MEMGPT_FUNCTIONS, MessageMapper
from memgpt.agentfile.report import ImportReport
from memgpt.agentfile.schema import (
    AgentDoc,
    AgentFileDoc,
    BlockDoc,
    FileModel,
    LLMConfigDoc,
    NewBlockDoc,
    ToolDoc,
    file_error,
)
from memgpt.agentfile.tools import (
    FileTool,
    RulePlan,
    has_python_source,
    is_mcp_tool,
    mcp_server_name,
    mcp_server_outcome,
    mcp_tool_outcome,
    plan_rules,
    variables_outcome,
)
from memgpt.errors import ValidationError
from memgpt.memory.agent_state import AgentSettings, AgentState
from memgpt.memory.blocks import DEFAULT_BLOCK_LIMIT, LABEL_CHARS, Block
from memgpt.memory.types import Message, Passage, utcnow
from memgpt.storage.records import looks_like_id
from memgpt.validation import MAX_TEXT_CHARS, check_json, clean_json, clean_text

MAX_BLOCK_LIMIT = 1_000_000
MIN_CONTEXT_WINDOW, MAX_CONTEXT_WINDOW = 1000, 100_000_000
MEMGPT_AGENT_TYPES = ("memgpt_agent", "memgpt_v2_agent")  # their instructions already teach send_message

# Letta's tools that memgpt's functions provide: name -> (memgpt function, how, or None when it is the same)
LETTA_FUNCTIONS: dict[str, tuple[str, str | None]] = {
    "send_message": ("send_message", None),
    "conversation_search": ("conversation_search", None),
    "conversation_search_date": ("conversation_search_date", None),
    "archival_memory_insert": ("archival_memory_insert", None),
    "archival_memory_search": ("archival_memory_search", None),
    "core_memory_append": ("core_memory_append", None),
    "core_memory_replace": ("core_memory_replace", None),
    "pause_heartbeats": ("pause_heartbeats", None),
    "memory_insert": ("core_memory_append", "appends to the block (memgpt inserts at the end, not at a line)"),
    "memory_replace": ("core_memory_replace", "the same edit: old_str and new_str are old_content and new_content"),
    "memory_rethink": (
        "core_memory_replace",
        "approximately: memgpt has no whole-block rewrite; the agent replaces text in the block instead",
    ),
}
UNSUPPORTED_TOOLS: dict[str, str] = {
    "memory": "memgpt has no multi-command memory tool; the agent edits blocks with core_memory_append/replace",
    "memory_apply_patch": "memgpt has no patch-based block editing; the agent uses core_memory_replace",
    "memory_finish_edits": "memgpt does not run sleep-time agents, whose end-of-edits marker this is",
    "web_search": "memgpt has no built-in web search (a custom tool can provide one)",
    "fetch_webpage": "memgpt has no built-in web fetching (a custom tool can provide one)",
    "run_code": "memgpt has no built-in code execution",
    "open_files": "memgpt's documents are searched with archival_memory_search, not opened as files",
    "grep_files": "memgpt's documents are searched with archival_memory_search, not grepped",
    "semantic_search_files": "memgpt's documents are searched with archival_memory_search",
    "send_message_to_agent_async": "memgpt has no messages between agents",
    "send_message_to_agent_and_wait_for_reply": "memgpt has no messages between agents",
    "send_message_to_agents_matching_tags": "memgpt has no messages between agents",
}
LLM_KNOBS = ("temperature", "max_tokens", "frequency_penalty", "reasoning_effort", "max_reasoning_tokens", "verbosity")
KNOWN_ENDPOINTS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com/v1"}
COMPATIBLE_ENDPOINTS = (
    "openai",
    "ollama",
    "vllm",
    "lmstudio",
    "lmstudio-legacy",
    "lmstudio-chatcompletions",
    "llamacpp",
    "koboldcpp",
    "webui",
    "webui-legacy",
    "groq",
    "together",
    "deepseek",
    "xai",
    "openrouter",
    "mistral",
    "fireworks",
    "baseten",
    "hugging-face",
    "moonshot",
    "zai",
    "azure",
)
# Fields of Letta's schemas that are its platform's bookkeeping (projects, templates, deployments, ids it
# regenerates), with no meaning for an agent's behaviour or memory: not reported when present.
BOOKKEEPING = frozenset(
    {
        "project_id", "template_id", "base_template_id", "deployment_id", "entity_id", "identity_ids", "hidden",
        "from_template", "template", "project", "template_name", "is_template", "preserve_on_migration",
        "otid", "sender_id", "batch_item_id", "group_id", "agent_id", "model", "type", "step_id", "run_id",
        "created_at", "updated_at", "created_by_id", "last_updated_by_id", "organization_id", "include_base_tools",
        "include_multi_agent_tools", "include_base_tool_rules", "include_default_source", "initial_message_sequence",
        "embedding", "embedding_chunk_size", "max_files_open", "per_file_view_window_char_limit", "memory_variables",
        "multi_agent_group", "return_char_limit", "args_json_schema", "npm_requirements", "pip_requirements",
        "default_requires_approval", "enable_parallel_execution", "metadata", "approve", "approval_request_id",
        "denial_reason", "approvals", "in_context", "parallel_tool_calls", "context_window_limit", "max_tokens",
        "max_reasoning_tokens", "enable_reasoner", "reasoning", "model_settings", "compaction_settings",
        "response_format", "timezone", "message_buffer_autoclear", "enable_sleeptime", "secrets",
        "tool_exec_environment_variables", "last_run_completion", "last_run_duration_ms", "last_stop_reason",
        "tool_call", "tool_return", "is_err", "signature", "status",
    }
)  # fmt: skip


@dataclass(slots=True)
class AgentPlan:
    """One agent as memgpt will store it."""

    file_id: str
    state: AgentState
    block_ids: list[str]  # file ids of its blocks, in order
    messages: list[Message]
    passages: list[Passage] = field(default_factory=list)
    tool_ids: list[str] = field(default_factory=list)  # file ids of its custom tools (Python source), in order
    rules: list[RulePlan] = field(default_factory=list)  # its tool rules memgpt has, before the tools are known


@dataclass(slots=True)
class ImportPlan:
    user_id: str
    blocks: dict[str, Block]  # by file id, new memgpt ids
    agents: list[AgentPlan]
    report: ImportReport
    tools: dict[str, FileTool] = field(default_factory=dict)  # custom tools with Python source, by file id


# ----------------------------------------------------------------------------- planning
def plan_import(
    doc: AgentFileDoc,
    user_id: str,
    *,
    source: str,
    name: str | None = None,
    name_suffix: str = "",
    model: str | None = None,
    default_model: str | None = None,
    strip_messages: bool = False,
) -> ImportPlan:
    """Map a parsed file onto memgpt's objects; ValidationError (with the JSON path) on what cannot be read.

    ``name`` renames the file's first agent, ``name_suffix`` is appended to the others' (Letta's "_copy");
    ``model`` replaces every agent's model; ``default_model`` is used where the file names none;
    ``strip_messages`` imports the agents without their messages.
    """
    fmt = f"Letta 0.6 single-agent file ({doc.legacy_version})" if doc.legacy_version else "Letta agent file"
    report = ImportReport(source=source, format=fmt)
    if not doc.agents:
        raise ValidationError("The agent file holds no agents; nothing was imported.")
    mapper = _Mapper(doc, user_id, report)
    mapper.check_references()
    if strip_messages:
        for agent in doc.agents:
            agent.messages, agent.in_context_message_ids = [], []
    blocks = {b.id: mapper.block(b, f"blocks[{i}]") for i, b in enumerate(doc.blocks)}
    agents = []
    taken: set[str] = set()
    for index, agent in enumerate(doc.agents):
        if name_suffix and not (index == 0 and name is not None):
            agent.name = f"{agent.name[: 100 - len(name_suffix)]}{name_suffix}"
        wanted = name if index == 0 and name is not None else None
        agents.append(mapper.agent(agent, index, blocks, taken, wanted, model, default_model))
    mapper.groups(agents, blocks)
    mapper.file_level()
    used = {file_id for a in agents for file_id in a.block_ids}
    for index, block_doc in enumerate(doc.blocks):
        if block_doc.id not in used:
            report.add(f"blocks[{index}]", f"block {block_doc.label}", "no agent of the file shows it")
    return ImportPlan(user_id, {k: v for k, v in blocks.items() if k in used}, agents, report, mapper.file_tools)


class _Mapper:
    def __init__(self, doc: AgentFileDoc, user_id: str, report: ImportReport) -> None:
        self.doc, self.user_id, self.report = doc, user_id, report
        self.tools = {t.id: (i, t) for i, t in enumerate(doc.tools)}
        self.reported_tools: set[str] = set()
        self.file_tools: dict[str, FileTool] = {}
        self.servers = {m.id: mcp_server_name(m.server_name) for m in doc.mcp_servers}

    # ------------------------------------------------------------- references
    def check_references(self) -> None:
        """Every id the file refers to is one of its own, and no id is there twice."""
        kinds = {
            "agents": [a.id for a in self.doc.agents],
            "blocks": [b.id for b in self.doc.blocks],
            "tools": [t.id for t in self.doc.tools],
            "groups": [g.id for g in self.doc.groups],
            "sources": [s.id for s in self.doc.sources],
            "files": [f.id for f in self.doc.files],
            "mcp_servers": [m.id for m in self.doc.mcp_servers],
        }
        for kind, ids in kinds.items():
            for file_id, count in Counter(ids).items():
                if count > 1:
                    raise file_error(f"{kind}: the id {file_id!r} is used {count} times")
        known = {kind: set(ids) for kind, ids in kinds.items()}
        sources = known["sources"]
        for a_index, agent in enumerate(self.doc.agents):
            where = f"agents[{a_index}]"
            for field_name, kind in (("block_ids", "blocks"), ("tool_ids", "tools"), ("group_ids", "groups")):
                for r_index, ref in enumerate(getattr(agent, field_name) or []):
                    if ref not in known[kind]:
                        raise file_error(
                            f"{where}.{field_name}[{r_index}]: no {kind[:-1]} {ref!r} in the file's {kind}"
                        )
            for field_name in ("source_ids", "folder_ids"):
                for r_index, ref in enumerate(getattr(agent, field_name) or []):
                    if ref not in sources:
                        raise file_error(f"{where}.{field_name}[{r_index}]: no source {ref!r} in the file's sources")
            message_ids = [m.id for m in agent.messages]
            for m_id, count in Counter(message_ids).items():
                if count > 1:
                    raise file_error(f"{where}.messages: the id {m_id!r} is used {count} times")
            present = set(message_ids)
            for c_index, ref in enumerate(agent.in_context_message_ids):
                if ref not in present:
                    raise file_error(
                        f"{where}.in_context_message_ids[{c_index}]: no message {ref!r} among the agent's messages"
                    )
        agents = known["agents"]
        for g_index, group in enumerate(self.doc.groups):
            for r_index, ref in enumerate(group.agent_ids):
                if ref not in agents:
                    raise file_error(f"groups[{g_index}].agent_ids[{r_index}]: no agent {ref!r} in the file")
            manager = (group.manager_config or {}).get("manager_agent_id")
            if manager is not None and manager not in agents:
                raise file_error(f"groups[{g_index}].manager_config.manager_agent_id: no agent {manager!r} in the file")
            for r_index, ref in enumerate(group.shared_block_ids):
                if ref not in known["blocks"]:
                    raise file_error(f"groups[{g_index}].shared_block_ids[{r_index}]: no block {ref!r} in the file")
        for f_index, file in enumerate(self.doc.files):
            if file.source_id is not None and file.source_id not in sources:
                raise file_error(f"files[{f_index}].source_id: no source {file.source_id!r} in the file")

    # ------------------------------------------------------------- blocks
    def block(self, doc: BlockDoc | NewBlockDoc, path: str) -> Block:
        label = self.label(doc.label, f"{path}.label")
        value = self.text(doc.value, f"{path}.value")
        limit = doc.limit or max(DEFAULT_BLOCK_LIMIT, len(value))
        if len(value) > limit:
            self.report.add(
                path,
                f"block {label}",
                f"holds {len(value)} characters, over its limit of {limit}: the limit is raised to {len(value)}",
                "changed",
            )
            limit = len(value)
        if limit > MAX_BLOCK_LIMIT:
            self.report.add(
                path, f"block {label}", f"limit {limit} lowered to memgpt's maximum, {MAX_BLOCK_LIMIT}", "changed"
            )
            limit = MAX_BLOCK_LIMIT
        description = self.text(doc.description or "", f"{path}.description")
        if isinstance(doc, BlockDoc) and doc.metadata:
            self.report.add(f"{path}.metadata", f"metadata of block {label}", "memgpt blocks have no metadata")
        self.extras(doc, path, f"block {label}")
        return Block(label, value, limit, bool(doc.read_only), description)

    def label(self, label: str, path: str) -> str:
        clean = _only(label, "_", "_")[:LABEL_CHARS] or "block"
        if clean != label:
            self.report.add(path, f"label {label!r}", f"labels are letters, digits and '_': it is {clean!r}", "changed")
        return clean

    # ------------------------------------------------------------- agents
    def agent(
        self,
        doc: AgentDoc,
        index: int,
        blocks: dict[str, Block],
        taken: set[str],
        name: str | None,
        model: str | None,
        default_model: str | None,
    ) -> AgentPlan:
        path = f"agents[{index}]"
        ext = doc.memgpt
        spec = model or (ext.model if ext and ext.model else None) or self.model(doc, path, default_model)
        window = self.context_window(doc, spec)
        settings = AgentSettings.from_dict(ext.settings) if ext else AgentSettings()
        settings.system_prompt = self.instructions(doc, path) if ext is None else ext.system_prompt
        state = AgentState(
            name=name if name is not None else self.agent_name(doc.name, f"{path}.name", taken),
            model=spec,
            context_window=window,
            user_id=self.user_id,
            settings=settings,
        )
        taken.add(state.name)
        block_ids = list(doc.block_ids or [])
        for b_index, new in enumerate(doc.memory_blocks or []):
            file_id = f"{doc.id}/memory_blocks[{b_index}]"
            blocks[file_id] = self.block(new, f"{path}.memory_blocks[{b_index}]")
            block_ids.append(file_id)
        self.unique_labels(block_ids, blocks, path)
        messages, fifo, summary = MessageMapper(self, doc, path).run()
        state.fifo_ids = fifo
        if ext is not None:
            state.system_prompt_version = ext.system_prompt_version
            state.summary, state.summary_updated_at = (
                self.text(ext.summary, f"{path}.memgpt.summary"),
                ext.summary_updated_at,
            )
            state.last_memory_edit, state.pressure_warned = ext.last_memory_edit, ext.pressure_warned
        elif summary is not None:
            state.summary, state.summary_updated_at = summary
        tool_ids, rules = self.agent_tools(doc, path, state.name)
        self.agent_fields(doc, path, state.name)
        passages = [
            Passage(
                text=self.text(p.text, f"{path}.memgpt.passages[{i}].text"),
                created_at=p.created_at or utcnow(),
                metadata={"inserted_by": {"kind": "import"}}  # what inserted it, unless the file says
                | self.json(p.metadata, f"{path}.memgpt.passages[{i}].metadata"),
            )
            for i, p in enumerate(ext.passages if ext else [])
        ]
        return AgentPlan(doc.id, state, block_ids, messages, passages, tool_ids, rules)

    def agent_name(self, name: str, path: str, taken: set[str]) -> str:
        clean = _only(name, "-_.", "-")[:100] or "imported-agent"
        if looks_like_id(clean):
            clean = f"{clean[:90]}-imported"
        base, number = clean, 2
        while clean in taken:
            clean, number = f"{base[:95]}-{number}", number + 1
        if clean != name:
            self.report.add(
                path,
                f"agent name {name!r}",
                f"agent names are letters, digits, '-', '_' and '.': it is {clean!r}",
                "changed",
            )
        return clean

    def unique_labels(self, block_ids: list[str], blocks: dict[str, Block], path: str) -> None:
        labels = Counter(blocks[b].label for b in block_ids)
        twice = [label for label, count in labels.items() if count > 1]
        if twice:
            raise file_error(f"{path}.block_ids: the agent would show two blocks labelled {twice[0]!r}")

    def model(self, doc: AgentDoc, path: str, default_model: str | None) -> str:
        """The memgpt model spec of the agent's ``llm_config`` (or its ``model`` handle)."""
        from memgpt.llm.models import resolve_model

        llm = doc.llm_config
        if llm is None:
            handle = doc.model or default_model
            if handle is None:
                raise file_error(f"{path}: the agent names no model (no llm_config); import it with --model")
            try:
                return resolve_model(handle)
            except Exception:  # a Letta handle of a provider memgpt has no client for
                return self.compatible(handle.split("/", 1)[-1], path, f"the model handle {handle!r}", None)
        self.llm_knobs(llm, path)
        endpoint_type = (llm.model_endpoint_type or "").lower()
        endpoint = (llm.model_endpoint or "").rstrip("/")
        name = self.text(llm.model, f"{path}.llm_config.model").strip()
        if endpoint_type in KNOWN_ENDPOINTS and endpoint in ("", KNOWN_ENDPOINTS[endpoint_type]):
            return f"{endpoint_type}/{name}"
        what = f"{endpoint_type or 'an unknown provider'} at {endpoint or 'an unnamed endpoint'}"
        return self.compatible(name, path, what, endpoint or None)

    def compatible(self, name: str, path: str, what: str, endpoint: str | None) -> str:
        spec = f"openai-compatible/{name}"
        base = endpoint if endpoint is None or endpoint.endswith("/v1") else f"{endpoint}/v1"
        endpoint_type = what.split(" ", 1)[0]
        if endpoint_type in COMPATIBLE_ENDPOINTS or endpoint_type == "anthropic":
            how = f"set MEMGPT_LLM_BASE_URL={base}" if base else "set MEMGPT_LLM_BASE_URL to its endpoint"
        else:
            how = "memgpt has no client for this provider: point MEMGPT_LLM_BASE_URL at an OpenAI-compatible proxy"
        self.report.add(
            f"{path}.llm_config",
            f"model {name} ({what})",
            f"stored as {spec}; {how}, or import with --model",
            "changed",
        )
        return spec

    def llm_knobs(self, llm: LLMConfigDoc, path: str) -> None:
        extra = llm.extra_fields()
        knobs = {k: extra[k] for k in LLM_KNOBS if extra.get(k) not in (None, 0, False, "")}
        if knobs:
            shown = ", ".join(f"{k} {v}" for k, v in knobs.items())
            self.report.add(f"{path}.llm_config", shown, "memgpt calls the model with the provider's defaults")

    def context_window(self, doc: AgentDoc, spec: str) -> int:
        from memgpt.llm.models import context_window_for

        given = (doc.llm_config.context_window if doc.llm_config else None) or doc.context_window_limit
        window = given or context_window_for(spec)
        return min(max(window, MIN_CONTEXT_WINDOW), MAX_CONTEXT_WINDOW)

    def instructions(self, doc: AgentDoc, path: str) -> str | None:
        """The agent's own system text, with how memgpt works appended for agent types that assume another loop."""
        system = self.text(doc.system or "", f"{path}.system").strip()
        if not system:
            self.report.add(f"{path}.system", "no system text", "memgpt's own instructions are used", "changed")
            return None
        agent_type = doc.agent_type or "memgpt_agent"
        if agent_type in MEMGPT_AGENT_TYPES:
            return system
        self.report.add(
            f"{path}.system",
            f"instructions of a {agent_type}",
            "kept as the agent's instructions, with "
            "a note appended on how memgpt works (replies only through send_message)",
            "changed",
        )
        return f"{system}\n\n{load_prompt('imported_agent_note')}"

    def agent_tools(self, doc: AgentDoc, path: str, agent: str) -> tuple[list[str], list[RulePlan]]:
        """The agent's custom tools with Python source (file ids) and its rules memgpt has; the rest reported."""
        names: list[tuple[str, str, str | None]] = []  # name, where, file id
        for tool_id in doc.tool_ids or []:
            index, tool = self.tools[tool_id]
            names.append((tool.name, f"tools[{index}]", tool_id))
        names += [(n, f"{path}.tools[{i}]", None) for i, n in enumerate(doc.tools or [])]
        provided, custom = set(), []
        for name, where, file_id in names:
            entry = self.tools[file_id] if file_id else self.tool_named(name)
            mapped = LETTA_FUNCTIONS.get(name) or ((name, None) if name in MEMGPT_FUNCTIONS else None)
            if mapped is not None:
                provided.add(mapped[0])
                if where in self.reported_tools:
                    continue
                if entry is not None and has_python_source(entry[1]):  # a custom tool named like a built-in one
                    lines = len((entry[1].source_code or "").splitlines())
                    reason = f"not imported: it is named like memgpt's {mapped[0]}, which the agent calls instead"
                    self.report.add(where, f"custom tool {name} ({lines} lines of python)", reason)
                elif mapped[1] is not None:
                    self.report.add(where, f"tool {name}", f"provided by memgpt's {mapped[0]}: {mapped[1]}", "changed")
                self.reported_tools.add(where)
                continue
            if entry is not None and has_python_source(entry[1]):
                tool = entry[1]
                self.file_tools.setdefault(tool.id, FileTool(tool.id, f"tools[{entry[0]}]", tool))
                if tool.id not in custom:
                    custom.append(tool.id)
            elif entry is not None and is_mcp_tool(entry[1]):
                mcp_tool_outcome(entry[1], where, agent, self.servers, self.report)
            elif where not in self.reported_tools:
                self.tool_outcome(name, where)
            self.reported_tools.add(where)
        missing = [f for f in MEMGPT_FUNCTIONS if f not in provided]
        if missing and doc.memgpt is None:
            self.report.add(f"{path}.tool_ids", "memgpt's base functions", f"the agent can also call "
                            f"{', '.join(missing)}: memgpt's base set is always there", "changed")  # fmt: skip
        aliases = {letta: memgpt for letta, (memgpt, _) in LETTA_FUNCTIONS.items()}
        return custom, plan_rules(doc.tool_rules or [], path, aliases, self.report)

    def tool_named(self, name: str) -> tuple[int, ToolDoc] | None:
        return next((e for e in self.tools.values() if e[1].name == name), None)

    def tool_outcome(self, name: str, where: str) -> None:
        entry = next((t for _, t in self.tools.values() if t.name == name), None)
        if entry is not None and entry.source_code:
            lines = len(entry.source_code.splitlines())
            self.report.add(
                where,
                f"custom tool {name} ({lines} lines of {entry.source_type})",
                "memgpt runs custom tools written in Python only",
            )
        else:
            kind = f" ({entry.tool_type})" if entry is not None and entry.tool_type else ""
            self.report.add(where, f"tool {name}{kind}", UNSUPPORTED_TOOLS.get(name, "memgpt has no such function"))

    def agent_fields(self, doc: AgentDoc, path: str, agent: str) -> None:
        """Report what of the agent memgpt keeps nowhere."""
        if doc.description:
            self.report.add(f"{path}.description", "description", "memgpt agents have no description")
        if doc.metadata:
            keys = ", ".join(sorted(doc.metadata))
            self.report.add(f"{path}.metadata", f"metadata ({keys})", "memgpt agents have no metadata")
        if doc.tags:
            self.report.add(f"{path}.tags", f"tags {', '.join(doc.tags)}", "memgpt agents have no tags")
        if doc.embedding_config is not None and doc.memgpt is None:
            model = doc.embedding_config.handle or doc.embedding_config.embedding_model or "?"
            self.report.add(
                f"{path}.embedding_config",
                f"embedding model {model}",
                "memgpt embeds with its own configured model",
                "changed",
            )
        for field_name in ("source_ids", "folder_ids"):
            for ref in getattr(doc, field_name) or []:
                self.report.add(f"{path}.{field_name}", f"source {ref}", "attach sources with `memgpt load` instead")
        if doc.files_agents:
            self.report.add(
                f"{path}.files_agents",
                f"{len(doc.files_agents)} open file(s)",
                "memgpt has no open files; its documents are searched in archival memory",
            )
        extra = doc.extra_fields()
        secrets = extra.get("secrets") or extra.get("tool_exec_environment_variables") or []
        variables = [str(_variable_name(s)) for s in (list(secrets) if isinstance(secrets, dict | list) else [])]
        variables += [v for v in (doc.memgpt.tool_variables if doc.memgpt else []) if v not in variables]
        if variables:
            where = f"{path}.memgpt.tool_variables" if doc.memgpt and doc.memgpt.tool_variables else f"{path}.secrets"
            variables_outcome(variables, agent, where, self.report)
        if extra.get("timezone") not in (None, "UTC"):
            self.report.add(f"{path}.timezone", f"timezone {extra['timezone']}", "memgpt shows times in UTC")
        if extra.get("response_format"):
            self.report.add(f"{path}.response_format", "a response format", "memgpt replies through send_message")
        if extra.get("message_buffer_autoclear"):
            self.report.add(
                f"{path}.message_buffer_autoclear",
                "clearing messages after each turn",
                "memgpt keeps the context window and evicts into the summary",
            )
        self.extras(doc, path, "agent")

    # ------------------------------------------------------------- groups and the rest of the file
    def groups(self, agents: list[AgentPlan], blocks: dict[str, Block]) -> None:
        by_file = {a.file_id: a for a in agents}
        for index, group in enumerate(self.doc.groups):
            config = group.manager_config or {}
            manager = config.get("manager_agent_id")
            members = [by_file[a] for a in ([manager] if manager else []) + group.agent_ids if a in by_file]
            for block_id in group.shared_block_ids:
                for member in members:
                    if block_id not in member.block_ids:
                        member.block_ids.append(block_id)
                        self.unique_labels(member.block_ids, blocks, f"groups[{index}].shared_block_ids")
            shared = set.intersection(*(set(m.block_ids) for m in members)) if len(members) > 1 else set()
            names = ", ".join(m.state.name for m in members)
            kind = config.get("manager_type", "round_robin")
            details = ", ".join(f"{k} {v}" for k, v in config.items() if k not in ("manager_type", "manager_agent_id"))
            self.report.add(
                f"groups[{index}]",
                f"{kind} group of {names}" + (f" ({details})" if details else ""),
                "memgpt does not run agents as a group: each was imported as an agent of its own"
                + (f", and the {len(shared)} blocks they share stay shared" if shared else ""),
            )

    def file_level(self) -> None:
        for index, server in enumerate(self.doc.mcp_servers):
            mcp_server_outcome(server, f"mcp_servers[{index}]", self.report)
        for index, source in enumerate(self.doc.sources):
            files = [f.file_name or f.id for f in self.doc.files if f.source_id == source.id]
            self.report.add(
                f"sources[{index}]",
                f"source {source.name} ({len(files)} file(s): {', '.join(files)})",
                "load documents with `memgpt load PATH --agent NAME` (a file's parsed text is not re-read)",
            )
        orphans = [f for f in self.doc.files if f.source_id is None]
        for file in orphans:
            self.report.add("files", f"file {file.file_name or file.id}", "files outside a source are not read")
        for index, skill in enumerate(self.doc.skills):
            self.report.add(f"skills[{index}]", f"skill {skill.get('name', '?')}", "memgpt has no skills")
        for index, tool in enumerate(self.doc.tools):
            used = any(tool.id in (a.tool_ids or []) for a in self.doc.agents)
            if not used:
                self.report.add(f"tools[{index}]", f"tool {tool.name}", "no agent of the file uses it")
        self.extras(self.doc, "", "agent file")

    # ------------------------------------------------------------- values
    def text(self, value: str, path: str) -> str:
        if len(value) > MAX_TEXT_CHARS:
            raise file_error(
                f"{path}: {len(value):,} characters, over memgpt's limit of {MAX_TEXT_CHARS:,} for one text"
            )
        cleaned = clean_text(value)
        if cleaned != value:
            self.report.repaired_text += 1
        return cleaned

    def json(self, value: dict[str, Any], path: str) -> dict[str, Any]:
        cleaned = clean_json(value)
        try:
            check_json(cleaned, path)
        except ValidationError as exc:
            raise file_error(str(exc)) from None
        if cleaned != value:
            self.report.repaired_text += 1
        return dict(cleaned)

    def extras(self, model: FileModel, path: str, what: str) -> None:
        """Report the fields of ``model`` memgpt did not read that hold something (and are not bookkeeping)."""
        for key, value in model.extra_fields().items():
            if key in BOOKKEEPING or key in REPORTED_ELSEWHERE or value in (None, "", [], {}, False):
                continue
            shown = json.dumps(value, ensure_ascii=False, default=str)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            self.report.add(
                f"{path}.{key}" if path else key, f"{what} field {key} = {shown}", "memgpt has no such field"
            )


REPORTED_ELSEWHERE = frozenset({"secrets", "tool_exec_environment_variables", "timezone", "response_format"})


def _variable_name(entry: object) -> object:
    """A tool variable's name: a key of Letta's dict, or the ``key`` of an entry of Letta 0.6's list."""
    return entry.get("key", "?") if isinstance(entry, dict) else entry


def _only(text: str, allowed: str, replacement: str) -> str:
    """``text`` with every run of characters that are neither letters, digits nor ``allowed`` replaced."""
    kept = "".join(ch if ch.isalnum() or ch in allowed else "\0" for ch in unicodedata.normalize("NFC", text))
    return re.sub("\0+", replacement, kept).strip(replacement + ".")
