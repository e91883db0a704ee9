// Small shared pieces: the html template tag, formatting, long text, modal dialogs.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);

// Characters as Python (and the store's limits) count them: code points, not UTF-16 units.
export const chars = (text) => {
  let count = 0;
  for (const _ of text || "") count++;
  return count;
};

export const number = (value) => (value ?? 0).toLocaleString("en-US");

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// Text that may be enormous (a 1 MB message): the first part, and the rest on request.
const CLAMP = 4000;
export function LongText({ text, limit = CLAMP, className = "text" }) {
  const [all, setAll] = useState(false);
  const value = text || "";
  if (value.length <= limit || all) return html`<div class=${className}>${value}</div>`;
  return html`<div class=${className}>${value.slice(0, limit)}…</div>
    <button type="button" class="link" onClick=${() => setAll(true)}>Show all ${number(chars(value))} characters</button>`;
}

// A modal <dialog>: Escape and the Cancel button close it, focus returns where it was.
export function Dialog({ title, onClose, children, labelledBy = "dialog-title" }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    const before = document.activeElement;
    dialog.showModal();
    const cancel = (event) => {
      event.preventDefault();
      onClose();
    };
    dialog.addEventListener("cancel", cancel);
    return () => {
      dialog.removeEventListener("cancel", cancel);
      if (dialog.open) dialog.close();
      if (before && before.focus) before.focus();
    };
  }, []);
  return html`<dialog ref=${ref} aria-labelledby=${labelledBy}>
    <h2 id=${labelledBy}>${title}</h2>
    ${children}
  </dialog>`;
}

export function ErrorText({ error }) {
  return error ? html`<p class="error" role="alert">${error}</p>` : null;
}
