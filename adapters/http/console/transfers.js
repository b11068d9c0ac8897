// Transfers: the list (status filter, keyset paging, live) and the post and void
// actions, offered only to a key that may send commands.

import { api, command, decided, idempotencyKey, withQuery } from "./api.js";
import { accountLink, clearError, el, redraw, showError, showNotice, status, table, when } from "./ui.js";
import { coalesced, onChange } from "./live.js";

const PAGE = 25;

// The accounts an owner key sees, asked once each (an account's owner never changes):
// an owner key may post only a transfer from one of them. An answer other than the
// account or 404 (a moment's 429 or 503) is not kept, and offers no Post this time.
const seen = new Map();
function sees(can, id) {
  const key = `${can.owner}\u0000${id}`;
  if (!seen.has(key)) {
    const asked = api(`/accounts/${encodeURIComponent(id)}`).then(() => true, (e) => {
      if (e.status === 404) return false;
      seen.delete(key);
      return false;
    });
    seen.set(key, asked);
  }
  return seen.get(key);
}

// Which of these transfers the key may post: all for a key that sends commands, for
// an owner key those from its own accounts.
export async function postable(transfers, can) {
  if (!can.command) return new Set();
  const pending = transfers.filter((t) => t.status === "pending");
  if (can.owner === null) return new Set(pending.map((t) => t.transfer_id));
  const mine = await Promise.all(pending.map((t) => sees(can, t.from_account_id)));
  return new Set(pending.filter((_, i) => mine[i]).map((t) => t.transfer_id));
}

// The command last sent on a transfer and its key, while its answer did not decide it
// (none, or a 5xx: a 503 may say it may have taken effect). Sent again unchanged, even
// from a row drawn anew since (a live event redraws the list), it goes under the same
// key, so it happens once whatever the first one did.
const undecided = new Map();

// When a command last succeeded: the list is redrawn within milliseconds of its answer,
// so the second click of a double-click would land on a new row's button (the same
// transfer's, posting all that remained, or the next one's, the rows having moved up)
// and move money again under a new key. A single click is always a command (one right
// after a success is a person's next action), and so are the clicks of a double-click
// after a refusal (the retry of a refused command).
let succeeded = -Infinity;
const tooSoon = (e) => e.detail > 1 && performance.now() - succeeded < 5000;

// Post (all that remains, or the amount typed) where `posts` allows, and void, for a
// pending transfer.
export function transferActions(t, can, posts, done) {
  if (t.status !== "pending" || !can.command) return "";
  const id = t.transfer_id;
  const amount = el("input", {
    name: "amount", inputmode: "decimal", size: 8, placeholder: t.remaining, "data-keep": `post-amount ${id}`,
    "aria-label": `Amount to post of transfer ${id} (empty: all that remains)`,
  });
  const run = (what) => async (e) => {
    if (tooSoon(e)) return;
    const button = e.currentTarget;
    button.disabled = true;
    clearError();
    const body = what === "post" && amount.value.trim() ? { amount: amount.value.trim() } : {};
    const path = `/transfers/${encodeURIComponent(id)}/${what}`;
    const sent = `${path} ${JSON.stringify(body)}`;
    if (undecided.get(id)?.sent !== sent) undecided.set(id, { sent, key: idempotencyKey() });
    let after;
    try {
      after = await command(path, body, undecided.get(id).key);
    } catch (err) {
      if (decided(err)) undecided.delete(id);
      showError(err);
      button.disabled = false;
      return;
    }
    undecided.delete(id);
    succeeded = performance.now();
    // Done: in whichever row now shows it (a redraw while the command ran kept what
    // was typed), the box and the button let go of the keyboard, so that another Enter
    // is not another post (of all that remains, were it empty), and the box is emptied
    // if it still holds what was posted (an amount typed meanwhile is the next one).
    for (const box of [amount, ...document.querySelectorAll(`input[data-keep="post-amount ${id}"]`)]) {
      if (box.value.trim() === (body.amount ?? "")) box.value = "";
      box.blur();
    }
    button.blur();
    // What the ledger says now, not what this row showed: another tab or user may have
    // posted meanwhile, and an empty box posts all that remains then.
    const total = `${after.posted_amount} of ${after.amount} ${after.currency} posted in all`;
    const posted = body.amount
      ? `${body.amount} of transfer ${id} posted; ${total}.`
      : `Transfer ${id} posted: all that remained; ${total}.`;
    const outcome = what === "post" ? posted : `Transfer ${id} voided; ${total}.`;
    showNotice(outcome);
    try {
      await done();
    } catch (err) {
      showError(`${outcome} This page could not be brought up to date (${err.message}): reload it.`);
    }
  };
  const postButton = el("button", { type: "button", "data-action": "post", "aria-label": `Post transfer ${id}`, onclick: run("post") }, "Post");
  amount.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !postButton.disabled) postButton.click();
  });
  const post = posts.has(id) && [amount, postButton];
  return el("span", { class: "row" }, post,
    el("button", { type: "button", class: "danger", "data-action": "void", "aria-label": `Void transfer ${id}`, onclick: run("void") }, "Void"));
}

export async function transfersTable(caption, transfers, can, done) {
  const posts = await postable(transfers, can);
  return table(caption, [
    { title: "Transfer", cell: (t) => t.transfer_id },
    { title: "Status", cell: (t) => status(t.status) },
    { title: "From", cell: (t) => accountLink(t.from_account_id) },
    { title: "To", cell: (t) => accountLink(t.to_account_id) },
    { title: "Amount", cell: (t) => `${t.amount} ${t.currency}`, num: true },
    { title: "Posted", cell: (t) => t.posted_amount, num: true },
    { title: "Remaining", cell: (t) => t.remaining, num: true },
    { title: "Expires", cell: (t) => when(t.expires_at) },
    { title: "Actions", cell: (t) => transferActions(t, can, posts, done) },
  ], transfers, { "data-rows": transfers.length });
}

export async function transfersPage(main, { can, params, signal }) {
  const state = params.get("status") ?? "";
  const cursor = params.get("cursor") ?? "";
  const statusSelect = el("select", { id: "transfer-status", name: "status" },
    ["", "pending", "posted", "voided", "expired"].map((s) =>
      el("option", { value: s, selected: s === state }, s || "any")));
  const form = el("form", { class: "filters", "aria-label": "Filter transfers" },
    el("label", { for: "transfer-status" }, "Status", statusSelect),
    el("button", { type: "submit", class: "primary" }, "Show"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = "#" + withQuery("/transfers", { status: statusSelect.value });
  });
  const list = el("div", { id: "transfers" });
  main.replaceChildren(el("h1", {}, "Transfers"), form, list);
  const load = coalesced(async () => {
    const page = await api(withQuery("/transfers", { status: state, cursor, limit: PAGE }));
    if (signal.aborted) return;
    const pager = el("div", { class: "pager" },
      cursor ? el("a", { href: "#" + withQuery("/transfers", { status: state }) }, "First page") : null,
      page.next_cursor
        ? el("a", { href: "#" + withQuery("/transfers", { status: state, cursor: page.next_cursor }) }, "Next page")
        : null);
    const rows = await transfersTable("Transfers, newest first", page.transfers, can, load);
    if (!signal.aborted) redraw(list, rows, pager);
  });
  await load();
  onChange(can, load, signal, (t) => t.startsWith("Transfer") || t.startsWith("Pending"));
}
