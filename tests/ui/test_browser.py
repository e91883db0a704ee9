"""The web UI in headless Chromium against a real ``memgpt server`` process and the scripted LLM server.

Every page a test opens records each request the browser makes; none may leave the memgpt server. Set
``MEMGPT_SCREENSHOTS=docs`` to write the README's screenshots there (else they go to the test's tmp dir).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from memgpt.testing import FakeLLMServer
from tests.agentfile.test_shared_files import FILES
from tests.server.harness import ServerProcess, call, say

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the browser fixture skips, or fails with MEMGPT_REQUIRE_BROWSER=1, saying why
    Page = Any

STREAM_INTERVAL = 0.05  # seconds between the scripted LLM's streamed chunks: slow enough to watch it stream
LONG_REPLY = "Here is a longer answer, so that it arrives in many pieces while you watch it being written."
ONE_MB = 1_000_000  # characters: the largest message memgpt stores


def policy(body: dict[str, Any]) -> dict[str, Any]:
    """The scripted LLM: 'remember X' appends X to the human block, 'fail' is refused, the rest is echoed."""
    messages = body["messages"]
    if not body.get("tools"):
        return {"content": "Summary: the user talked about the sea."}
    last = messages[-1]
    if last["role"] == "tool":
        return say("Noted: I will remember that.") | {"interval": STREAM_INTERVAL}
    spoken = (last.get("content") or "").split("] ", 1)[-1]
    if spoken.startswith("remember "):
        reply = call("core_memory_append", label="human", content=spoken.removeprefix("remember "))
        return reply | {"content": "The user told me something to keep; I will save it to core memory."}
    if spoken == "fail":
        return {"error": {"status": 400, "code": "invalid_request", "message": "scripted refusal"}}
    if len(spoken) > 1000:
        return say(f"That was {len(spoken):,} characters long.")
    reply = say(f"You said: {spoken}. {LONG_REPLY}", thought=f"The user said {spoken!r}; I will answer.")
    return reply | {"interval": STREAM_INTERVAL}


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(policy) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLMServer, browser: Any) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("ui-home"), llm).start()
    try:
        yield process
    finally:
        log = process.stop()
        assert "Traceback" not in log, log[-3000:]


class Visit:
    """A page of a fresh browser profile that records every URL it requests."""

    def __init__(self, browser: Any, base: str, **options: Any) -> None:
        self.base = base
        self.context = browser.new_context(**({"viewport": {"width": 1280, "height": 800}} | options))
        self.page: Page = self.context.new_page()
        self.requested: list[str] = []
        self.problems: list[str] = []
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))

    def open(self, fragment: str = "") -> Page:
        self.page.goto(f"{self.base}/{fragment}")
        return self.page

    def external(self) -> list[str]:
        own = (f"{self.base}/", f"blob:{self.base}/", "data:")  # a blob: URL is the page's own (a download)
        return [url for url in self.requested if not url.startswith(own)]


@pytest.fixture
def visit(browser: Any, server: ServerProcess) -> Iterator[Any]:
    opened: list[Visit] = []

    def make(base: str = server.url, **options: Any) -> Visit:
        opened.append(Visit(browser, base, **options))
        return opened[-1]

    yield make
    for seen in opened:
        seen.context.close()
        assert seen.external() == [], seen.external()  # the page loads nothing from anywhere else
        assert seen.problems == [], seen.problems  # and no script failed


def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MEMGPT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000  # a picture, not an empty page
    return path


def api_agent(server: ServerProcess, name: str, **extra: Any) -> str:
    body = {"name": name, "memory_blocks": [{"label": "human", "value": "Name: Ada"}]} | extra
    made = httpx.post(f"{server.url}/v1/agents", json=body, timeout=30)
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


def api_send(server: ServerProcess, agent_id: str, text: str) -> None:
    sent = httpx.post(f"{server.url}/v1/agents/{agent_id}/messages", json={"input": text}, timeout=60)
    assert sent.status_code == 200, sent.text


def send(page: Page, text: str) -> None:
    """Type a message and press Enter, once the step before (if any) has ended."""
    expect(page.locator(".transcript")).to_have_attribute("aria-busy", "false")
    page.locator("#composer").fill(text)
    page.locator("#composer").press("Enter")


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


WATCH_REPLIES = """() => {
  window.seenReplies = [];
  new MutationObserver(() => {
    const replies = document.querySelectorAll('.msg.assistant .text');
    if (replies.length) window.seenReplies.push(replies[replies.length - 1].textContent);
  }).observe(document.querySelector('.transcript'), {subtree: true, childList: true, characterData: true});
}"""


def test_create_an_agent_chat_with_a_streamed_reply_and_watch_memory_change(
    visit: Any, server: ServerProcess, llm: FakeLLMServer, tmp_path: Path
) -> None:
    page = visit().open()
    page.get_by_role("button", name="New agent").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("sailor")
    dialog.get_by_label("Persona").fill("I am a patient sailing instructor.")
    dialog.get_by_label("Human").fill("Name: Ada. Lives by the sea.")
    dialog.get_by_label("Model").fill("openai-compatible/fake")
    dialog.get_by_label("Context window").fill("16000")
    dialog.get_by_role("button", name="Create agent").click()
    expect(page.get_by_role("heading", name="sailor")).to_be_visible()
    expect(page.locator("#composer")).to_be_focused()
    expect(page.locator(".agent-model", has_text="16,000 tokens")).to_be_visible()
    agent_id = page.evaluate("new URLSearchParams(location.hash.slice(1)).get('agent')")
    made = httpx.get(f"{server.url}/v1/agents/{agent_id}", timeout=30).json()
    assert (made["name"], made["llm_config"]["context_window"]) == ("sailor", 16000)
    assert made["model"].endswith("fake")
    values = {block["label"]: block["value"] for block in made["memory"]["blocks"]}
    assert values == {"persona": "I am a patient sailing instructor.", "human": "Name: Ada. Lives by the sea."}

    page.evaluate(WATCH_REPLIES)
    send(page, "tell me about the sea")
    final = f"You said: tell me about the sea. {LONG_REPLY}"
    expect(page.locator(".msg.assistant .text").last).to_have_text(final)
    seen = [text.removesuffix("▍") for text in page.evaluate("window.seenReplies")]
    partial = [text for text in seen if text and text != final and final.startswith(text)]
    assert len(set(partial)) >= 2, seen  # the reply grew on screen as it was generated
    expect(page.locator(".msg.user .text").last).to_have_text("tell me about the sea")
    expect(page.locator(".event.thinking").last).to_contain_text("I will answer")

    send(page, "remember I love sailing")
    call_item = page.locator(".event.call").last
    expect(call_item).to_contain_text("core_memory_append")
    expect(call_item.locator(".status")).to_have_text("OK")
    call_item.locator("summary").click()
    expect(call_item.locator("pre").first).to_contain_text('"content": "I love sailing"')
    expect(page.locator(".event.heartbeat").last).to_be_visible()
    expect(page.locator(".msg.assistant .text").last).to_have_text("Noted: I will remember that.")
    human = page.locator("#block-human")
    expect(human).to_have_value("Name: Ada. Lives by the sea.\nI love sailing")
    expect(page.locator("label[for=block-human] .count")).to_have_text("43/5,000")

    bar = page.locator(".bar")
    expect(bar.locator(".part")).to_have_count(5)
    expect(bar.locator(".mark.warning")).to_be_visible()
    expect(bar.locator(".mark.flush")).to_be_visible()
    label = bar.get_attribute("aria-label") or ""
    assert re.search(r"Memory-pressure warning at [\d,]+, eviction at [\d,]+", label), label
    context = httpx.get(f"{server.url}/v1/agents/{agent_id}/context", timeout=30).json()
    size = context["context_window_size_max"]
    for mark, tokens in (("warning", context["warning_tokens"]), ("flush", context["flush_tokens"])):
        left = bar.locator(f".mark.{mark}").evaluate("node => node.style.left")
        shown = float(left.removesuffix("%"))
        assert abs(shown - 100 * tokens / size) <= 0.005, (mark, left, tokens, size)  # where /context puts it
    assert f"{context['context_window_size_current']:,} of {size:,} tokens" in label
    expect(page.get_by_text("None yet: nothing has been evicted")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "screenshot.png", tmp_path)


def test_a_block_edited_by_hand_reaches_the_next_request_and_limits_are_the_stores(
    visit: Any, server: ServerProcess, llm: FakeLLMServer
) -> None:
    agent_id = api_agent(server, "editor")
    page = visit().open(f"#agent={agent_id}")
    human = page.locator("#block-human")
    expect(human).to_have_value("Name: Ada")
    human.fill("Name: Ada. Allergic to peanuts.")
    human.press("Control+Enter")
    expect(page.locator("label[for=block-human] .count")).to_have_text("31/5,000")
    expect(page.get_by_role("button", name="Save human")).to_have_count(0)  # saved: nothing left to save
    send(page, "what should I cook?")
    expect(page.locator(".msg.assistant .text").last).to_contain_text("You said: what should I cook?")
    system = [r for r in llm.requests if r.get("tools")][-1]["messages"][0]["content"]
    assert "Name: Ada. Allergic to peanuts." in system

    human.fill("x" * 5001)
    expect(page.locator("label[for=block-human] .count")).to_have_class(re.compile("over"))
    page.get_by_role("button", name="Save human").click()
    expect(page.locator(".block .error")).to_contain_text("5000")  # the store's own refusal
    expect(human).to_have_value("x" * 5001)  # the edit is kept to fix
    stored = httpx.get(f"{server.url}/v1/agents/{agent_id}/core-memory/blocks/human").json()
    assert stored["value"] == "Name: Ada. Allergic to peanuts."


def test_recall_search_shows_scores_dates_and_senders(visit: Any, server: ServerProcess) -> None:
    agent_id = api_agent(server, "searcher")
    for text in ("my sister Eve sails a red boat", "the weather is grey today", "Eve and I sail on Sundays"):
        api_send(server, agent_id, text)
    page = visit().open(f"#agent={agent_id}")
    page.locator("#search-query").fill("Eve sail")
    page.locator("#search-query").press("Enter")
    hits = page.locator(".hit")
    expect(hits.first).to_be_visible()
    texts = hits.locator(".text").all_inner_texts()
    assert texts and all("Eve" in t for t in texts) and not any("grey" in t for t in texts), texts
    scores = [float(s) for s in hits.locator(".score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    expect(hits.first.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(hits.first.locator(".where")).to_have_text(re.compile("user|assistant"))


def test_a_dropped_file_uploads_with_progress_and_archival_search_finds_it(visit: Any, server: ServerProcess) -> None:
    agent_id = api_agent(server, "reader")
    page = visit().open(f"#agent={agent_id}")
    expect(page.get_by_text("No sources yet")).to_be_visible()
    page.evaluate("""() => {
      window.sawProgress = false;
      new MutationObserver(() => { window.sawProgress ||= !!document.querySelector('.upload progress'); })
        .observe(document.body, {subtree: true, childList: true});
    }""")
    filler = " ".join(f"Entry {n}: the tide came in and went out again." for n in range(3000))
    text = f"The lighthouse keeper's logbook says the lamp was lit at dusk in 1893. {filler}"
    dropped = page.evaluate_handle(
        "(text) => { const t = new DataTransfer(); t.items.add(new File([text], 'keeper.txt')); return t; }",
        text,
    )
    page.dispatch_event(".drop", "drop", {"dataTransfer": dropped})
    expect(page.locator(".upload.done")).to_contain_text(re.compile(r"✓ [\d,]+ passages in reader-files"))
    assert page.evaluate("window.sawProgress")
    expect(page.locator(".source h3")).to_have_text("reader-files")
    expect(page.locator(".files .file-name")).to_have_text("keeper.txt")

    page.locator("#search-store").select_option("archival")
    page.locator("#search-query").fill("lighthouse lamp dusk")
    page.locator("form.search button").click()
    first = page.locator(".hit").first
    expect(first.locator(".text")).to_contain_text("the lamp was lit at dusk")
    expect(first.locator(".where")).to_have_text("keeper.txt")
    expect(first.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    float(first.locator(".score").inner_text())


def test_scrolling_up_loads_older_messages_from_recall(visit: Any, server: ServerProcess) -> None:
    agent_id = api_agent(server, "chatty")
    for number in range(35):
        api_send(server, agent_id, f"message {number}")
    page = visit().open(f"#agent={agent_id}")
    users = page.locator(".msg.user .text")
    expect(users.last).to_have_text("message 34")
    assert users.count() < 35 and not page.get_by_text("message 0", exact=True).is_visible()
    for _ in range(5):  # each time the top comes into view, the page before it is loaded
        page.locator(".transcript").evaluate("node => { node.scrollTop = 0; }")
        if page.get_by_text("The beginning of the conversation.").is_visible():
            break
        page.wait_for_timeout(300)
    expect(page.get_by_text("The beginning of the conversation.")).to_be_visible()
    assert users.all_inner_texts() == [f"message {n}" for n in range(35)]  # in order, none twice


def test_memory_pressure_and_evictions_show_in_the_chat_and_the_summary_in_the_inspector(
    visit: Any, server: ServerProcess
) -> None:
    agent_id = api_agent(server, "crowded", context_window_limit=3000)  # a few messages fill it
    page = visit().open(f"#agent={agent_id}")
    for number in range(12):
        send(page, f"fact {number}: the lighthouse at cape {number} was painted red and white in {1890 + number}")
        expect(page.locator(".msg.assistant")).to_have_count(number + 1)
        expect(page.locator(".transcript")).to_have_attribute("aria-busy", "false")  # its step has ended
        if page.locator(".event.eviction").count():
            break
    alert = page.locator(".event.alert.memory_pressure").first
    expect(alert.locator("summary .tag")).to_have_text("memory pressure")
    expect(alert.locator(".text")).to_be_hidden()  # collapsed to its first line until opened
    alert.locator("summary").click()
    expect(alert.locator(".text")).to_contain_text("Memory pressure")
    eviction = page.locator(".event.eviction").first
    expect(eviction).to_contain_text(re.compile(r"\d+ messages moved out of the context"))
    eviction.locator("summary").click()
    expect(eviction.locator(".text")).to_have_text("Summary: the user talked about the sea.")
    summary = page.locator(".inspector .text.summary")
    expect(summary).to_have_text("Summary: the user talked about the sea.")
    expect(page.get_by_text(re.compile("^Last written "))).to_be_visible()


def test_a_failed_step_shows_the_error_and_keeps_the_users_text(visit: Any, server: ServerProcess) -> None:
    agent_id = api_agent(server, "fragile")
    page = visit().open(f"#agent={agent_id}")
    send(page, "fail")
    failure = page.locator(".event.failure")
    expect(failure).to_contain_text("scripted refusal")
    expect(page.locator(".msg.user .text").last).to_have_text("fail")  # stored: it stays in the conversation
    failure.get_by_role("button", name="Edit and send again").click()
    expect(page.locator("#composer")).to_have_value("fail")

    send(page, "\u200b")  # only an invisible character: refused before anything is stored
    expect(page.locator(".composer .error")).to_contain_text("empty")
    expect(page.locator("#composer")).to_have_value("\u200b")
    expect(page.locator(".msg.user")).to_have_count(1)


def test_deleting_an_agent_asks_first(visit: Any, server: ServerProcess) -> None:
    agent_id = api_agent(server, "doomed")
    page = visit().open(f"#agent={agent_id}")
    page.get_by_role("button", name="Delete…").click()
    expect(page.get_by_role("dialog")).to_contain_text("Delete agent doomed?")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert httpx.get(f"{server.url}/v1/agents/{agent_id}").status_code == 200
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("button", name="Delete doomed").click()
    expect(page.locator(".agent-name", has_text="doomed")).to_have_count(0)
    assert httpx.get(f"{server.url}/v1/agents/{agent_id}").status_code == 404


def test_the_keyboard_alone_creates_an_agent_and_chats(visit: Any) -> None:
    page = visit().open()
    expect(page.locator(".agents")).to_be_visible()
    for _ in range(15):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        if focused == "New agent":
            break
    assert focused == "New agent"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # where the focus is can be seen
    page.keyboard.press("Enter")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.type("keys-only")
    page.keyboard.press("Enter")
    expect(page.locator("#composer")).to_be_focused()
    page.keyboard.type("hello from the keyboard")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    page.keyboard.press("Enter")
    expect(page.locator(".msg.user .text").last).to_have_text("hello from the keyboard\nsecond line")
    expect(page.locator(".msg.assistant .text").last).to_contain_text("You said: hello from the keyboard")
    page.get_by_role("button", name="Delete…").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete…")).to_be_focused()  # focus returns where it was


def test_a_phone_sized_screen_shows_one_panel_at_a_time(visit: Any, server: ServerProcess, tmp_path: Path) -> None:
    agent_id = api_agent(server, "pocket")
    api_send(server, agent_id, "hello from a phone")
    phone = visit(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = phone.open(f"#agent={agent_id}")
    expect(page.locator(".msg.assistant .text").last).to_contain_text("You said: hello from a phone")
    expect(page.locator(".inspector")).to_be_hidden()
    expect(page.locator(".agents")).to_be_hidden()
    box = page.locator("#composer").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844 and box["x"] >= 0 and box["x"] + box["width"] <= 390
    no_sideways_scroll(page)
    screenshot(page, "screenshot-phone.png", tmp_path)
    page.get_by_role("button", name="Memory").click()
    expect(page.locator("#block-human")).to_be_visible()
    expect(page.locator(".chat")).to_be_hidden()
    no_sideways_scroll(page)
    page.get_by_role("button", name="Agents").click()
    expect(page.locator(".agent-name", has_text="pocket")).to_be_visible()


def test_a_one_megabyte_message_does_not_break_the_layout(visit: Any, server: ServerProcess) -> None:
    agent_id = api_agent(server, "big", context_window_limit=2_000_000)
    page = visit().open(f"#agent={agent_id}")
    words = " ".join(["sailing"] * 50_000)
    huge = (words + " " + "x" * ONE_MB)[:ONE_MB]  # words, then one 600,000-character word that cannot wrap
    page.locator("#composer").evaluate(
        "(box, text) => { box.value = text; box.dispatchEvent(new Event('input')); }", huge
    )
    page.locator("#composer").press("Enter")
    expect(page.locator(".msg.assistant .text").last).to_have_text("That was 1,000,000 characters long.")
    bubble = page.locator(".msg.user").last
    expect(bubble.get_by_role("button", name="Show all 1,000,000 characters")).to_be_visible()
    no_sideways_scroll(page)
    bubble.get_by_role("button", name="Show all 1,000,000 characters").click()
    expect(bubble.locator(".text")).to_have_js_property("textContent", huge)
    no_sideways_scroll(page)
    transcript = page.locator(".transcript").bounding_box()
    shown = bubble.bounding_box()
    assert transcript is not None and shown is not None and shown["width"] <= transcript["width"]
    composer = page.locator("#composer").bounding_box()
    assert composer is not None and composer["y"] + composer["height"] <= 800  # the message box stays on screen
    send(page, "still here")
    expect(page.locator(".msg.assistant .text").last).to_contain_text("You said: still here")


def test_another_users_agents_cannot_be_reached(
    visit: Any, llm: FakeLLMServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    keyed = ServerProcess(tmp_path_factory.mktemp("ui-keys"), llm)
    keys = {}
    for name in ("ada", "bo"):
        assert keyed.memgpt("users", "create", name).returncode == 0
        made = keyed.memgpt("keys", "create", "--user", name, "--json")
        keys[name] = json.loads(made.stdout)["key"]
    keyed.start()
    try:
        ada = visit(base=keyed.url)
        page = ada.open()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("needs an API key")  # asked once...
        dialog.get_by_label("Key").fill(keys["ada"])
        dialog.get_by_role("button", name="Save").click()
        expect(page.get_by_text("No agents yet")).to_be_visible()
        page.get_by_role("button", name="New agent").first.click()
        page.get_by_label("Name", exact=True).fill("adas-agent")
        page.get_by_role("button", name="Create agent").click()
        send(page, "my secret plan")
        expect(page.locator(".msg.assistant .text").last).to_contain_text("You said: my secret plan")
        agent_id = page.evaluate("new URLSearchParams(location.hash.slice(1)).get('agent')")
        page.reload()  # ...and kept in the browser
        expect(page.locator(".msg.user .text").last).to_have_text("my secret plan")

        bo = visit(base=keyed.url)
        bo.context.add_init_script(f"localStorage.setItem('memgpt.apiKey', {json.dumps(keys['bo'])})")
        other = bo.open(f"#agent={agent_id}")
        expect(other.get_by_role("alert")).to_contain_text("another user's")
        expect(other.get_by_text("No agents yet")).to_be_visible()
        assert "my secret plan" not in other.content()
    finally:
        log = keyed.stop()
    assert "Traceback" not in log and keys["ada"] not in log


def drop_file(page: Page, target: str, name: str, text: str) -> None:
    dropped = page.evaluate_handle(
        "([name, text]) => { const t = new DataTransfer(); t.items.add(new File([text], name)); return t; }",
        [name, text],
    )
    page.dispatch_event(target, "drop", {"dataTransfer": dropped})


def test_an_agent_exported_to_a_file_imports_again_with_its_memory_and_conversation(
    visit: Any, server: ServerProcess, tmp_path: Path
) -> None:
    agent_id = api_agent(server, "voyager")
    api_send(server, agent_id, "remember I keep a logbook")
    page = visit().open(f"#agent={agent_id}")
    expect(page.locator("#block-human")).to_have_value("Name: Ada\nI keep a logbook")

    page.get_by_role("button", name="Export .af…").click()
    dialog = page.get_by_role("dialog")
    with page.expect_download() as waiting:
        dialog.get_by_role("button", name="Download").click()
    assert waiting.value.suggested_filename == "voyager.af"
    saved = tmp_path / "voyager.af"
    waiting.value.save_as(saved)
    expect(dialog.get_by_role("status")).to_contain_text("Saved voyager.af")
    exported = json.loads(saved.read_text(encoding="utf-8"))
    assert [agent["name"] for agent in exported["agents"]] == ["voyager"]
    assert "I keep a logbook" in saved.read_text(encoding="utf-8")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)

    page.get_by_role("button", name="Import .af").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[type=file]").set_input_files(
        files=[{"name": "broken.af", "mimeType": "application/json", "buffer": saved.read_bytes()[:500]}]
    )
    expect(dialog).to_contain_text("broken.af")
    dialog.get_by_role("button", name="Import").click()
    expect(dialog.locator(".error")).to_be_visible()  # a damaged file is refused and makes nothing
    drop_file(page, "dialog .drop", "voyager.af", saved.read_text(encoding="utf-8"))
    expect(dialog.locator(".drop .file-name")).to_have_text("voyager.af")
    dialog.get_by_role("button", name="Import").click()
    expect(dialog.locator(".error")).to_contain_text("already exists")  # its name is taken: nothing made
    names = [agent["name"] for agent in httpx.get(f"{server.url}/v1/agents", timeout=30).json()]
    assert "voyager-again" not in names and names.count("voyager") == 1

    dialog.locator("input[name=name]").fill("voyager-again")
    dialog.get_by_role("button", name="Import").click()
    expect(dialog).to_contain_text("Imported 1 agent")
    expect(dialog.locator(".imported")).to_contain_text("voyager-again")
    expect(page.locator(".agent-name", has_text="voyager-again")).to_be_visible()  # listed at once
    dialog.get_by_role("button", name="Open voyager-again").click()
    expect(page.get_by_role("heading", name="voyager-again")).to_be_visible()
    expect(page.locator(".msg.user .text").last).to_have_text("remember I keep a logbook")
    expect(page.locator(".event.call").last).to_contain_text("core_memory_append")
    expect(page.locator("#block-human")).to_have_value("Name: Ada\nI keep a logbook")
    copy_id = page.evaluate("new URLSearchParams(location.hash.slice(1)).get('agent')")
    assert copy_id != agent_id
    send(page, "hello again")
    expect(page.locator(".msg.assistant .text").last).to_contain_text("You said: hello again")


@pytest.mark.skipif(not (FILES / "evie.af").is_file(), reason=f"the shared agent files are not in {FILES}")
def test_a_letta_agent_file_of_two_agents_imports_with_its_report(visit: Any, server: ServerProcess) -> None:
    page = visit().open()
    page.get_by_role("button", name="Import .af").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[type=file]").set_input_files(str(FILES / "evie.af"))
    dialog.get_by_role("button", name="Import").click()
    expect(dialog).to_contain_text("Imported 2 agents")
    expect(dialog.locator(".imported li")).to_have_count(2)
    expect(dialog.locator(".imported li").first).to_contain_text("Evie")
    skipped = dialog.locator("details", has_text="memgpt has no place for")
    expect(skipped.locator(".report")).to_be_hidden()
    skipped.locator("summary").click()
    expect(skipped.locator(".report")).to_contain_text("sleeptime group")
    expect(skipped.locator(".report")).to_contain_text("tool web_search")
    dialog.get_by_role("button", name="Open Evie").click()
    expect(page.get_by_role("heading", name="Evie")).to_be_visible()
    expect(page.locator(".agent-name", has_text="companion-sleeptime")).to_be_visible()
    expect(page.locator(".block")).not_to_have_count(0)  # the file's core memory, shown in the inspector
