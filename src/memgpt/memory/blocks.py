"""Core memory: a few labelled, size-limited text blocks that live in the prompt.

A block is an object of its own in the store (``block-<uuid>``), attachable to several agents: an agent
and its sleep-time agent, or a team sharing one policy block. ``version`` counts its saved changes; a save
is compare-and-set on it, so two agents editing one block at once never lose an edit
(:mod:`memgpt.memory.block_edits`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from memgpt.errors import MemoryEditError
from memgpt.memory.types import new_id
from memgpt.validation import check_text

DEFAULT_BLOCK_LIMIT = 5000
LABEL_CHARS = 100


@dataclass(slots=True)
class Block:
    """One core-memory block such as ``persona`` or ``human``."""

    label: str
    value: str = ""
    limit: int = DEFAULT_BLOCK_LIMIT
    read_only: bool = False
    description: str = ""
    id: str = field(default_factory=lambda: new_id("block"))
    version: int = 1  # the stored version this copy was read as (saves compare and set it)

    def check(self) -> None:
        """Raise MemoryEditError when the block is invalid as it stands."""
        if not self.label or len(self.label) > LABEL_CHARS or not self.label.replace("_", "").isalnum():
            raise MemoryEditError(f"Block label {self.label!r} must be 1 to {LABEL_CHARS} letters, digits or '_'.")
        if self.limit <= 0:
            raise MemoryEditError(f"Block {self.label!r}: limit must be positive, got {self.limit}.")
        if len(self.value) > self.limit:
            raise MemoryEditError(
                f"Block {self.label!r} holds {len(self.value)} characters, over its limit of {self.limit}."
            )


class CoreMemory:
    """The agent's editable core memory. Edits validate first, then apply, so a refusal changes nothing."""

    def __init__(self, blocks: list[Block] | None = None) -> None:
        self._blocks: dict[str, Block] = {}
        for block in blocks or []:
            block.check()
            self._blocks[block.label] = block

    @property
    def blocks(self) -> list[Block]:
        return list(self._blocks.values())

    def labels(self) -> list[str]:
        return list(self._blocks)

    def get(self, label: str) -> Block:
        try:
            return self._blocks[label]
        except KeyError:
            known = ", ".join(self._blocks) or "none"
            raise MemoryEditError(f"No core memory block named {label!r}. Known blocks: {known}.") from None

    def add(self, block: Block) -> None:
        block.check()
        self._blocks[block.label] = block

    def copy(self) -> CoreMemory:
        """An independent copy (edits to it leave this one as it is)."""
        copied = CoreMemory.__new__(CoreMemory)
        copied._blocks = {label: replace(block) for label, block in self._blocks.items()}
        return copied

    def put(self, block: Block) -> None:
        """Put a stored version of one of the blocks in place (same id), keeping the order; a new one goes last."""
        block.check()
        blocks = [block if b.id == block.id else b for b in self._blocks.values()]
        if all(b.id != block.id for b in self._blocks.values()):
            blocks.append(block)
        self._blocks = {b.label: b for b in blocks}

    def load(self, blocks: list[Block]) -> None:
        """Replace every block with ``blocks`` (as stored now)."""
        for block in blocks:
            block.check()
        self._blocks = {b.label: b for b in blocks}

    def versions(self) -> list[tuple[str, int]]:
        """(id, version) of every block in order: what changes when any block is edited, added or removed."""
        return [(b.id, b.version) for b in self._blocks.values()]

    def append(self, label: str, content: str) -> Block:
        """Append ``content`` on a new line of block ``label``."""
        block = self._writable(label)
        check_text(content, "content")
        if not content:
            raise MemoryEditError("Nothing to append: content is empty.")
        new_value = f"{block.value}\n{content}" if block.value else content
        self._check_limit(block, new_value)
        block.value = new_value
        return block

    def replace(self, label: str, old_content: str, new_content: str) -> Block:
        """Replace every occurrence of ``old_content`` with ``new_content`` (empty new text deletes it)."""
        block = self._writable(label)
        check_text(old_content, "old_content")
        check_text(new_content, "new_content")
        if not old_content:
            raise MemoryEditError("old_content is empty: give the exact text to replace.")
        if old_content not in block.value:
            raise MemoryEditError(f"old_content not found in block {label!r}; it must match the block's text exactly.")
        new_value = block.value.replace(old_content, new_content)
        self._check_limit(block, new_value)
        block.value = new_value
        return block

    def update(
        self,
        label: str,
        *,
        value: str | None = None,
        limit: int | None = None,
        description: str | None = None,
        read_only: bool | None = None,
        new_label: str | None = None,
    ) -> Block:
        """A user's edit of a block (read-only ones too): only what is given changes, and the value must fit
        the limit it will have. ``new_label`` renames it (in place: it keeps its position)."""
        block = self.get(label)
        if new_label is not None and new_label != label:
            if new_label in self._blocks:
                raise MemoryEditError(f"There is already a block labelled {new_label!r}.")
            replace(block, label=new_label).check()
        new_value = block.value if value is None else check_text(value, f"The new value of block {label!r}")
        new_limit = block.limit if limit is None else limit
        if new_limit <= 0:
            raise MemoryEditError(f"Block {label!r}: limit must be positive, got {new_limit}.")
        if len(new_value) > new_limit:
            raise MemoryEditError(
                f"Block {label!r} would hold {len(new_value)} characters, over its limit of {new_limit}; "
                "shorten the value or raise the limit."
            )
        block.value, block.limit = new_value, new_limit
        if description is not None:
            block.description = description
        if read_only is not None:
            block.read_only = read_only
        if new_label is not None and new_label != label:
            block.label = new_label
            self._blocks = {b.label: b for b in self._blocks.values()}
        return block

    def _writable(self, label: str) -> Block:
        block = self.get(label)
        if block.read_only:
            raise MemoryEditError(f"Block {label!r} is read-only.")
        return block

    @staticmethod
    def _check_limit(block: Block, new_value: str) -> None:
        if len(new_value) > block.limit:
            raise MemoryEditError(
                f"Edit refused: block {block.label!r} would hold {len(new_value)} characters, "
                f"over its limit of {block.limit}. Shorten or move details to archival memory."
            )
