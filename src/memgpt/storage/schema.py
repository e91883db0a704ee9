"""The one definition of the tables both engines hold: columns, types, keys, constraints and shared indexes.

The DDL itself is in the engines' migration scripts (``migrations/sqlite``, ``migrations/postgres``),
because the parts that make search fast are written per engine (FTS5 tables and triggers against a
generated ``tsvector`` and GIN indexes; an in-process vector index against pgvector's HNSW). The conformance
suite reads both engines' catalogues after migrating and fails on any difference from this module
(``tests/storage/test_schema.py``): a column, type, nullability, key, foreign key or index that one engine
has and the other lacks. Row mapping (:mod:`memgpt.storage.records`) and bulk reads and writes
(``read_rows``/``write_rows``, used by ``memgpt db copy``) are derived from the same definitions.

Column types and how each engine stores them:

======== ============================== =========================================
type     SQLite                         PostgreSQL
======== ============================== =========================================
text     TEXT                           text
int      INTEGER                        integer / bigint
bool     INTEGER (0/1)                  boolean
time     REAL (seconds since the epoch) timestamptz
json     TEXT                           jsonb
vector   BLOB (float32)                 vector (any dimension; HNSW per model)
seq      INTEGER PRIMARY KEY AUTOINC.   bigint GENERATED ALWAYS AS IDENTITY
======== ============================== =========================================

``seq`` is a bulk table's insertion order, never reused by a committed row (PostgreSQL never hands a number
out twice; SQLite may give a rolled-back row's number to the next insert, which is why its vector indexes
drop what a rolled-back transaction showed them and reload from the committed rows).

Columns only one engine has are listed per table in ``sqlite_only`` / ``postgres_only``: they are derived by
the engine itself (SQLite's ``embed_seq``, set by triggers when an embedding is written, which its vector
index catches up from; PostgreSQL's generated ``tsv`` and the ``seq`` identity of the small tables).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "int", "bool", "time", "json", "vector", "seq"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False
    default: str | None = None  # as SQL text, the same on both engines ('' or 0 or false)


@dataclass(frozen=True, slots=True)
class Index:
    columns: tuple[str, ...]
    partial: bool = False  # has a WHERE clause (its predicate is engine syntax, so only its presence is compared)


@dataclass(frozen=True, slots=True)
class ForeignKey:
    column: str
    table: str  # references table(id), ON DELETE CASCADE


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    indexes: tuple[Index, ...] = ()
    owner: str | None = None  # the column bulk reads select by (an agent's, a source's or a user's rows)
    checks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> allowed values
    sqlite_only: tuple[str, ...] = ()
    postgres_only: tuple[str, ...] = ()
    sqlite_indexes: tuple[Index, ...] = ()  # beyond ``indexes`` and those over engine-only columns

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def data_columns(self) -> tuple[Column, ...]:
        """Every column but ``seq`` (which the engine assigns)."""
        return tuple(c for c in self.columns if c.type != "seq")

    @property
    def bulk(self) -> bool:
        """Whether rows are read in ``seq`` order, in batches (messages, passages, source passages)."""
        return any(c.type == "seq" for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _text(name: str, *, nullable: bool = False, default: str | None = None) -> Column:
    return Column(name, "text", nullable, default)


def _time(name: str, *, nullable: bool = False) -> Column:
    return Column(name, "time", nullable)


def _json(name: str, *, nullable: bool = True) -> Column:
    return Column(name, "json", nullable)


SEQ = Column("seq", "seq")
EMBEDDING = Column("embedding", "vector", nullable=True)

META = Table("meta", (_text("key"), _text("value")), primary_key=("key",))

AGENTS = Table(
    "agents",
    (
        _text("id"),
        _text("user_id"),
        _text("name"),
        _text("model"),
        Column("context_window", "int"),
        _text("system_prompt_version"),
        _json("fifo_ids", nullable=False),
        _text("summary", default="''"),
        _time("summary_updated_at", nullable=True),
        Column("pressure_warned", "bool", default="false"),
        _time("last_memory_edit", nullable=True),
        _json("settings", nullable=False),
        _time("created_at"),
        _time("updated_at"),
    ),
    primary_key=("id",),
    unique=(("user_id", "name"),),
    owner="user_id",
    postgres_only=("seq",),
)

MESSAGES = Table(
    "messages",
    (
        SEQ,
        _text("id"),
        _text("agent_id"),
        _text("role"),
        _text("content", nullable=True),
        _json("tool_calls"),
        _text("tool_call_id", nullable=True),
        _text("name", nullable=True),
        _json("metadata"),
        _text("search_text", default="''"),
        _time("created_at"),
        EMBEDDING,
    ),
    primary_key=("seq",),
    unique=(("id",),),
    foreign_keys=(ForeignKey("agent_id", "agents"),),
    indexes=(
        Index(("agent_id", "seq")),
        Index(("agent_id", "created_at")),
        Index(("agent_id", "seq"), partial=True),  # rows waiting for an embedding
    ),
    owner="agent_id",
    sqlite_only=("embed_seq",),
    postgres_only=("tsv",),
)

PASSAGES = Table(
    "passages",
    (SEQ, _text("id"), _text("agent_id"), _text("text"), _json("metadata"), _time("created_at"), EMBEDDING),
    primary_key=("seq",),
    unique=(("id",),),
    foreign_keys=(ForeignKey("agent_id", "agents"),),
    indexes=(Index(("agent_id", "seq")), Index(("agent_id", "seq"), partial=True)),
    owner="agent_id",
    sqlite_only=("embed_seq",),
    postgres_only=("tsv",),
)

SOURCES = Table(
    "sources",
    (
        _text("id"),
        _text("user_id"),
        _text("name"),
        _text("description", default="''"),
        _json("metadata"),
        _time("created_at"),
    ),
    primary_key=("id",),
    unique=(("user_id", "name"),),
    owner="user_id",
    postgres_only=("seq",),
)

AGENT_SOURCES = Table(
    "agent_sources",
    (_text("agent_id"), _text("source_id"), _time("attached_at")),
    primary_key=("agent_id", "source_id"),
    foreign_keys=(ForeignKey("agent_id", "agents"), ForeignKey("source_id", "sources")),
    indexes=(Index(("source_id",)),),
    owner="agent_id",
    postgres_only=("seq",),
)

SOURCE_FILES = Table(
    "source_files",
    (
        _text("id"),
        _text("source_id"),
        _text("path"),
        _text("content_hash"),
        Column("size", "int"),
        Column("passage_count", "int", default="0"),
        _text("state"),
        _json("metadata"),
        _time("updated_at"),
    ),
    primary_key=("id",),
    unique=(("source_id", "path", "content_hash"),),
    foreign_keys=(ForeignKey("source_id", "sources"),),
    owner="source_id",
    checks={"state": ("loading", "done")},
    postgres_only=("seq",),
)

SOURCE_PASSAGES = Table(
    "source_passages",
    (
        SEQ,
        _text("id"),
        _text("source_id"),
        _text("file_id"),
        Column("chunk_index", "int"),
        Column("committed", "bool", default="false"),
        _text("text"),
        _json("metadata"),
        _time("created_at"),
        EMBEDDING,
    ),
    primary_key=("seq",),
    unique=(("id",), ("file_id", "chunk_index")),
    foreign_keys=(ForeignKey("source_id", "sources"), ForeignKey("file_id", "source_files")),
    indexes=(Index(("source_id", "seq")), Index(("source_id", "seq"), partial=True)),
    owner="source_id",
    sqlite_only=("embed_seq",),
    postgres_only=("tsv",),
    # Published rows: full-text matches are kept to a source's through this covering index (FTS5 has no filter).
    sqlite_indexes=(Index(("source_id", "seq"), partial=True),),
)

USERS = Table(
    "users",
    (_text("id"), _text("name"), _time("created_at")),
    primary_key=("id",),
    unique=(("name",),),
    postgres_only=("seq",),
)

API_KEYS = Table(
    "api_keys",
    (
        _text("id"),
        _text("user_id"),
        _text("name", default="''"),
        _text("key_hash"),  # SHA-256 of the key: keys are 256 random bits, so a fast hash is enough
        _text("prefix"),  # the key's first characters, to tell keys apart in lists
        _time("created_at"),
        _time("last_used_at", nullable=True),
        _time("revoked_at", nullable=True),
    ),
    primary_key=("id",),
    unique=(("key_hash",),),
    foreign_keys=(ForeignKey("user_id", "users"),),
    indexes=(Index(("user_id",)),),
    owner="user_id",
    postgres_only=("seq",),
)

# Core-memory blocks, objects of their own that several agents can attach (Letta's blocks_agents). ``version``
# counts saved changes (every save is compare-and-set on it); ``standalone`` blocks were made on their own and
# outlive their agents, the others (an agent's own persona and human) go with the last agent using them.
BLOCKS = Table(
    "blocks",
    (
        _text("id"),
        _text("user_id"),
        _text("label"),
        _text("value", default="''"),
        Column("char_limit", "int"),
        _text("description", default="''"),
        Column("read_only", "bool", default="false"),
        Column("standalone", "bool", default="false"),
        Column("version", "int", default="1"),
        _time("created_at"),
        _time("updated_at"),
    ),
    primary_key=("id",),
    indexes=(Index(("user_id",)),),
    owner="user_id",
    postgres_only=("seq",),
)

# Which agent has which block, in the order its core memory shows them. ``label`` repeats the block's so that
# one agent never has two blocks of one label (a unique key across the tables; kept in step on renames).
AGENT_BLOCKS = Table(
    "agent_blocks",
    (_text("agent_id"), _text("block_id"), _text("label"), Column("position", "int"), _time("attached_at")),
    primary_key=("agent_id", "block_id"),
    unique=(("agent_id", "label"),),
    foreign_keys=(ForeignKey("agent_id", "agents"), ForeignKey("block_id", "blocks")),
    indexes=(Index(("block_id",)),),
    owner="agent_id",
    postgres_only=("seq",),
)

MCP_SERVERS = Table(
    "mcp_servers",
    (
        _text("id"),
        _text("user_id"),
        _text("name"),
        _text("transport"),
        _json("command"),  # stdio: the command and its arguments
        _text("url", nullable=True),  # http: the streamable HTTP endpoint
        _json("env"),  # stdio: variables for the server process (shown by name only)
        _json("headers"),  # http: headers sent with every request (shown by name only)
        _json("settings", nullable=False),
        _time("created_at"),
        _time("updated_at"),
    ),
    primary_key=("id",),
    unique=(("user_id", "name"),),
    owner="user_id",
    checks={"transport": ("stdio", "http")},
    postgres_only=("seq",),
)

TOOLS = Table(
    "tools",
    (
        _text("id"),
        _text("user_id"),
        _text("name"),
        _text("kind"),
        _text("description", default="''"),
        _text("source", default="''"),  # a custom tool's Python source, run in the sandbox by whichever process
        _json("json_schema", nullable=False),  # the function schema the model sees (request_heartbeat is added)
        _json("tags"),
        _text("mcp_server_id", nullable=True),
        _json("settings", nullable=False),
        _time("created_at"),
        _time("updated_at"),
    ),
    primary_key=("id",),
    unique=(("user_id", "name"),),
    foreign_keys=(ForeignKey("mcp_server_id", "mcp_servers"),),
    indexes=(Index(("mcp_server_id",)),),
    owner="user_id",
    checks={"kind": ("python", "mcp")},
    postgres_only=("seq",),
)

AGENT_TOOLS = Table(
    "agent_tools",
    (_text("agent_id"), _text("tool_id"), _time("attached_at")),
    primary_key=("agent_id", "tool_id"),
    foreign_keys=(ForeignKey("agent_id", "agents"), ForeignKey("tool_id", "tools")),
    indexes=(Index(("tool_id",)),),
    owner="agent_id",
    postgres_only=("seq",),
)

AGENT_SECRETS = Table(
    "agent_secrets",
    (_text("agent_id"), _text("name"), _text("value"), _time("updated_at")),
    primary_key=("agent_id", "name"),
    foreign_keys=(ForeignKey("agent_id", "agents"),),
    owner="agent_id",
    postgres_only=("seq",),
)

# Every saved change of a block (memgpt.memory.history): the text before and after, when, and what made it
# (an agent's tool call with the message that made the call, a user's edit and through what, a revert, a
# forget). ``version`` is the block's version the change produced (one row per save).
BLOCK_HISTORY = Table(
    "block_history",
    (
        _text("id"),
        _text("block_id"),
        _text("user_id"),
        Column("version", "int"),
        _text("label"),
        _text("old_value"),
        _text("new_value"),
        _text("cause"),
        _text("agent_id", nullable=True),
        _text("tool_call_id", nullable=True),
        _text("message_id", nullable=True),
        _json("detail"),
        _time("created_at"),
    ),
    primary_key=("id",),
    unique=(("block_id", "version"),),
    foreign_keys=(ForeignKey("block_id", "blocks"),),
    indexes=(Index(("user_id",)),),
    owner="user_id",
    checks={"cause": ("agent", "user", "revert", "forget", "import", "repair")},
    postgres_only=("seq",),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        META,
        USERS,
        API_KEYS,
        AGENTS,
        MESSAGES,
        PASSAGES,
        SOURCES,
        AGENT_SOURCES,
        SOURCE_FILES,
        SOURCE_PASSAGES,
        BLOCKS,
        AGENT_BLOCKS,
        MCP_SERVERS,
        TOOLS,
        AGENT_TOOLS,
        AGENT_SECRETS,
        BLOCK_HISTORY,
    )
}
EMBEDDED_TABLES = ("messages", "passages", "source_passages")
