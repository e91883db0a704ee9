// The memory inspector beside the chat, read again after every step: the context window, core memory
// (editable), the recursive summary, recall and archival search, and the agent's sources with uploads.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, enc, upload } from "./api.js";
import { ErrorText, LongText, chars, html, number, when } from "./ui.js";

export function Inspector({ agent, version, onChanged }) {
  return html`<aside class="inspector" aria-label="Memory inspector">
    <${ContextWindow} agent=${agent} version=${version} />
    <${CoreMemory} agent=${agent} version=${version} onChanged=${onChanged} />
    <${Search} agent=${agent} />
    <${Sources} agent=${agent} version=${version} onChanged=${onChanged} />
  </aside>`;
}

// Fetches `path` whenever one of `keys` changes; [data, error].
function useFetched(path, keys) {
  const [state, setState] = useState({ data: null, error: "" });
  useEffect(() => {
    let current = true;
    api("GET", path).then(
      (data) => current && setState({ data, error: "" }),
      (failure) => current && setState((s) => ({ data: s.data, error: failure.message })),
    );
    return () => {
      current = false;
    };
  }, keys);
  return [state.data, state.error];
}

const PARTS = [
  ["system", "System instructions", (c) => c.num_tokens_system],
  ["tools", "Tool schemas", (c) => c.num_tokens_functions_definitions],
  ["core", "Core memory", (c) => c.num_tokens_core_memory + c.num_tokens_external_memory_summary],
  ["summary", "Summary", (c) => c.num_tokens_summary_memory],
  ["messages", "Messages", (c) => c.num_tokens_messages],
];

function ContextWindow({ agent, version }) {
  const [context, error] = useFetched(`v1/agents/${enc(agent.id)}/context?include_messages=false`, [agent.id, version]);
  if (!context) return html`<section class="card"><h2>Context window</h2><${ErrorText} error=${error} /></section>`;
  const size = context.context_window_size_max;
  const share = (tokens) => `${Math.min(100, (100 * tokens) / size).toFixed(2)}%`;
  const used = context.context_window_size_current;
  const label =
    `${number(used)} of ${number(size)} tokens used: ` +
    PARTS.map(([, name, get]) => `${name} ${number(get(context))}`).join(", ") +
    `. Memory-pressure warning at ${number(context.warning_tokens)}, eviction at ${number(context.flush_tokens)}.`;
  return html`<section class="card" aria-labelledby="context-title">
    <h2 id="context-title">Context window</h2>
    <p class="muted"><strong>${number(used)}</strong> of ${number(size)} tokens (estimated) · ${share(used)} full</p>
    <div class="bar" role="img" aria-label=${label}>
      ${PARTS.map(([part, name, get]) => html`<span class=${`part ${part}`} style=${{ width: share(get(context)) }} title=${`${name}: ${number(get(context))}`}></span>`)}
      <span class="mark warning" style=${{ left: share(context.warning_tokens) }} title=${`memory-pressure warning at ${number(context.warning_tokens)} tokens`}></span>
      <span class="mark flush" style=${{ left: share(context.flush_tokens) }} title=${`eviction at ${number(context.flush_tokens)} tokens`}></span>
    </div>
    <table class="legend">
      <tbody>
        ${PARTS.map(([part, name, get]) => html`<tr><td><span class=${`swatch ${part}`}></span>${name}</td><td class="num">${number(get(context))}</td><td class="num">${share(get(context))}</td></tr>`)}
        <tr class="threshold"><td><span class="swatch warning"></span>Memory-pressure warning</td><td class="num">${number(context.warning_tokens)}</td><td class="num">${share(context.warning_tokens)}</td></tr>
        <tr class="threshold"><td><span class="swatch flush"></span>Eviction into the summary</td><td class="num">${number(context.flush_tokens)}</td><td class="num">${share(context.flush_tokens)}</td></tr>
      </tbody>
    </table>
    <p class="muted">${number(context.num_messages)} messages in the window · ${number(context.num_recall_memory)} in recall memory · ${number(context.num_archival_memory)} archival passages</p>
    <h3>Recursive summary</h3>
    ${context.summary_memory
      ? html`<p class="muted">Last written ${when(context.summary_updated_at)}</p><${LongText} text=${context.summary_memory} limit=${1200} className="text summary" />`
      : html`<p class="muted">None yet: nothing has been evicted from the window.</p>`}
  </section>`;
}

function CoreMemory({ agent, version, onChanged }) {
  const [blocks, error] = useFetched(`v1/agents/${enc(agent.id)}/core-memory/blocks`, [agent.id, version]);
  return html`<section class="card" aria-labelledby="memory-title">
    <h2 id="memory-title">Core memory</h2>
    <${ErrorText} error=${error} />
    ${(blocks || []).map((block) => html`<${BlockEditor} key=${block.label} agent=${agent} block=${block} onSaved=${onChanged} />`)}
  </section>`;
}

function BlockEditor({ agent, block, onSaved }) {
  const [value, setValue] = useState(block.value);
  const [base, setBase] = useState(block.value); // what the edit started from
  const [error, setError] = useState("");
  const [saving, setSaving] = useState(false);
  const dirty = value !== base;
  useEffect(() => {
    if (!dirty) {
      setValue(block.value);
      setBase(block.value);
    }
  }, [block.value]);
  const id = `block-${block.label}`;
  const save = async (event) => {
    event.preventDefault();
    setSaving(true);
    setError("");
    try {
      const saved = await api("PATCH", `v1/agents/${enc(agent.id)}/core-memory/blocks/${enc(block.label)}`, { value });
      setBase(saved.value);
      setValue(saved.value);
      onSaved();
    } catch (failure) {
      setError(failure.message); // the store's own refusal, e.g. over the block's limit
    } finally {
      setSaving(false);
    }
  };
  const revert = () => {
    setValue(block.value);
    setBase(block.value);
    setError("");
  };
  const onKeyDown = (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) save(event);
    if (event.key === "Escape" && dirty) {
      event.preventDefault();
      revert();
    }
  };
  const used = chars(value);
  return html`<form class="block" onSubmit=${save}>
    <label for=${id} class="block-head">
      <strong>${block.label}</strong>
      <span class=${`count${used > block.limit ? " over" : ""}`}>${number(used)}/${number(block.limit)}</span>
      ${block.read_only ? html`<span class="badge">read-only for the agent</span>` : null}
    </label>
    ${block.description ? html`<p class="muted">${block.description}</p>` : null}
    <textarea id=${id} rows=${Math.min(12, Math.max(3, value.split("\n").length + 1))} value=${value}
      onInput=${(e) => setValue(e.currentTarget.value)} onKeyDown=${onKeyDown}></textarea>
    ${dirty && block.value !== base ? html`<p class="note">The agent changed this block while you were editing; saving replaces its version.</p>` : null}
    <${ErrorText} error=${error} />
    ${dirty
      ? html`<div class="buttons"><button type="button" onClick=${revert}>Revert</button>
          <button type="submit" class="primary" disabled=${saving}>${saving ? "Saving…" : `Save ${block.label}`}</button></div>`
      : null}
  </form>`;
}

function Search({ agent }) {
  const [store, setStore] = useState("recall");
  const [query, setQuery] = useState("");
  const [result, setResult] = useState(null); // {store, query, limit, hits}
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const run = async (wanted, text, limit) => {
    setBusy(true);
    setError("");
    try {
      const hits =
        wanted === "recall"
          ? (await api("POST", "v1/messages/search", { agent_id: agent.id, query: text, limit })).map((hit) => ({
              id: hit.message_id,
              score: hit.score,
              time: hit.created_at,
              where: hit.name ? `${hit.role} (${hit.name})` : hit.role,
              text: hit.content,
            }))
          : (await api("GET", `v1/agents/${enc(agent.id)}/archival-memory/search?query=${enc(text)}&top_k=${limit}`)).results.map((hit) => ({
              id: hit.id,
              score: hit.score,
              time: hit.timestamp,
              where: citation(hit.metadata || {}),
              text: hit.content,
            }));
      setResult({ store: wanted, query: text, limit, hits });
    } catch (failure) {
      setError(failure.message);
    } finally {
      setBusy(false);
    }
  };
  const submit = (event) => {
    event.preventDefault();
    if (query.trim()) run(store, query, 10);
  };
  return html`<section class="card" aria-labelledby="search-title">
    <h2 id="search-title">Search memory</h2>
    <form class="search" onSubmit=${submit} role="search">
      <label class="visually-hidden" for="search-store">Store</label>
      <select id="search-store" value=${store} onChange=${(e) => setStore(e.currentTarget.value)}>
        <option value="recall">Recall</option>
        <option value="archival">Archival</option>
      </select>
      <label class="visually-hidden" for="search-query">Search for</label>
      <input id="search-query" type="search" value=${query} onInput=${(e) => setQuery(e.currentTarget.value)} placeholder="words or meaning" />
      <button type="submit" disabled=${busy}>Search</button>
    </form>
    <${ErrorText} error=${error} />
    ${result
      ? html`<p class="muted" aria-live="polite">${result.hits.length ? `${result.hits.length} best ${result.store} results for “${result.query}”` : `Nothing in ${result.store} memory matches “${result.query}”.`}</p>
        <ol class="hits">
          ${result.hits.map((hit) => html`<li key=${hit.id} class="hit">
            <div class="hit-head"><span class="score" title="score (higher is better)">${hit.score.toFixed(4)}</span>
              <time datetime=${hit.time}>${when(hit.time)}</time> <span class="where">${hit.where}</span></div>
            <${LongText} text=${hit.text} limit=${300} />
          </li>`)}
        </ol>
        ${result.hits.length === result.limit
          ? html`<button type="button" class="link" disabled=${busy} onClick=${() => run(result.store, result.query, result.limit + 10)}>More results</button>`
          : null}`
      : null}
  </section>`;
}

function citation(metadata) {
  if (!metadata.source) return "agent's note";
  const where = [metadata.source];
  if (metadata.page !== undefined && metadata.page !== null) where.push(`page ${metadata.page}${metadata.last_page ? `-${metadata.last_page}` : ""}`);
  if (metadata.section) where.push(metadata.section);
  return where.join(", ");
}

function Sources({ agent, version, onChanged }) {
  const [refresh, setRefresh] = useState(0);
  const [folders, error] = useFetched(`v1/agents/${enc(agent.id)}/folders`, [agent.id, version, refresh]);
  const [files, setFiles] = useState({});
  const [target, setTarget] = useState("");
  const [uploads, setUploads] = useState([]);
  const [dragging, setDragging] = useState(false);
  const picker = useRef(null);
  const sent = useRef(0); // uploads listed so far: the index of the next one
  useEffect(() => {
    if (!folders) return undefined;
    let current = true;
    Promise.all(folders.map((folder) => api("GET", `v1/folders/${enc(folder.id)}/files`).then((list) => [folder.id, list])))
      .then((pairs) => current && setFiles(Object.fromEntries(pairs)))
      .catch(() => {});
    return () => {
      current = false;
    };
  }, [folders]);

  const folderFor = async () => {
    if (folders && folders.length) return folders.find((f) => f.id === target) || folders[0];
    const name = `${agent.name}-files`;
    let folder;
    try {
      folder = await api("POST", "v1/folders", { name, description: `Files uploaded for ${agent.name} in the web UI` });
    } catch (failure) {
      if (failure.status !== 409) throw failure;
      [folder] = await api("GET", `v1/folders?name=${enc(name)}`);
    }
    await api("PATCH", `v1/agents/${enc(agent.id)}/folders/attach/${enc(folder.id)}`);
    return folder;
  };

  const track = (index, fields) => setUploads((list) => list.map((u, i) => (i === index ? { ...u, ...fields } : u)));

  const send = async (chosen) => {
    const list = [...chosen];
    if (!list.length) return;
    const start = sent.current;
    sent.current += list.length;
    setUploads((current) => [...current, ...list.map((file) => ({ name: file.name, progress: 0, state: "sending", detail: "" }))]);
    let folder;
    try {
      folder = await folderFor();
    } catch (failure) {
      list.forEach((_, i) => track(start + i, { state: "failed", detail: failure.message }));
      return;
    }
    for (const [i, file] of list.entries()) {
      try {
        const stored = await upload(folder.id, file, (progress) => track(start + i, { progress, state: progress < 1 ? "sending" : "loading" }));
        if (stored.processing_status === "error") track(start + i, { state: "failed", detail: stored.error_message });
        else track(start + i, { state: "done", progress: 1, detail: `${number(stored.total_chunks)} passages in ${folder.name}` });
      } catch (failure) {
        track(start + i, { state: "failed", detail: failure.message });
      }
    }
    setRefresh((n) => n + 1);
    onChanged();
  };

  const onDrop = (event) => {
    event.preventDefault();
    setDragging(false);
    send(event.dataTransfer.files);
  };

  return html`<section class="card" aria-labelledby="sources-title">
    <h2 id="sources-title">Sources</h2>
    <${ErrorText} error=${error} />
    ${folders && !folders.length ? html`<p class="muted">No sources yet. Files you upload go into <code>${agent.name}-files</code>, searched by archival memory.</p>` : null}
    ${(folders || []).map((folder) => html`<div class="source" key=${folder.id}>
      <h3>${folder.name}</h3>
      ${folder.description ? html`<p class="muted">${folder.description}</p>` : null}
      <ul class="files">
        ${(files[folder.id] || []).map((file) => html`<li key=${file.id}><span class="file-name">${file.file_name}</span>
          <span class="muted">${number(file.total_chunks)} passages · ${number(file.file_size)} bytes</span></li>`)}
      </ul>
    </div>`)}
    ${folders && folders.length > 1
      ? html`<label>Upload into <select value=${target || folders[0].id} onChange=${(e) => setTarget(e.currentTarget.value)}>
          ${folders.map((folder) => html`<option value=${folder.id}>${folder.name}</option>`)}</select></label>`
      : null}
    <div class=${`drop${dragging ? " dragging" : ""}`} onDragOver=${(e) => { e.preventDefault(); setDragging(true); }}
      onDragLeave=${() => setDragging(false)} onDrop=${onDrop}>
      <p>Drop files here (text, Markdown, HTML, PDF, DOCX, JSON, CSV) or</p>
      <button type="button" onClick=${() => picker.current.click()}>Choose files…</button>
      <input ref=${picker} type="file" multiple class="visually-hidden" tabindex="-1" aria-label="Files to upload"
        onChange=${(e) => { send(e.currentTarget.files); e.currentTarget.value = ""; }} />
    </div>
    <ul class="uploads" aria-live="polite">
      ${uploads.map((item, i) => html`<li key=${i} class=${`upload ${item.state}`}>
        <span class="file-name">${item.name}</span>
        ${item.state === "sending" || item.state === "loading"
          ? html`<progress max="1" value=${item.progress}></progress>
              <span class="muted">${item.state === "sending" ? `${Math.round(item.progress * 100)}% sent` : "loading into archival memory…"}</span>`
          : html`<span class=${item.state === "failed" ? "error" : "ok"}>${item.state === "failed" ? "✗" : "✓"} ${item.detail}</span>`}
      </li>`)}
    </ul>
  </section>`;
}
