// The server's HTTP API as the UI uses it: Letta's v1 routes, memgpt's event stream, uploads with progress.
// Paths are relative to the page, so the UI also works behind a proxy that serves memgpt under a prefix.

const KEY_STORAGE = "memgpt.apiKey";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// The API key is entered once and kept in this browser; without keys on the server, none is needed on loopback.
export const apiKey = {
  get: () => localStorage.getItem(KEY_STORAGE) || "",
  set: (key) => (key ? localStorage.setItem(KEY_STORAGE, key) : localStorage.removeItem(KEY_STORAGE)),
};

let keyNeeded = () => {};
export function onKeyNeeded(callback) {
  keyNeeded = callback;
}

export const enc = encodeURIComponent;
const UNREACHABLE = "The memgpt server cannot be reached: is `memgpt server` still running?";

function headers(json) {
  const out = json ? { "Content-Type": "application/json" } : {};
  out["X-Memgpt-Channel"] = "ui"; // a block edited here is recorded in its history as an edit through the UI
  const key = apiKey.get();
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

function detailOf(body, fallback) {
  const detail = body && body.detail;
  if (typeof detail === "string" && detail) return detail;
  return detail ? JSON.stringify(detail) : fallback;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  const error = new ApiError(response.status, detailOf(body, `The server answered ${response.status}.`));
  if (response.status === 401) keyNeeded(error.message);
  return error;
}

export async function api(method, path, body) {
  let response;
  try {
    const init = { method, headers: headers(body !== undefined) };
    if (body !== undefined) init.body = JSON.stringify(body);
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, UNREACHABLE);
  }
  if (!response.ok) throw await failure(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// Sends one user message and calls onEvent with each of memgpt's agent events as the step runs
// (POST /v1/agents/{id}/messages/events). Resolves at the end of the stream; a failed step arrives as an
// "error" event. Throws ApiError when the message was not accepted (then nothing was stored).
export async function streamEvents(agentId, text, onEvent) {
  let response;
  try {
    response = await fetch(`v1/agents/${enc(agentId)}/messages/events`, {
      method: "POST",
      headers: headers(true),
      body: JSON.stringify({ messages: [{ role: "user", content: text }] }),
    });
  } catch {
    throw new ApiError(0, UNREACHABLE);
  }
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      break;
    }
    if (chunk.done) break;
    buffer += chunk.value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (!data) continue; // a comment or a ping
      if (data === "[DONE]") return;
      onEvent(JSON.parse(data));
    }
  }
  onEvent({
    type: "error",
    content: "The connection closed before the reply ended. The step goes on on the server: reload to see its reply.",
    error: "Disconnected",
  });
}

// Uploads one file into a folder (a memgpt source), reporting the share of bytes sent (0..1); resolves
// with Letta's file object once the server has loaded it into archival memory.
export function upload(folderId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `v1/folders/${enc(folderId)}/upload?duplicate_handling=replace`);
    for (const [name, value] of Object.entries(headers(false))) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.upload.onload = () => onProgress(1);
    request.onerror = () => reject(new ApiError(0, UNREACHABLE));
    request.onload = () => {
      let body = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        // not JSON
      }
      if (request.status >= 200 && request.status < 300) return resolve(body);
      if (request.status === 401) keyNeeded(detailOf(body, "An API key is needed."));
      reject(new ApiError(request.status, detailOf(body, `The server answered ${request.status}.`)));
    };
    const form = new FormData();
    form.append("file", file, file.name);
    request.send(form);
  });
}

// Imports the agents of a Letta agent file (POST /v1/agents/import, multipart as Letta's SDK sends it):
// all of them or none. Resolves with {agent_ids, report} (what was mapped differently, what not at all).
export async function importAgentFile(file, { name = "", withMessages = true } = {}) {
  const form = new FormData();
  form.append("file", file, file.name);
  if (name) form.append("name", name);
  form.append("append_copy_suffix", "false"); // the names in the file, not Letta's "<name>_copy"
  form.append("strip_messages", withMessages ? "false" : "true");
  let response;
  try {
    response = await fetch("v1/agents/import", { method: "POST", headers: headers(false), body: form });
  } catch {
    throw new ApiError(0, UNREACHABLE);
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

// Saves an agent as a Letta agent file (GET /v1/agents/{id}/export) under `fileName` in the browser's
// downloads. The request carries the key, so it is fetched here and handed to the browser as a blob.
export async function downloadAgentFile(agentId, fileName, { withMessages = true, withArchival = false } = {}) {
  const query = `scrub_messages=${!withMessages}&with_archival=${withArchival}`;
  let response;
  try {
    response = await fetch(`v1/agents/${enc(agentId)}/export?${query}`, { headers: headers(false) });
  } catch {
    throw new ApiError(0, UNREACHABLE);
  }
  if (!response.ok) throw await failure(response);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000); // the download has long started by then
  return blob.size;
}
