// The chat: the transcript (scroll-back from recall, live events as the step runs) and the message box.
import { Component } from "preact";
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";
import { api, enc, streamEvents } from "./api.js";
import { Transcript } from "./transcript.js";
import { ErrorText, LongText, html, number, when } from "./ui.js";

const PAGE = 30; // stored messages per page of scroll-back
const ALERT_TAGS = { memory_pressure: "memory pressure", step_limit: "step limit", system: "system" };

export function AgentHeader({ agent, onExport, onDelete }) {
  return html`<header class="chat-head">
    <div>
      <h2 id="chat-title">${agent.name}</h2>
      <p class="muted">${agent.model} · ${number(agent.llm_config?.context_window)} tokens · <code>${agent.id}</code></p>
    </div>
    <div class="buttons tight">
      <button type="button" class="quiet" onClick=${onExport}>Export .af…</button>
      <button type="button" class="danger-quiet" onClick=${onDelete}>Delete…</button>
    </div>
  </header>`;
}

export function Chat({ agent, onStepDone, focus = false }) {
  const [transcript] = useState(() => new Transcript());
  const [, redraw] = useReducer((n) => n + 1, 0);
  const [history, setHistory] = useState({ loaded: false, more: true, loading: false, error: "" });
  const [busy, setBusy] = useState(false);
  const [draft, setDraft] = useState("");
  const [error, setError] = useState("");
  const scroller = useRef(null);
  const sentinel = useRef(null);
  const box = useRef(null);
  const stick = useRef(true); // follow new content while the reader is at the bottom
  const keep = useRef(null); // distance from the bottom to keep while older messages are put above
  const frame = useRef(0);

  const schedule = () => {
    if (!frame.current) frame.current = requestAnimationFrame(() => ((frame.current = 0), redraw()));
  };

  const loadOlder = async () => {
    if (history.loading || (history.loaded && !history.more)) return;
    setHistory((h) => ({ ...h, loading: true, error: "" }));
    const oldest = transcript.items.find((item) => item.messageId)?.messageId;
    const cursor = history.loaded && oldest ? `&before=${enc(oldest)}` : "";
    try {
      const page = await api("GET", `v1/agents/${enc(agent.id)}/messages?limit=${PAGE}&order=desc${cursor}`);
      const node = scroller.current;
      if (history.loaded && node) keep.current = node.scrollHeight - node.scrollTop;
      transcript.prepend(page);
      const rows = new Set(page.map((message) => message.id)).size;
      setHistory({ loaded: true, more: rows >= PAGE, loading: false, error: "" });
      if (!history.loaded) performance.mark("memgpt:chat-ready");
    } catch (failure) {
      setHistory((h) => ({ ...h, loaded: true, loading: false, error: failure.message }));
    }
  };

  useEffect(() => {
    loadOlder();
  }, []);

  // An agent just chosen or created: the message box takes the focus once it can be typed in.
  useEffect(() => {
    if (history.loaded && focus && box.current) box.current.focus();
  }, [history.loaded]);

  // Scrolled to the top: the next page of older messages.
  useEffect(() => {
    if (!sentinel.current || !history.loaded || !history.more) return undefined;
    const watch = new IntersectionObserver((seen) => seen.some((entry) => entry.isIntersecting) && loadOlder(), {
      root: scroller.current,
    });
    watch.observe(sentinel.current);
    return () => watch.disconnect();
  });

  useLayoutEffect(() => {
    const node = scroller.current;
    if (!node) return;
    if (keep.current !== null) {
      node.scrollTop = node.scrollHeight - keep.current;
      keep.current = null;
    } else if (stick.current) {
      node.scrollTop = node.scrollHeight;
    }
  });

  const onScroll = () => {
    const node = scroller.current;
    stick.current = node.scrollHeight - node.scrollTop - node.clientHeight < 48;
  };

  const send = async (event) => {
    if (event) event.preventDefault();
    const text = draft;
    if (!text.trim() || busy) return;
    setBusy(true);
    setError("");
    setDraft("");
    stick.current = true;
    const pending = transcript.local("user", { text, pending: true });
    redraw();
    let accepted = false; // the server stored the message (its user_message event came)
    const refused = (message) => {
      transcript.remove(pending);
      setDraft((current) => current || text); // not stored: the text stays in the box to send again
      setError(message);
    };
    try {
      await streamEvents(agent.id, text, (agentEvent) => {
        if (agentEvent.type === "user_message") {
          transcript.remove(pending);
          accepted = true;
        }
        if (agentEvent.type === "error" && !accepted) refused(agentEvent.content);
        else transcript.apply(agentEvent.type === "error" ? { ...agentEvent, retry: text } : agentEvent);
        schedule();
      });
    } catch (failure) {
      if (accepted) transcript.apply({ type: "error", content: failure.message, retry: text });
      else refused(failure.message);
    } finally {
      setBusy(false);
      redraw();
      onStepDone();
      if (box.current) box.current.focus();
    }
  };

  const onKeyDown = (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) send(event);
  };

  const retry = (text) => {
    setDraft(text);
    if (box.current) box.current.focus();
  };

  return html`<section class="chat" aria-labelledby="chat-title">
    <div class="transcript" ref=${scroller} onScroll=${onScroll} role="log" aria-label="Conversation" aria-busy=${busy}>
      <div ref=${sentinel} class="older">
        ${history.loaded && history.more
          ? html`<button type="button" class="link" onClick=${loadOlder} disabled=${history.loading}>
              ${history.loading ? "Loading older messages…" : "Load older messages"}</button>`
          : history.loaded && transcript.items.length
            ? html`<p class="muted">The beginning of the conversation.</p>`
            : null}
        <${ErrorText} error=${history.error} />
      </div>
      ${history.loaded && !transcript.items.length
        ? html`<p class="muted empty">No messages yet. Say hello: the agent answers, and edits its memory as it learns about you.</p>`
        : null}
      ${transcript.items.map((item) => html`<${Item} key=${item.key} item=${item} onRetry=${retry} />`)}
    </div>
    <form class="composer" onSubmit=${send}>
      <${ErrorText} error=${error} />
      <label for="composer" class="visually-hidden">Message to ${agent.name}</label>
      <textarea id="composer" ref=${box} rows="2" value=${draft} placeholder=${`Message ${agent.name} (Enter sends, Shift+Enter: new line)`}
        onInput=${(e) => setDraft(e.currentTarget.value)} onKeyDown=${onKeyDown} disabled=${!history.loaded}></textarea>
      <button type="submit" class="primary" disabled=${busy || !draft.trim()}>${busy ? "Replying…" : "Send"}</button>
    </form>
  </section>`;
}

// One transcript item; redrawn only when its object changed (items are replaced, not mutated).
class Item extends Component {
  shouldComponentUpdate(next) {
    return next.item !== this.props.item;
  }

  render({ item, onRetry }) {
    const time = item.time ? html`<time datetime=${item.time}>${when(item.time)}</time>` : null;
    switch (item.kind) {
      case "user":
        return html`<article class=${`msg user${item.pending ? " pending" : ""}`} aria-label="You said">
          <div class="who">${item.name || "You"} ${time}</div><${LongText} text=${item.text} />
        </article>`;
      case "assistant":
        return html`<article class=${`msg assistant${item.streaming ? " streaming" : ""}`} aria-label="The agent said">
          <div class="who">Agent ${time}</div><${LongText} text=${item.text} />
        </article>`;
      case "thinking":
        return html`<details class="event thinking">
          <summary><span class="tag">thinking</span> <span class="preview">${preview(item.text)}</span></summary>
          <${LongText} text=${item.text} />
        </details>`;
      case "call":
        return html`<details class=${`event call${item.status === "Failed" ? " failed" : ""}`}>
          <summary><span class="tag">function</span> <code>${item.name}</code>
            <span class="status">${item.status || (item.streaming ? "writing…" : "running…")}</span></summary>
          <h4>Arguments</h4><pre>${pretty(item.args)}</pre>
          ${item.result !== undefined ? html`<h4>Result</h4><pre>${item.result}</pre>` : null}
        </details>`;
      case "heartbeat":
        return html`<div class="event heartbeat"><span class="tag">heartbeat</span> the agent asked to go on thinking</div>`;
      case "alert":
        return html`<details class=${`event alert ${item.alertKind}`}>
          <summary><span class="tag">${ALERT_TAGS[item.alertKind] || "system"}</span> <span class="preview">${preview(item.text)}</span></summary>
          <${LongText} text=${item.text} />
        </details>`;
      case "eviction":
        return html`<details class="event eviction">
          <summary><span class="tag">eviction</span> ${number(item.evicted)} messages moved out of the context into
            recall memory; the summary was rewritten</summary>
          <${LongText} text=${item.text} />
        </details>`;
      case "error":
        return html`<div class="event failure" role="alert">
          <span class="tag">error</span> ${item.text}
          ${item.retry !== undefined
            ? html`<p>Your message is kept in recall memory.
                <button type="button" class="link" onClick=${() => onRetry(item.retry)}>Edit and send again</button></p>`
            : null}
        </div>`;
      default:
        return null;
    }
  }
}

function preview(text) {
  const line = (text || "").replace(/\s+/g, " ").trim();
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

function pretty(args) {
  if (!args) return "";
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args; // still arriving, or not JSON
  }
}
