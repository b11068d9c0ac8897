// Small DOM helpers: elements, tables, the error banner, formatting.

// Characters that are invisible, blank or reorder the text around them (Unicode's
// default-ignorable code points: bidirectional controls, zero-width characters and
// joiners, fillers, the soft hyphen, variation selectors, tags; and the line and
// paragraph separators): shown as their code points, so that a name holding them
// cannot pass for another ("\u202EecilA" would read "Alice", "Ali\u200Dce" too).
const HIDDEN = /[\p{Default_Ignorable_Code_Point}\u2028\u2029]/gu;

export function visible(text) {
  return String(text).replace(HIDDEN, (c) => `<U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}>`);
}

// An owner as compared: white space at either end shown as code points too, so that
// " Dana " does not pass for "Dana" (the API compares owners exactly as written).
export function shownOwner(text) {
  const code = (c) => `<U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}>`;
  return String(text).replace(/^\s+|\s+$/gu, (run) => [...run].map(code).join(""));
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = visible(v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(visible(c)));
  }
  return node;
}

// `columns`: [{title, cell(row) -> Node|string, num?, cls?}]; a `text` column (an
// owner, a description) is cut to its width, whole in its tooltip, so that one long
// text does not push every row's amounts off the screen.
export function table(caption, columns, rows, attrs = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.num ? "num" : null }, c.title)));
  const cell = (c, r) => {
    const content = c.cell(r);
    const whole = c.cls === "text"
      ? (content instanceof Node ? content.textContent : visible(content))
      : null;
    return el("td", { class: c.num ? "num" : c.cls ?? null, title: whole }, content);
  };
  const body = rows.map((r) => el("tr", {}, columns.map((c) => cell(c, r))));
  const empty = rows.length === 0
    ? el("tr", {}, el("td", { colspan: columns.length, class: "muted" }, "Nothing here."))
    : null;
  return el("div", { class: "table-wrap" },
    el("table", attrs, el("caption", {}, caption), el("thead", {}, head), el("tbody", {}, body, empty)));
}

// What names a control across redraws: an input's `data-keep`, a button's label, a
// link's target and text.
const identity = (node) => node.dataset?.keep ?? node.getAttribute?.("aria-label")
  ?? (node.hasAttribute?.("href") ? `${node.getAttribute("href")} ${node.textContent}` : null);

const markup = (nodes) => nodes.map((n) => (n == null ? "" : n.outerHTML ?? String(n))).join("");

// Replaces `box`'s children with `nodes`, keeping what was typed: an input among the
// new nodes with the `data-keep` of one among the old takes its value, and the focus
// and caret if it had them. A live redraw must not wipe a partial amount (an empty
// box posts all that remains) nor take the keyboard's place: a focused button or link
// is focused again in the new nodes (the one of the same name), and nodes that show
// exactly what is shown leave the box as it is (a poll that found nothing new).
export function redraw(box, ...nodes) {
  if (markup(nodes) === markup([...box.children])) return;
  // Not a control that is running its command (disabled): the one drawn anew in its
  // place would take the next Enter as another command.
  const current = document.activeElement;
  const active = box.contains(current) && !current.disabled ? identity(current) : null;
  const typed = new Map();
  for (const input of box.querySelectorAll("input[data-keep]")) {
    const focused = input === document.activeElement;
    typed.set(input.dataset.keep, { value: input.value, focused, from: input.selectionStart, to: input.selectionEnd });
  }
  box.replaceChildren(...nodes);
  if (active !== null) {
    const again = [...box.querySelectorAll("a[href], button")].find((n) => identity(n) === active);
    again?.focus({ preventScroll: true });
  }
  for (const input of box.querySelectorAll("input[data-keep]")) {
    const was = typed.get(input.dataset.keep);
    if (!was) continue;
    input.value = was.value;
    if (was.focused) {
      input.focus({ preventScroll: true });
      input.setSelectionRange(was.from, was.to);
    }
  }
}

export function cards(pairs) {
  return el("dl", { class: "cards" },
    pairs.map(([term, value, field]) => el("div", {}, el("dt", {}, term), el("dd", { "data-field": field }, value ?? "—"))));
}

// One outcome shown at a time: an error, or a notice that an action succeeded. Each
// showing has a number, which `clearErrorIf` takes.
let showings = 0;
function show(id, text) {
  clearError();
  const box = document.getElementById(id);
  box.textContent = visible(text);
  box.hidden = false;
  showings += 1;
  return showings;
}

// Shows an error; returns its showing, for `clearErrorIf`.
export function showError(e) {
  return show("error", e instanceof Error ? e.message : String(e));
}

export function showNotice(text) {
  show("notice", text);
}

// Clears the banner if it still shows `showing` (nothing was shown since): a page
// takes back its own error once that is past, never another's with the same words.
export function clearErrorIf(showing) {
  if (showing !== null && showing === showings) clearError();
}

export function clearError() {
  for (const id of ["error", "notice"]) {
    const box = document.getElementById(id);
    box.hidden = true;
    box.textContent = "";
  }
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  // With the zone: the API's instants are UTC, the console shows the browser's time.
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { timeZoneName: "short" });
}

export function status(s) {
  return el("span", { class: `status-${s}` }, s);
}

export function link(href, text) {
  return el("a", { href }, text);
}

export function accountLink(id) {
  return link(`#/accounts/${encodeURIComponent(id)}`, id);
}
