from __future__ import annotations

from memgpt.tools.executor import ToolExecutor
from memgpt.tools.schema import parse_docstring


def test_base_schemas_have_descriptions_types_and_heartbeat() -> None:
    schemas = {t["function"]["name"]: t["function"] for t in ToolExecutor().tool_schemas()}
    assert set(schemas) == {
        "send_message",
        "core_memory_append",
        "core_memory_replace",
        "conversation_search",
        "conversation_search_date",
        "archival_memory_insert",
        "archival_memory_search",
        "archival_memory_read",
        "pause_heartbeats",
    }
    replace = schemas["core_memory_replace"]["parameters"]
    assert replace["required"] == ["label", "old_content", "new_content", "request_heartbeat"]
    assert replace["properties"]["old_content"]["type"] == "string"
    assert replace["properties"]["old_content"]["description"].startswith("The exact text")
    search = schemas["conversation_search"]["parameters"]
    assert search["properties"]["page"]["type"] == "integer"
    assert "page" not in search["required"]
    for name in ("send_message", "pause_heartbeats"):
        assert "request_heartbeat" not in schemas[name]["parameters"]["properties"]
    assert all(s["description"] for s in schemas.values())


def test_docstring_parsing_handles_continuation_lines() -> None:
    summary, params = parse_docstring(
        """Do a thing.

        More about it.

        Args:
            first (str): The first
                argument, continued.
            second: Another one.

        Returns:
            Nothing.
        """
    )
    assert summary == "Do a thing. More about it."
    assert params == {"first": "The first argument, continued.", "second": "Another one."}
