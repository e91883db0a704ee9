"""Schemas of custom tools from their signatures (lists, optional values, Literal, enums, nested objects),
and their arguments converted to those types in the sandbox."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import AsyncIterator
from typing import Literal

import pytest

from memgpt.errors import ValidationError
from memgpt.memory.agent_state import LOCAL_USER_ID
from memgpt.memory.tools import ToolSettings
from memgpt.tools import registry
from memgpt.tools.context import ToolError
from memgpt.tools.executor import check_against_schema
from memgpt.tools.sandbox import Sandbox
from memgpt.tools.schema import function_needs_coercion, function_schema
from tests.tools.tool_sources import LOOKUP, RICH


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


def sample(
    tags: list[str],
    colour: Colour,
    where: Point,
    mode: Literal["a", "b"] = "a",
    limit: int | None = None,
    weights: dict[str, float] | None = None,
) -> str:
    """Do a sample thing.

    Args:
        tags: Labels.
        colour: A colour.
        where: A point.
    """
    return ""


def test_rich_types_become_json_schema_without_titles_or_refs() -> None:
    schema = function_schema(sample, skip=0, heartbeat=False)
    props = schema["parameters"]["properties"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "description": "Labels."}
    assert props["colour"] == {"enum": ["red", "blue"], "type": "string", "description": "A colour."}
    assert props["where"]["type"] == "object" and props["where"]["required"] == ["x"]
    assert props["where"]["properties"] == {"x": {"type": "integer"}, "y": {"default": 0, "type": "integer"}}
    assert props["mode"] == {"enum": ["a", "b"], "type": "string"}
    assert props["limit"] == {"type": ["integer", "null"]}
    assert props["weights"]["anyOf"][0] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert schema["parameters"]["required"] == ["tags", "colour", "where"]
    assert "title" not in json.dumps(schema) and "$ref" not in json.dumps(schema)
    assert function_needs_coercion(sample)  # an enum member and a dataclass must be built from JSON


def test_plain_types_need_no_conversion_and_untyped_parameters_are_refused() -> None:
    def plain(a: str, b: list[int], c: Literal["x"] = "x", d: dict[str, str] | None = None) -> str:
        """Plain."""
        return ""

    assert not function_needs_coercion(plain)

    def untyped(a, b: int) -> str:  # type: ignore[no-untyped-def]
        """Untyped."""
        return ""

    with pytest.raises(TypeError, match="'a' of untyped has no type hint"):
        function_schema(untyped, skip=0)

    def star(*names: str) -> str:
        """Star."""
        return ""

    with pytest.raises(TypeError, match="named parameters only"):
        function_schema(star, skip=0)


def test_arguments_are_checked_against_the_schema_with_one_clear_message() -> None:
    parameters = function_schema(sample, skip=0, heartbeat=False)["parameters"]
    good = {"tags": ["a"], "colour": "red", "where": {"x": 1}}
    check_against_schema("sample", good, parameters)
    with pytest.raises(ToolError, match=r"sample: argument colour: 'green' is not one of \['red', 'blue'\]"):
        check_against_schema("sample", good | {"colour": "green"}, parameters)
    with pytest.raises(ToolError, match=r"argument where.x: 'one' is not of type 'integer'"):
        check_against_schema("sample", good | {"where": {"x": "one"}}, parameters)
    with pytest.raises(ToolError, match=r"the arguments: 'tags' is a required property"):
        check_against_schema("sample", {"colour": "red", "where": {"x": 1}}, parameters)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    made = Sandbox(warm=0)
    yield made
    await made.close()


async def test_the_sandbox_describes_a_source_and_converts_arguments_to_its_types(sandbox: Sandbox) -> None:
    settings = ToolSettings(timeout_s=20)
    schema, coerce = await registry.describe_source(sandbox, RICH, None, settings, LOCAL_USER_ID)
    assert schema["name"] == "ship" and coerce
    settings.coerce = coerce
    arguments = {"items": ["tea"], "size": "large", "address": {"street": "1 Main St", "city": "Oslo"}}
    check_against_schema("ship", arguments, schema["parameters"])
    outcome = await sandbox.call(RICH, "ship", arguments, settings=settings)
    assert outcome.ok, outcome.error
    assert json.loads(outcome.result or "") == {
        "size": "Size.LARGE",
        "address": "Address:Oslo",
        "items": ["tea"],
        "speed": "slow",
        "note": None,
        "quantities": None,
    }


async def test_the_last_public_function_is_the_tool_unless_one_is_named(sandbox: Sandbox) -> None:
    schema, _ = await registry.describe_source(sandbox, LOOKUP, None, ToolSettings(), LOCAL_USER_ID)
    assert schema["name"] == "lookup_order"  # _status, the helper before it, is not a tool
    with pytest.raises(ValidationError, match=r"no function 'missing' \(its functions: _status, lookup_order\)"):
        await registry.describe_source(sandbox, LOOKUP, "missing", ToolSettings(), LOCAL_USER_ID)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(x: int) -> str:\n    return ''\n", "f has no docstring"),
        ("def f(x) -> str:\n    '''Doc.'''\n", "'x' of f has no type hint"),
        ("def f(request_heartbeat: bool) -> str:\n    '''Doc.'''\n", "request_heartbeat is memgpt's own"),
        ("def send_message(m: str) -> str:\n    '''Doc.'''\n", "send_message is one of memgpt's own functions"),
        ("def f(:\n", "syntax error on line 1"),
        ("import no_such_module_here\ndef f() -> str:\n    '''Doc.'''\n", "ModuleNotFoundError"),
        ("x = 1\n", "the source defines no function"),
    ],
)
async def test_a_source_that_cannot_be_a_tool_is_refused_with_the_reason(
    sandbox: Sandbox, source: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await registry.describe_source(sandbox, source, None, ToolSettings(timeout_s=20), LOCAL_USER_ID)
    assert message in str(caught.value)
