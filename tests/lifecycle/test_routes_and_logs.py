"""A full session at DEBUG (the command line, then the server with a key) through the forget, history and
revert routes: the logs show memgpt's debug lines and never a key, a message's or a memory's text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from memgpt.logs import mask
from memgpt.testing import FakeLLMServer
from tests.server.harness import ServerProcess, call, say

LLM_KEY = "sk-live-LLMKEY0123456789abcdef"
TOOL_SECRET = "shop-token-QX81Z7"
TOOL = '''import os


def check_shop(item: str) -> str:
    """Check the shop.

    Args:
        item: What to look for.
    """
    raise RuntimeError("the shop refused token " + os.environ["SHOP_TOKEN"])
'''
TOLD = "My passport number is ORCHID-5521-VELVET."
REMEMBERED = "Passport: ORCHID-5521-VELVET"
ARCHIVED = "The user's passport is ORCHID-5521-VELVET."


def script() -> dict[str, object]:
    return {
        "replies": [
            call("core_memory_append", label="human", content=REMEMBERED),
            call("archival_memory_insert", content=ARCHIVED),
            say("Noted."),
            call("check_shop", item="tea"),
            say("Checked."),
            call("core_memory_append", label="human", content=REMEMBERED + " (server)"),
            call("archival_memory_insert", content=ARCHIVED + " (server)"),
            say("Noted again."),
        ],
        "default": say("Ok."),
        "no_tools_reply": {"content": "The user talked about travel."},
    }


def scan(text: str, *secrets: str) -> None:
    for secret in (LLM_KEY, TOOL_SECRET, "ORCHID", "5521", "VELVET", *secrets):
        assert secret not in text, f"{secret!r} is in the logs"


def test_a_debug_session_logs_no_secret_and_the_lifecycle_routes_work(tmp_path: Path) -> None:
    with FakeLLMServer(script(), log_path=tmp_path / "llm.jsonl") as llm:
        server = ServerProcess(tmp_path / "home", llm, MEMGPT_LOG_LEVEL="DEBUG", MEMGPT_LLM_API_KEY=LLM_KEY)
        env = server.env

        def memgpt(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                [sys.executable, "-m", "memgpt.cli.main", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                input=stdin,
            )
            assert done.returncode == 0, done.stderr
            return done

        logs = memgpt("agents", "create", "sam").stderr
        chat = memgpt("chat", "--agent", "sam", "--message", TOLD)
        assert "Noted." in chat.stdout
        (tmp_path / "shop.py").write_text(TOOL)
        logs += memgpt("tools", "add", str(tmp_path / "shop.py")).stderr
        logs += memgpt("agents", "tools", "attach", "sam", "check_shop").stderr
        logs += memgpt("agents", "secrets", "set", "sam", "SHOP_TOKEN", stdin=TOOL_SECRET).stderr
        shop = memgpt("chat", "--agent", "sam", "--message", "Is tea in the shop?", "--json")
        assert '"status": "Failed"' in shop.stdout and "the shop refused token" in shop.stdout  # the tool ran
        logs += shop.stderr
        logs += chat.stderr + memgpt("memory", "history", "--agent", "sam").stderr
        assert "DEBUG memgpt.agent.agent: agent agent-" in logs  # DEBUG was on
        scan(logs)
        assert memgpt("users", "create", "ada").returncode == 0
        secret = memgpt("keys", "create", "--user", "ada").stdout.strip()
        server.start()
        try:
            api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60)
            agent = api.post("/v1/agents/", json={"name": "bo", "model": "openai-compatible/fake"}).json()
            sent = api.post(
                f"/v1/agents/{agent['id']}/messages", json={"messages": [{"role": "user", "content": TOLD}]}
            )
            assert sent.status_code == 200, sent.text
            history = api.get(f"/v1/agents/{agent['id']}/core-memory/history", params={"label": "human"}).json()
            assert [(c["cause"], c["version"]) for c in history] == [("agent", 2)]
            assert history[0]["tool_call_id"] and history[0]["message_id"]
            patched = api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/human", json={"value": "Name: Bo"})
            assert patched.status_code == 200
            reverted = api.post(f"/v1/agents/{agent['id']}/core-memory/blocks/human/revert", json={"version": 1})
            assert reverted.status_code == 200 and reverted.json()["value"] == history[0]["old_value"]
            causes = [c["description"] for c in api.get(f"/v1/agents/{agent['id']}/core-memory/history").json()]
            assert causes[1:] == ["user via api", "revert to version 1 via api"]
            ui = {"X-Memgpt-Channel": "ui"}  # what the web UI sends
            api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/human", json={"value": "Bo (ui)"}, headers=ui)
            assert api.get(f"/v1/agents/{agent['id']}/core-memory/history").json()[-1]["description"] == "user via ui"

            preview = api.post(f"/v1/agents/{agent['id']}/forget", json={"query": "orchid-5521"}).json()
            assert not preview["applied"] and preview["passages"] == 1 and preview["messages"] == 5
            messages = api.get(f"/v1/agents/{agent['id']}/messages").json()
            user_message = next(m for m in messages if m.get("message_type") == "user_message")
            forgot = api.delete(f"/v1/agents/{agent['id']}/messages/{user_message['id']}")
            assert forgot.status_code == 200 and forgot.json()["messages"] == 1
            assert api.delete(f"/v1/agents/{agent['id']}/messages/{user_message['id']}").status_code == 404
            left = api.get(f"/v1/agents/{agent['id']}/messages").json()
            assert user_message["id"] not in {m["id"] for m in left}
            [passage] = api.get(f"/v1/agents/{agent['id']}/archival-memory").json()
            assert api.delete(f"/v1/agents/{agent['id']}/archival-memory/{passage['id']}").status_code == 200
            assert api.get(f"/v1/agents/{agent['id']}/archival-memory").json() == []
            bad = api.post(f"/v1/agents/{agent['id']}/forget", json={})
            assert bad.status_code == 400 and "Say what to forget" in bad.json()["detail"]
            api.close()
        finally:
            logs = server.stop()
        assert "DEBUG" in logs
        scan(logs, secret)


def test_mask_hides_keys_tokens_and_url_passwords() -> None:
    text = "key mgpt_AbCdEfGhIjKlMnOp, sk-ant-0123456789abcdefXYZ, Bearer abc.def.ghi123, postgresql://u:hunter22@h/db"
    masked = mask(text, [])
    for secret in ("mgpt_AbCdEf", "sk-ant-0123", "abc.def.ghi123", "hunter22"):
        assert secret not in masked
    assert mask("api_key=supersecret1 and more", []) == "api_key=[secret] and more"


def test_a_secret_in_a_log_line_or_traceback_is_masked(tmp_path: Path) -> None:
    program = (
        "import logging\n"
        "from memgpt.logs import configure_logging\n"
        "configure_logging()\n"
        "log = logging.getLogger('memgpt.test')\n"
        f"log.debug('calling with %s', {LLM_KEY!r})\n"
        "try:\n"
        f"    raise RuntimeError('bad key ' + {LLM_KEY!r})\n"
        "except RuntimeError:\n"
        "    log.exception('failed')\n"
        "logging.getLogger('httpcore2.http11').debug('headers ORCHID')\n"
        "from memgpt.logs import remember_secrets\n"
        f"remember_secrets([{TOOL_SECRET!r}])\n"
        f"log.warning('tool said %s', {TOOL_SECRET!r})\n"
    )
    env = {"MEMGPT_LOG_LEVEL": "DEBUG", "MEMGPT_LLM_API_KEY": LLM_KEY, "PATH": "/usr/bin:/bin"}
    import os

    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60)
    assert "calling with [secret]" in done.stderr and "RuntimeError: bad key [secret]" in done.stderr
    assert "tool said [secret]" in done.stderr
    scan(done.stderr)
