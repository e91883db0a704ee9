// Agents: the list, creating one, deleting one (with confirmation), importing and exporting Letta agent
// files (.af), and the API key dialog.
import { useRef, useState } from "preact/hooks";
import { api, apiKey, downloadAgentFile, importAgentFile } from "./api.js";
import { Dialog, ErrorText, html, number } from "./ui.js";

export function AgentList({ agents, selected, onSelect, onNew, onImport, error }) {
  return html`<nav class="agents" aria-labelledby="agents-title">
    <div class="panel-head">
      <h2 id="agents-title">Agents</h2>
      <div class="buttons tight">
        <button type="button" onClick=${onImport}>Import .af</button>
        <button type="button" class="primary" onClick=${onNew}>New agent</button>
      </div>
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

// Import a Letta agent file: chosen or dropped; all its agents are made, or none (the error says why).
export function ImportAgentDialog({ onClose, onImported }) {
  const [file, setFile] = useState(null);
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(null); // the server's answer: {agent_ids, report}
  const picker = useRef(null);
  const submit = async (event) => {
    event.preventDefault();
    if (!file) return setError("Choose an agent file (.af) first.");
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError("");
    try {
      const answer = await importAgentFile(file, { name: form.get("name").trim(), withMessages: form.get("messages") === "on" });
      setDone(answer);
      onImported(answer.agent_ids, false);
    } catch (failure) {
      setError(failure.message); // nothing was imported
    } finally {
      setBusy(false);
    }
  };
  const onDrop = (event) => {
    event.preventDefault();
    setDragging(false);
    const [dropped] = event.dataTransfer.files;
    if (dropped) {
      setFile(dropped);
      setError("");
    }
  };
  if (done) return html`<${ImportReport} answer=${done} onClose=${onClose} onOpen=${() => onImported(done.agent_ids, true)} />`;
  return html`<${Dialog} title="Import an agent file" onClose=${onClose}>
    <form class="stack" onSubmit=${submit}>
      <p class="muted">A Letta agent file (<code>.af</code>, from Letta or from memgpt): its agents, their core
        memory, messages and tools are made here; what memgpt has no place for is listed after.</p>
      <div class=${`drop${dragging ? " dragging" : ""}`} onDragOver=${(e) => { e.preventDefault(); setDragging(true); }}
        onDragLeave=${() => setDragging(false)} onDrop=${onDrop}>
        <p>${file ? html`<span class="file-name">${file.name}</span> <span class="muted">(${number(file.size)} bytes)</span>` : "Drop an agent file here or"}</p>
        <button type="button" onClick=${() => picker.current.click()}>${file ? "Choose another…" : "Choose a file…"}</button>
        <input ref=${picker} type="file" accept=".af,.json,application/json" class="visually-hidden" tabindex="-1"
          aria-label="Agent file" onChange=${(e) => { setFile(e.currentTarget.files[0] || null); setError(""); }} />
      </div>
      <label>Name <span class="muted">(of the file's first agent; empty: the name in the file)</span>
        <input name="name" maxlength="100" autocomplete="off" /></label>
      <label class="check"><input type="checkbox" name="messages" checked /> Import the conversations (messages)</label>
      <${ErrorText} error=${error} />
      <div class="buttons">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>${busy ? "Importing…" : "Import"}</button>
      </div>
    </form>
  <//>`;
}

function ImportReport({ answer, onClose, onOpen }) {
  const { report } = answer;
  const agents = report.agents || [];
  const skipped = report.not_mapped || [];
  const changed = report.changed || [];
  const items = (list) => html`<ul class="report">${list.map((item) => html`<li><code>${item.path}</code> ${item.what}: <span class="muted">${item.reason}</span></li>`)}</ul>`;
  return html`<${Dialog} title=${`Imported ${agents.length === 1 ? "1 agent" : `${agents.length} agents`}`} onClose=${onClose}>
    <ul class="imported">
      ${agents.map((agent) => html`<li><strong>${agent.name}</strong> <span class="muted">${agent.model} ·
        ${number(agent.messages)} messages (${number(agent.in_context)} in context) · blocks ${agent.blocks.join(", ")}</span></li>`)}
    </ul>
    ${changed.length ? html`<details><summary>${number(changed.length)} things mapped differently</summary>${items(changed)}</details>` : null}
    ${skipped.length
      ? html`<details><summary>${number(skipped.length)} things of the file memgpt has no place for</summary>${items(skipped)}</details>`
      : html`<p class="muted">Everything in the file was imported.</p>`}
    <div class="buttons">
      <button type="button" onClick=${onClose}>Close</button>
      <button type="button" class="primary" onClick=${onOpen} autofocus>Open ${agents[0] ? agents[0].name : "it"}</button>
    </div>
  <//>`;
}

// Export an agent as a Letta agent file, downloaded by the browser.
export function ExportAgentDialog({ agent, onClose }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(0);
  const fileName = `${agent.name.replace(/[^\w.-]+/g, "_")}.af`;
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError("");
    try {
      setSaved(await downloadAgentFile(agent.id, fileName, { withMessages: form.get("messages") === "on", withArchival: form.get("archival") === "on" }));
    } catch (failure) {
      setError(failure.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} title=${`Export ${agent.name}`} onClose=${onClose}>
    <form class="stack" onSubmit=${submit}>
      <p class="muted">A Letta agent file (<code>${fileName}</code>): its core memory, instructions, tools and
        settings; memgpt or Letta can import it.</p>
      <label class="check"><input type="checkbox" name="messages" checked /> Include the conversation (messages and summary)</label>
      <label class="check"><input type="checkbox" name="archival" /> Include archival passages <span class="muted">(memgpt reads them back; Letta does not)</span></label>
      <${ErrorText} error=${error} />
      ${saved ? html`<p class="ok" role="status">Saved ${fileName} (${number(saved)} bytes) to your downloads.</p>` : null}
      <div class="buttons">
        <button type="button" onClick=${onClose}>${saved ? "Close" : "Cancel"}</button>
        <button type="submit" class="primary" disabled=${busy}>${busy ? "Exporting…" : "Download"}</button>
      </div>
    </form>
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
