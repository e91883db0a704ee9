// The memgpt web UI: agents on the left, the chat in the middle, the memory inspector on the right
// (one of the three at a time on a phone). The selected agent is in the URL (#agent=<id>).
import { render } from "preact";
import { useEffect, useReducer, useState } from "preact/hooks";
import { AgentList, DeleteAgentDialog, ExportAgentDialog, ImportAgentDialog, KeyDialog, NewAgentDialog } from "./agents.js";
import { api, enc, onKeyNeeded } from "./api.js";
import { AgentHeader, Chat } from "./chat.js";
import { Inspector } from "./inspector.js";
import { html } from "./ui.js";

const fromHash = () => new URLSearchParams(location.hash.slice(1)).get("agent") || "";
const PANELS = [
  ["agents", "Agents"],
  ["chat", "Chat"],
  ["memory", "Memory"],
];

async function allAgents() {
  const agents = [];
  for (let after = ""; ; ) {
    const page = await api("GET", `v1/agents?limit=1000&order=asc${after ? `&after=${enc(after)}` : ""}`);
    agents.push(...page);
    if (page.length < 1000) return agents.sort((a, b) => a.name.localeCompare(b.name));
    after = page[page.length - 1].id;
  }
}

// The skip link focuses the message box without changing the URL (its fragment names the selected agent).
function skipToComposer(event) {
  event.preventDefault();
  document.getElementById("composer")?.focus();
}

function App() {
  const [session, newSession] = useReducer((n) => n + 1, 0); // a new key: read everything again
  const [agents, setAgents] = useState(null);
  const [listError, setListError] = useState("");
  const [selected, setSelected] = useState(fromHash());
  const [agent, setAgent] = useState(null); // {data} or {missing: text}
  const [dialog, setDialog] = useState(null);
  const [version, bump] = useReducer((n) => n + 1, 0); // after every step and edit: the inspector reads again
  const [panel, setPanel] = useState("chat");
  const [focusChat, setFocusChat] = useState(false); // the user picked an agent: its message box takes the focus

  useEffect(() => onKeyNeeded((reason) => setDialog({ kind: "key", reason })), []);
  useEffect(() => {
    const follow = () => setSelected(fromHash());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);

  useEffect(() => {
    allAgents().then(
      (list) => {
        setAgents(list);
        setListError("");
        performance.mark("memgpt:agents-ready");
        if (!fromHash() && list.length) choose(list[0].id, true);
      },
      (failure) => setListError(failure.message),
    );
  }, [session]);

  useEffect(() => {
    if (!selected) return setAgent(null);
    let current = true;
    api("GET", `v1/agents/${enc(selected)}`).then(
      (data) => current && setAgent({ data }),
      (failure) =>
        current &&
        setAgent({
          missing:
            failure.status === 404
              ? `There is no agent ${selected} here: it was deleted, or it is another user's.`
              : failure.message,
        }),
    );
    return () => {
      current = false;
    };
  }, [selected, session]);

  const choose = (id, quietly = false) => {
    if (quietly) history.replaceState(null, "", `#agent=${enc(id)}`);
    else location.hash = `agent=${enc(id)}`;
    setSelected(id);
    setPanel("chat");
    setFocusChat(!quietly);
  };

  const created = (data) => {
    setDialog(null);
    setAgents((list) => [...(list || []), data].sort((a, b) => a.name.localeCompare(b.name)));
    choose(data.id);
  };

  // An agent file was imported: the list is read again; `open` shows its first agent.
  const imported = (ids, open) => {
    if (open) setDialog(null);
    allAgents().then(
      (list) => {
        setAgents(list);
        if (open && ids.length) choose(ids[0]);
      },
      (failure) => setListError(failure.message),
    );
  };

  const deleted = (id) => {
    setDialog(null);
    const rest = (agents || []).filter((a) => a.id !== id);
    setAgents(rest);
    if (rest.length) choose(rest[0].id);
    else {
      history.replaceState(null, "", location.pathname);
      setSelected("");
    }
  };

  const current = agent && agent.data && agent.data.id === selected ? agent.data : null;
  return html`<div class="app" data-panel=${panel}>
    <a class="skip" href="#composer" onClick=${skipToComposer}>Skip to the message box</a>
    <header class="top">
      <h1>memgpt</h1>
      <nav class="panels" aria-label="Panels">
        ${PANELS.map(([id, name]) => html`<button type="button" aria-pressed=${panel === id} onClick=${() => setPanel(id)}>${name}</button>`)}
      </nav>
      <button type="button" class="quiet" onClick=${() => setDialog({ kind: "key", reason: "" })}><span class="wide-only">API key</span><span class="narrow-only">Key</span></button>
    </header>
    <main class="columns">
      <${AgentList} agents=${agents} selected=${selected} error=${listError}
        onSelect=${(id) => choose(id)} onNew=${() => setDialog({ kind: "new" })} onImport=${() => setDialog({ kind: "import" })} />
      ${current
        ? html`<div class="middle">
              <${AgentHeader} agent=${current} onExport=${() => setDialog({ kind: "export" })}
                onDelete=${() => setDialog({ kind: "delete" })} />
              <${Chat} key=${current.id} agent=${current} onStepDone=${bump} focus=${focusChat} />
            </div>
            <${Inspector} key=${current.id} agent=${current} version=${version} onChanged=${bump} />`
        : html`<div class="middle placeholder">
              ${agent && agent.missing
                ? html`<p role="alert">${agent.missing}</p>`
                : agents && !agents.length
                  ? html`<p>Create an agent to start: it keeps what it learns about you in its memory.</p>
                      <button type="button" class="primary" onClick=${() => setDialog({ kind: "new" })}>New agent</button>`
                  : html`<p class="muted">${selected ? "Loading…" : "Choose an agent."}</p>`}
            </div>`}
    </main>
    ${dialog && dialog.kind === "new" ? html`<${NewAgentDialog} onClose=${() => setDialog(null)} onCreated=${created} />` : null}
    ${dialog && dialog.kind === "import" ? html`<${ImportAgentDialog} onClose=${() => setDialog(null)} onImported=${imported} />` : null}
    ${dialog && dialog.kind === "export" && current
      ? html`<${ExportAgentDialog} agent=${current} onClose=${() => setDialog(null)} />`
      : null}
    ${dialog && dialog.kind === "delete" && current
      ? html`<${DeleteAgentDialog} agent=${current} onClose=${() => setDialog(null)} onDeleted=${deleted} />`
      : null}
    ${dialog && dialog.kind === "key"
      ? html`<${KeyDialog} reason=${dialog.reason} onClose=${() => setDialog(null)}
          onSaved=${() => { setDialog(null); newSession(); }} />`
      : null}
  </div>`;
}

render(html`<${App} />`, document.getElementById("app"));
