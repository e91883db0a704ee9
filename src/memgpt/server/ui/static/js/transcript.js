// The chat transcript as a list of items, built from stored messages (Letta's message list, scroll-back)
// and from memgpt's live agent events (the event stream). Items are replaced, never changed in place,
// so a view redraws only the items that changed.
//
// kinds: user, assistant, thinking, call (with its result), heartbeat, alert, eviction, error

const ASSISTANT_TOOL = "send_message";

export class Transcript {
  constructor() {
    this.items = [];
    this.positions = new Map(); // key -> index in items
    this.perMessage = new Map(); // message id -> {calls, says, sayEvents} counters of a live message
    this.callKeys = new Map(); // call id -> key of its item
    this.serial = 0;
  }

  get(key) {
    const at = this.positions.get(key);
    return at === undefined ? undefined : this.items[at];
  }

  put(key, fields) {
    const at = this.positions.get(key);
    if (at === undefined) {
      this.positions.set(key, this.items.length);
      this.items = [...this.items, { key, ...fields }];
    } else {
      const items = this.items.slice();
      items[at] = { ...items[at], ...fields };
      this.items = items;
    }
  }

  remove(key) {
    if (!this.positions.has(key)) return;
    this.items = this.items.filter((item) => item.key !== key);
    this.reindex();
  }

  reindex() {
    this.positions = new Map(this.items.map((item, index) => [item.key, index]));
  }

  // Older stored messages (Letta messages, oldest first) go before what is shown.
  prepend(messages) {
    const older = fromMessages(messages).filter((item) => !this.positions.has(item.key));
    // a page can end between a call and its result: the result shown alone joins its call now
    const orphans = new Map(this.items.filter((item) => item.orphanOf).map((item) => [item.orphanOf, item]));
    const joined = older.map((item) => {
      const orphan = item.kind === "call" && item.result === undefined && orphans.get(item.callId);
      if (!orphan) return item;
      orphans.delete(item.callId);
      this.items = this.items.filter((shown) => shown !== orphan);
      return { ...item, result: orphan.result, status: orphan.status };
    });
    this.items = [...joined, ...this.items];
    this.reindex();
  }

  append(messages) {
    for (const item of fromMessages(messages)) this.put(item.key, item);
  }

  local(kind, fields) {
    const key = `local:${++this.serial}`;
    this.put(key, { kind, ...fields });
    return key;
  }

  // One of memgpt's agent events (AgentEvent.to_dict()).
  apply(event) {
    const id = event.message_id || "";
    const time = event.time;
    const text = event.content || "";
    const live = this.live(id);
    switch (event.type) {
      case "user_message":
        this.put(`${id}:user`, { kind: "user", text, name: event.name, time });
        break;
      case "inner_monologue_delta":
        this.grow(`${id}:thinking`, { kind: "thinking", time }, text);
        break;
      case "inner_monologue":
        this.put(`${id}:thinking`, { kind: "thinking", text, time, streaming: false });
        break;
      case "assistant_message_delta": {
        const key = `${id}:say:${event.call || 0}`;
        if (!live.says.includes(key)) live.says.push(key);
        this.grow(key, { kind: "assistant", time }, text);
        break;
      }
      case "assistant_message": {
        const key = live.says[live.sayEvents++] || `${id}:said:${live.sayEvents}`;
        this.put(key, { kind: "assistant", text, time, streaming: false });
        break;
      }
      case "function_call_delta":
        this.grow(`${id}:call:${event.call || 0}`, { kind: "call", name: event.name, time }, text, "args");
        break;
      case "function_call": {
        const index = live.calls++;
        if (text === ASSISTANT_TOOL) break;
        this.put(`${id}:call:${index}`, { kind: "call", name: text, args: event.arguments || "", callId: event.id, time, streaming: false });
        this.callKeys.set(event.id, `${id}:call:${index}`);
        break;
      }
      case "function_result": {
        if (event.name === ASSISTANT_TOOL) break;
        const key = this.callKeys.get(event.id) || `result:${event.id}`;
        this.put(key, { kind: "call", name: event.name, result: text, status: event.status, time });
        break;
      }
      case "heartbeat":
        this.local("heartbeat", { time });
        break;
      case "system_alert":
        this.local("alert", { text, alertKind: event.kind || "system", time });
        break;
      case "step_limit":
        this.local("alert", { text, alertKind: "step_limit", time });
        break;
      case "summary":
        this.local("eviction", { text, evicted: event.evicted, time });
        break;
      case "error":
        this.local("error", { text, errorKind: event.error, retry: event.retry, time });
        break;
      default: // usage and anything newer: not shown in the transcript
    }
  }

  // A delta: text added to an item that is still being generated.
  grow(key, fields, piece, field = "text") {
    const current = this.get(key);
    const before = current ? current[field] || "" : "";
    this.put(key, { ...fields, [field]: before + piece, streaming: true });
  }

  live(messageId) {
    let found = this.perMessage.get(messageId);
    if (!found) {
      found = { calls: 0, says: [], sayEvents: 0 };
      this.perMessage.set(messageId, found);
    }
    return found;
  }
}

// Stored messages in Letta's shapes as transcript items; a tool's result joins its call.
export function fromMessages(messages) {
  const items = [];
  const calls = new Map();
  for (const message of messages) {
    const base = { key: `${message.id}:${message.message_type}:${message.otid || message.tool_call_id || ""}`, time: message.date, messageId: message.id };
    switch (message.message_type) {
      case "user_message":
        items.push({ ...base, key: `${message.id}:user`, kind: "user", text: textOf(message.content), name: message.name });
        break;
      case "system_message":
        items.push({ ...base, kind: "alert", text: textOf(message.content), alertKind: alertKind(textOf(message.content)) });
        break;
      case "reasoning_message":
        items.push({ ...base, key: `${message.id}:thinking`, kind: "thinking", text: message.reasoning || "" });
        break;
      case "assistant_message":
        items.push({ ...base, kind: "assistant", text: textOf(message.content) });
        break;
      case "tool_call_message": {
        const call = message.tool_call || {};
        const item = { ...base, kind: "call", name: call.name, args: call.arguments || "", callId: call.tool_call_id };
        calls.set(call.tool_call_id, items.length);
        items.push(item);
        break;
      }
      case "tool_return_message": {
        const status = message.status === "error" ? "Failed" : "OK";
        const at = calls.get(message.tool_call_id);
        if (at === undefined) {
          const orphan = { kind: "call", name: "(an earlier call)", result: message.tool_return, status };
          items.push({ ...base, ...orphan, orphanOf: message.tool_call_id });
        }
        else items[at] = { ...items[at], result: message.tool_return, status };
        break;
      }
      default:
    }
  }
  return items;
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => part.text || "").join("\n");
  return "";
}

function alertKind(text) {
  return text.startsWith("Memory pressure:") ? "memory_pressure" : "system";
}
