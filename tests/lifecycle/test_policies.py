"""Retention and redaction policies on both engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memgpt.client import Client
from memgpt.errors import ValidationError
from memgpt.llm.openai_compat import OpenAICompatibleClient
from memgpt.memory.redaction import iban_ok, luhn_ok, redact
from memgpt.memory.types import Message, Passage
from memgpt.testing import FakeLLMServer
from tests.agent.test_agent import call, say
from tests.cli.test_cli import env, memgpt  # noqa: F401 - the env fixture

NOW = datetime.now(UTC)


async def test_retention_deletes_exactly_what_the_policy_says(store_url: str) -> None:
    client = await Client.open(store_url, embedder=None)
    try:
        state = await client.create_agent("sam", model="openai/gpt-4o-mini")
        ages = {"forty": 40, "twenty": 20, "eleven": 11, "nine": 9, "today": 0}
        await client.import_messages(
            "sam",
            [Message(role="user", content=f"{k} days", created_at=NOW - timedelta(days=d)) for k, d in ages.items()],
        )
        old_in_context = Message(role="user", content="old but in context", created_at=NOW - timedelta(days=50))
        await client.import_messages("sam", [old_in_context])
        stored = await client.get_agent("sam")
        stored.fifo_ids = [old_in_context.id]
        await client.store.save_agent(stored)
        passages = await client.insert_passages(
            "sam", [Passage(text=f"passage {i}", created_at=NOW - timedelta(days=9 - i)) for i in range(5)]
        )
        assert await client.apply_retention("sam") == []  # no policy: everything is kept
        assert await client.store.count_messages(state.id) == 6

        await client.set_policy("sam", recall_retention_days=10, archival_max_passages=2)
        [result] = await client.maintenance()
        assert (result.agent, result.messages, result.passages) == ("sam", 3, 3)
        left = [m.content for m in await client.list_messages("sam")]
        assert left == ["nine days", "today days", "old but in context"]
        assert [p.id for p in await client.passage_window("sam")] == passages[3:]
        assert (await client.get_agent("sam")).summary == "(Retention: 3 messages older than 10 days were deleted.)"
        [again] = await client.maintenance()
        assert (again.messages, again.passages) == (0, 0)
        await client.import_messages(
            "sam", [Message(role="user", content="another", created_at=NOW - timedelta(days=30))]
        )
        [more] = await client.apply_retention()
        assert more.messages == 1
        assert (await client.get_agent("sam")).summary == "(Retention: 4 messages older than 10 days were deleted.)"
        await client.set_policy("sam", recall_retention_days=0, archival_max_passages=0)  # back to keeping all
        assert await client.maintenance() == []
        with pytest.raises(ValidationError):
            await client.set_policy("sam", recall_retention_days=-1)
    finally:
        await client.close()


CARD, NOT_A_CARD = "4111 1111 1111 1111", "4111 1111 1111 1112"
KEY = "sk-proj-AbCdEfGhIjKlMnOpQrSt1234"
IBAN = "GB82 WEST 1234 5698 7654 32"
EMAIL, PHONE, EMPLOYEE = "ada@example.com", "+44 20 7946 0958", "EMP-48213"
TOLD = f"My card is {CARD}, key {KEY}, mail {EMAIL}, phone {PHONE}, IBAN {IBAN}, badge {EMPLOYEE}, ref {NOT_A_CARD}."
ORIGINALS = (CARD, KEY, IBAN, EMAIL, PHONE, EMPLOYEE, "4111111111111111", "GB82WEST")


async def test_redaction_keeps_cards_and_keys_out_of_the_llm_and_the_database(store_url: str, tmp_path: Path) -> None:
    script = {
        "replies": [  # a model that repeats secrets it should not know: its writes are masked too
            call("core_memory_append", {"label": "human", "content": f"Card {CARD}", "request_heartbeat": True}),
            call("archival_memory_insert", {"content": f"Key {KEY} and IBAN {IBAN}", "request_heartbeat": True}),
            say("Noted."),
        ],
        "default": say("Ok."),
    }
    log = tmp_path / "llm.jsonl"
    with FakeLLMServer(script, log_path=log) as server:
        llm = OpenAICompatibleClient("fake", base_url=server.base_url, max_retries=0)
        client = await Client.open(store_url, embedder=None, llm=llm)
        try:
            await client.create_agent("plain", model="openai-compatible/fake")
            await client.create_agent("sam", model="openai-compatible/fake")
            await client.set_policy("sam", redact=True, redact_patterns={"employee": r"EMP-\d{5}"})
            events = await client.send_message("sam", TOLD)
            assert events[0].data["redactions"] == {
                "card": 1,
                "key": 1,
                "email": 1,
                "phone": 1,
                "iban": 1,
                "employee": 1,
            }
            assert NOT_A_CARD in events[0].content  # fails the Luhn check: not a card
            await client.insert_passages("sam", [f"typed: {EMAIL}"])
            await client.update_block("sam", "persona", f"Call {PHONE}")
            await client.import_messages("sam", [Message(role="user", content=f"old mail {EMAIL}")], embed=False)
            stored = [m for m in await client.list_messages("sam")]
            assert stored[0].metadata["redactions"]["card"] == 1
            texts = json.dumps([(m.content, m.tool_calls and m.tool_calls[0].arguments) for m in stored])
            texts += json.dumps([p.text for p in await client.passage_window("sam")])
            texts += json.dumps([b.value for b in await client.get_memory("sam")])
            texts += json.dumps([c.to_dict() for c in await client.block_history("sam")])
            for original in ORIGINALS:
                assert original not in texts
            assert "[redacted:card]" in (await client.get_block("sam", "human")).value
            # off by default: another agent keeps what it is told
            await client.send_message("plain", "card 5555 5555 5555 4444")
            assert "5555 5555 5555 4444" in (await client.list_messages("plain"))[0].content
        finally:
            await client.close()
            await llm.close()
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    to_sam = [r for r in requests if "5555 5555" not in json.dumps(r)]  # all but the plain agent's
    assert len(to_sam) == 3  # the three steps of sam's input
    for request in to_sam:
        for original in ORIGINALS:
            assert original not in json.dumps(request)
    if store_url.startswith("sqlite"):
        path = Path(store_url.removeprefix("sqlite:///"))
        data = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        for original in ORIGINALS:
            assert original.encode() not in data
        assert b"5555 5555 5555 4444" in data  # the agent without the policy stored it


def test_checksums_and_patterns() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB83 WEST 1234 5698 7654 32")
    assert redact("on 2026-01-31 at 10:00, order 12345").total == 0
    assert redact("DE89 3704 0044 0532 0130 00").counts == {"iban": 1}
    assert redact("ghp_" + "a" * 36).counts == {"key": 1}
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        from memgpt.memory.redaction import check_patterns

        check_patterns({"bad": "("})


def test_policy_and_maintenance_from_the_command_line(env: dict[str, str]) -> None:  # noqa: F811
    memgpt("agents", "create", "sam", "--model", "openai/gpt-4o-mini", env=env)
    shown = memgpt("agents", "policy", "sam", env=env).stdout
    assert "recall: kept; archival: no cap" in shown and "redaction: off" in shown
    shown = memgpt("agents", "policy", "sam", "--keep-recall-days", "30", "--redact", env=env).stdout
    assert "recall: 30 days" in shown and "redaction: on" in shown
    done = json.loads(memgpt("maintenance", "--json", env=env).stdout)
    assert done == [
        {
            "agent_id": done[0]["agent_id"],
            "agent": "sam",
            "user_id": "user-local",
            "messages_deleted": 0,
            "passages_deleted": 0,
        }
    ]


async def test_the_servers_schedule_applies_retention_and_logs_counts_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import logging

    from memgpt.errors import ConfigError
    from memgpt.server import maintenance

    monkeypatch.setenv("MEMGPT_MAINTENANCE_INTERVAL", "0.05")
    assert maintenance.interval() == 0.05
    client = await Client.open(f"sqlite:///{tmp_path / 'a.db'}", embedder=None)
    try:
        await client.create_agent("sam", model="openai/gpt-4o-mini")
        await client.import_messages(
            "sam", [Message(role="user", content="private words", created_at=NOW - timedelta(days=9))]
        )
        await client.set_policy("sam", recall_retention_days=1)
        caplog.set_level(logging.INFO, logger="memgpt.server.maintenance")
        task = asyncio.create_task(maintenance.run_periodically(client, maintenance.interval()))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if not await client.list_messages("sam"):
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await client.list_messages("sam") == []
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "1 message(s), 0 passage(s) deleted" in logged and "private" not in logged
    finally:
        await client.close()
    monkeypatch.setenv("MEMGPT_MAINTENANCE_INTERVAL", "soon")
    with pytest.raises(ConfigError, match="must be seconds"):
        maintenance.interval()
