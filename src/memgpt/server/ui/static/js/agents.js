// Agents: the list, creating one, deleting one (with confirmation), and the API key dialog.
import { useState } from "preact/hooks";
import { api, apiKey } from "./api.js";
import { Dialog, ErrorText, html, number } from "./ui.js";

export function AgentList({ agents, selected, onSelect, onNew, error }) {
  // AGENT FILES (.af import and export, issue 17): an "Import .af" button goes beside "New agent" here, and
  // "Export .af" in AgentHeader (chat.js), once the server has the agent-file routes.
  return html`<nav class="agents" aria-labelledby="agents-title">
    <div class="panel-head">
      <h2 id="agents-title">Agents</h2>
      <button type="button" class="primary" onClick=${onNew}>New agent</button>
    </div>
    <${ErrorText} error=${error} />
    ${agents === null
      ? html`<p class="muted">Loading…</p>`
      : agents.length === 0
        ? html`<p class="muted">No agents yet: create one to start.</p>`
        : html`<ul class="agent-list">
            ${agents.map(
              (agent) => html`<li key=${agent.id}>
                <button
                  type="button"
                  class="agent"
                  aria-current=${agent.id === selected ? "page" : undefined}
                  onClick=${() => onSelect(agent.id)}
                >
                  <span class="agent-name">${agent.name}</span>
                  <span class="agent-model">${agent.model} · ${number(agent.llm_config?.context_window)} tokens</span>
                </button>
              </li>`,
            )}
          </ul>`}
  </nav>`;
}

export function NewAgentDialog({ onClose, onCreated }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body = { name: form.get("name").trim(), memory_blocks: [] };
    for (const label of ["persona", "human"]) {
      const value = form.get(label);
      if (value.trim()) body.memory_blocks.push({ label, value });
    }
    if (form.get("model").trim()) body.model = form.get("model").trim();
    if (form.get("window")) body.context_window_limit = Number(form.get("window"));
    setBusy(true);
    setError("");
    try {
      onCreated(await api("POST", "v1/agents", body));
    } catch (failure) {
      setError(failure.message);
      setBusy(false);
    }
  };
  return html`<${Dialog} title="New agent" onClose=${onClose}>
    <form class="stack" onSubmit=${submit}>
      <label>Name <input name="name" required maxlength="100" autocomplete="off" /></label>
      <label>Persona <span class="muted">(who the agent is; empty: memgpt's default)</span>
        <textarea name="persona" rows="3"></textarea></label>
      <label>Human <span class="muted">(what it knows about you)</span>
        <textarea name="human" rows="3"></textarea></label>
      <div class="row">
        <label class="grow">Model <input name="model" placeholder="the server's MEMGPT_MODEL" autocomplete="off" /></label>
        <label>Context window <input name="window" type="number" min="1000" step="1" placeholder="the model's" /></label>
      </div>
      <${ErrorText} error=${error} />
      <div class="buttons">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>${busy ? "Creating…" : "Create agent"}</button>
      </div>
    </form>
  <//>`;
}

export function DeleteAgentDialog({ agent, onClose, onDeleted }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    try {
      await api("DELETE", `v1/agents/${encodeURIComponent(agent.id)}`);
      onDeleted(agent.id);
    } catch (failure) {
      setError(failure.message);
      setBusy(false);
    }
  };
  return html`<${Dialog} title=${`Delete agent ${agent.name}?`} onClose=${onClose}>
    <p>Its core memory, every message in its recall memory and its own archival passages are deleted for good.
      Sources it uses stay (other agents may use them too).</p>
    <${ErrorText} error=${error} />
    <div class="buttons">
      <button type="button" onClick=${onClose} autofocus>Cancel</button>
      <button type="button" class="danger" disabled=${busy} onClick=${confirm}>Delete ${agent.name}</button>
    </div>
  <//>`;
}

export function KeyDialog({ reason, onClose, onSaved }) {
  const submit = (event) => {
    event.preventDefault();
    apiKey.set(new FormData(event.currentTarget).get("key").trim());
    onSaved();
  };
  return html`<${Dialog} title="API key" onClose=${onClose}>
    <form class="stack" onSubmit=${submit}>
      ${reason ? html`<p role="alert">${reason}</p>` : null}
      <p class="muted">Your key is kept in this browser only and sent with every request. Get one with
        <code>memgpt keys create --user NAME</code>. A server without keys needs none on this machine.</p>
      <label>Key <input name="key" type="password" autocomplete="off" value=${apiKey.get()} /></label>
      <div class="buttons">
        <button type="button" onClick=${() => { apiKey.set(""); onSaved(); }}>Forget key</button>
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary">Save</button>
      </div>
    </form>
  <//>`;
}
