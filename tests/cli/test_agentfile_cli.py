"""``memgpt agents import/export`` and ``memgpt blocks`` as a user runs them: real processes, a real SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from memgpt.testing import FakeLLMServer
from tests.agentfile.test_shared_files import FILES, NAMES
from tests.cli.test_cli import env, memgpt  # noqa: F401 - the env fixture

pytestmark = pytest.mark.skipif(not NAMES, reason=f"the shared agent files are not in {FILES}")


@pytest.fixture
def llm(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:  # noqa: F811
    append = {
        "name": "core_memory_append",
        "arguments": {"label": "team", "content": "Ada joined.", "request_heartbeat": False},
    }
    script = {
        "replies": [{"tool_calls": [append]}],
        "default": {"tool_calls": [{"name": "send_message", "arguments": {"message": "Hi."}}]},
    }
    log = tmp_path / "requests.jsonl"
    with FakeLLMServer(script, log_path=log) as server:
        yield {**env, "MEMGPT_MODEL": "openai-compatible/fake", "MEMGPT_LLM_BASE_URL": server.base_url}, log


def test_import_then_export_then_import_again(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    shown = memgpt("agents", "import", str(FILES / "memgpt_agent_with_convo.v1.af"), "--name", "sam", env=env)
    assert "Imported 1 agent(s)" in shown.stdout and "sam" in shown.stdout
    assert "Not mapped:" in shown.stdout and "temperature 0.7" in shown.stdout
    words = " ".join(shown.stdout.split())  # the console wraps long lines
    assert "tool rules: continue_loop conversation_search, continue_loop archival_memory_search" in words
    report = json.loads(memgpt("agents", "import", str(FILES / "evie.af"), "--json", env=env).stdout)
    assert [a["name"] for a in report["agents"]] == ["Evie", "companion-sleeptime_copy"]
    assert len(report["agent_ids"]) == 2 and len(report["agents"][1]["shared_blocks"]) == 12
    assert any("custom" not in i["what"] and i["path"] == "groups[0]" for i in report["not_mapped"])

    out = tmp_path / "sam.af"
    wrote = memgpt("agents", "export", "sam", "-o", str(out), env=env)
    assert f"to {out}" in wrote.stdout
    again = json.loads(memgpt("agents", "import", str(out), "--name", "sam2", "--json", env=env).stdout)
    assert again["agents"][0]["messages"] == 85 and again["agents"][0]["in_context"] == 9
    assert again["not_mapped"] == []
    original = json.loads(memgpt("agents", "show", "sam", "--json", env=env).stdout)
    copy = json.loads(memgpt("agents", "show", "sam2", "--json", env=env).stdout)
    for key in ("memory", "model", "context_window", "recall_messages", "in_context_messages", "summary"):
        assert copy[key] == original[key], key
    stdout = json.loads(memgpt("agents", "export", "Evie", "companion-sleeptime_copy", env=env).stdout)
    assert len(stdout["agents"]) == 2 and len(stdout["blocks"]) == 13  # the 12 shared ones once


def test_import_mistakes_are_one_line_and_leave_nothing(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    memgpt("agents", "import", str(FILES / "memgpt_agent.af"), env=env)
    clash = memgpt("agents", "import", str(FILES / "memgpt_agent_with_convo.af"), env=env, check=False)
    assert clash.returncode == 1 and clash.stderr.count("\n") == 1 and "--name NEW" in clash.stderr
    broken = tmp_path / "broken.af"
    broken.write_bytes((FILES / "deep_research_agent.af").read_bytes()[:5000])
    result = memgpt("agents", "import", str(broken), "--json", env=env, check=False)
    assert result.returncode == 1 and "looks truncated" in json.loads(result.stdout)["content"]
    missing = memgpt("agents", "import", str(tmp_path / "nope.af"), env=env, check=False)
    assert missing.returncode == 1 and "No such file" in missing.stderr
    bad_name = memgpt("agents", "import", str(FILES / "memgpt_agent.af"), "--name", "no spaces", env=env, check=False)
    assert bad_name.returncode == 1 and "must be 1-100 letters" in bad_name.stderr
    names = [a["name"] for a in json.loads(memgpt("agents", "list", "--json", env=env).stdout)]
    assert names == ["memgpt_agent"]
    assert memgpt("agents", "export", "nobody", env=env, check=False).returncode == 1


def test_blocks_shared_from_the_command_line(llm: tuple[dict[str, str], Path]) -> None:
    env_, log = llm
    for name in ("sam", "bo"):
        memgpt("agents", "create", name, "--context-window", "8000", env=env_)
    made = json.loads(
        memgpt("blocks", "create", "team", "--value", "The team.", "--agent", "sam", "--json", env=env_).stdout
    )
    assert made["agents"] == ["sam"] and made["standalone"]
    memgpt("blocks", "attach", "team", "--agent", "bo", env=env_)
    memgpt("chat", "--agent", "sam", "-m", "Ada joined the team.", env=env_)  # sam appends to the block
    memgpt("chat", "--agent", "bo", "-m", "Who is on the team?", env=env_)
    last = json.loads(log.read_text().splitlines()[-1])["body"]
    assert "The team.\nAda joined." in last["messages"][0]["content"]  # bo's request carries sam's edit
    listed = json.loads(memgpt("blocks", "list", "--label", "team", "--json", env=env_).stdout)
    assert [(b["label"], b["agents"], b["version"]) for b in listed] == [("team", ["sam", "bo"], 2)]
    shown = memgpt("blocks", "show", "bo/team", env=env_)
    assert "Ada joined." in shown.stdout and "sam, bo" in shown.stdout
    ambiguous = memgpt("blocks", "show", "human", env=env_, check=False)
    assert ambiguous.returncode == 1 and "name one as AGENT/human" in ambiguous.stderr
    refused = memgpt("blocks", "delete", "team", env=env_, check=False)
    assert refused.returncode == 1 and "detach it first" in refused.stderr
    memgpt("blocks", "detach", "team", "--agent", "sam", "--agent", "bo", env=env_)
    memgpt("blocks", "delete", "team", env=env_)
    assert "team" not in memgpt("blocks", "list", env=env_).stdout


def test_with_tools_imports_the_files_code_and_without_it_the_output_names_the_flag(
    env: dict[str, str],  # noqa: F811
) -> None:
    plain = memgpt("agents", "import", str(FILES / "customer_service.af"), "--name", "shop", env=env)
    words = " ".join(plain.stdout.split())
    assert "custom tool check_order_status" in words and "--with-tools" in words
    assert json.loads(memgpt("tools", "list", "--json", env=env).stdout) == []  # no code taken in
    report = json.loads(
        memgpt(
            "agents", "import", str(FILES / "customer_service.af"), "--name", "shop2", "--with-tools", "--json", env=env
        ).stdout
    )
    assert report["agents"][0]["tools"] == ["terminate_chat", "escalate", "cancel_order", "check_order_status"]
    assert not [i for i in report["not_mapped"] if i["what"].startswith("custom tool")]
    attached = json.loads(memgpt("agents", "tools", "list", "shop2", "--json", env=env).stdout)
    assert [t["name"] for t in attached] == report["agents"][0]["tools"]
    assert json.loads(memgpt("agents", "tools", "list", "shop", "--json", env=env).stdout) == []
    assert "--with-tools" in memgpt("agents", "import", "--help", env=env).stdout
