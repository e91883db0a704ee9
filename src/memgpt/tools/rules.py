"""Tool rules, by Letta's names, stored with the agent and enforced over each input (its chain of steps).

- ``run_first``: the chain's first function call must be this tool (one of them, if several rules).
- ``exit_loop``: a successful call of this tool ends the chain (no further step, whatever was requested).
- ``continue_loop``: calling this tool always gives another step (a heartbeat).
- ``max_count_per_step``: this tool runs at most ``max_count_limit`` times per input.
- ``required_before_exit``: the chain does not end until this tool was called successfully.

A call that breaks a rule is not run: it comes back to the model as a ``Failed`` result that names the
rule (and the model gets another step to fix it). A chain that would end while a ``required_before_exit``
tool has not run gets a system alert naming the rule and another step instead; the agent's step limit
still bounds it. Rules naming a function the agent does not have (a tool detached since) are ignored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from memgpt.errors import ValidationError

RuleType = Literal["run_first", "exit_loop", "continue_loop", "max_count_per_step", "required_before_exit"]
RULE_TYPES: tuple[str, ...] = get_args(RuleType)
MAX_RULES = 100


@dataclass(frozen=True, slots=True)
class ToolRule:
    """One rule; ``max_count_limit`` only for ``max_count_per_step``."""

    type: RuleType
    tool_name: str
    max_count_limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "tool_name": self.tool_name}
        if self.max_count_limit is not None:
            data["max_count_limit"] = self.max_count_limit
        return data

    @classmethod
    def from_dict(cls, data: object) -> ToolRule:
        """A rule from its JSON form (Letta's: ``{"type", "tool_name", "max_count_limit"}``); ValidationError."""
        if isinstance(data, ToolRule):
            return data
        if not isinstance(data, Mapping):
            raise ValidationError(f"A tool rule must be an object with type and tool_name, got {type(data).__name__}.")
        kind, name, limit = data.get("type"), data.get("tool_name"), data.get("max_count_limit")
        if kind not in RULE_TYPES:
            raise ValidationError(f"Unknown tool rule type {kind!r}: use one of {', '.join(RULE_TYPES)}.")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationError(f"A {kind} rule needs the tool_name of a function, got {name!r}.")
        if kind == "max_count_per_step":
            if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
                raise ValidationError(f"max_count_per_step needs max_count_limit from 1 to 1000, got {limit!r}.")
        elif limit is not None:
            raise ValidationError(f"Only max_count_per_step rules take max_count_limit (a {kind} rule got one).")
        return cls(kind, name.strip(), limit)


def parse_rules(rules: object) -> list[ToolRule]:
    """Rules from their JSON form, each checked; duplicates and contradictions refused."""
    if isinstance(rules, str | bytes) or not isinstance(rules, Sequence):
        raise ValidationError(f"Tool rules must be a list, got {type(rules).__name__}.")
    if len(rules) > MAX_RULES:
        raise ValidationError(f"An agent can have at most {MAX_RULES} tool rules, got {len(rules)}.")
    parsed = [ToolRule.from_dict(r) for r in rules]
    seen: dict[tuple[str, str], ToolRule] = {}
    for rule in parsed:
        key = (rule.type, rule.tool_name)
        if key in seen:
            raise ValidationError(f"The tool rule {rule.type} for {rule.tool_name} is given twice.")
        seen[key] = rule
    for name in {r.tool_name for r in parsed}:
        if ("exit_loop", name) in seen and ("continue_loop", name) in seen:
            raise ValidationError(f"{name} cannot both end the chain (exit_loop) and continue it (continue_loop).")
    return parsed


def check_rule_tools(rules: Sequence[ToolRule], functions: Collection[str]) -> None:
    """ValidationError for a rule naming a function the agent does not have."""
    for rule in rules:
        if rule.tool_name not in functions:
            raise ValidationError(
                f"The {rule.type} rule names {rule.tool_name!r}, which is not one of the agent's functions "
                f"({', '.join(sorted(functions))}). Attach the tool first."
            )


class ChainRules:
    """The rules as they apply to one input: what ran so far, and what may run or end the chain next."""

    def __init__(self, rules: Sequence[ToolRule], functions: Collection[str]) -> None:
        active = [r for r in rules if r.tool_name in functions]
        self._first = [r.tool_name for r in active if r.type == "run_first"]
        self._exit = {r.tool_name for r in active if r.type == "exit_loop"}
        self._continue = {r.tool_name for r in active if r.type == "continue_loop"}
        self._limits = {r.tool_name: r.max_count_limit or 0 for r in active if r.type == "max_count_per_step"}
        self._required = [r.tool_name for r in active if r.type == "required_before_exit"]
        self._ran: Counter[str] = Counter()
        self._succeeded: set[str] = set()

    def refusal(self, name: str) -> str | None:
        """Why a call of ``name`` may not run now (naming the rule), or None."""
        if self._first and not self._ran and name not in self._first:
            wanted = " or ".join(self._first)
            return f"Tool rule run_first: call {wanted} before any other function; {name} was not run."
        limit = self._limits.get(name)
        if limit is not None and self._ran[name] >= limit:
            return (
                f"Tool rule max_count_per_step: {name} may run at most {limit} time(s) per input and already did; "
                "it was not run. Answer with what you have."
            )
        return None

    def ran(self, name: str, *, ok: bool) -> None:
        self._ran[name] += 1
        if ok:
            self._succeeded.add(name)

    def next_step(self, names: Sequence[str], oks: Sequence[bool], wanted: bool) -> tuple[bool, str | None]:
        """Whether the chain goes on after a step whose calls were ``names`` (with their outcomes), given
        what the step itself asked for (``wanted``); and a system alert to give the model, if a rule says so."""
        exits = any(ok and name in self._exit for name, ok in zip(names, oks, strict=True))
        go_on = not exits and (wanted or any(name in self._continue for name in names))
        if go_on:
            return True, None
        missing = [name for name in self._required if name not in self._succeeded]
        if missing:
            return True, (
                f"Tool rule required_before_exit: call {', '.join(missing)} before you finish; your turn goes on."
            )
        return False, None
