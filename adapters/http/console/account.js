// One account: its state now, the balance over time, time travel (`?version=`), its
// pending transfers with post and void, and its events; all following its live stream.

import { api, withQuery } from "./api.js";
import { cards, clearErrorIf, el, redraw, showError, shownOwner, status, table, when } from "./ui.js";
import { coalesced, follow } from "./live.js";
import { balanceChart } from "./chart.js";
import { transfersTable } from "./transfers.js";

const SHOWN = 100;

async function allEvents(path) {
  const events = [];
  let after = 0;
  for (;;) {
    const page = await api(withQuery(`${path}/events`, { after_version: after, limit: 1000 }));
    events.push(...page.events);
    if (page.events.length < 1000) return events;
    after = page.events[page.events.length - 1].version;
  }
}

function stateCards(a) {
  return cards([
    ["Balance", a.balance, "balance"], ["Available", a.available, "available"],
    ["Pending out", a.pending_out, "pending_out"], ["Pending in", a.pending_in, "pending_in"],
    ["Overdraft limit", a.overdraft_limit, "overdraft_limit"], ["Version", a.version, "version"],
    ["Status", status(a.status), "status"], ["Currency", a.currency, "currency"],
    ["Owner", shownOwner(a.owner), "owner"],
  ]);
}

// What an event says besides its amounts: the other account and which way, the
// transfer, a new limit, a reason or description (shown as text, never as markup).
function detail(type, d = {}) {
  const parts = [];
  const out = type === "TransferDebited" || d.leg === "debit";
  if (d.counterparty) parts.push(`${out ? "to" : "from"} ${d.counterparty}`);
  if (d.transfer_id) parts.push(`transfer ${d.transfer_id}`);
  if (d.overdraft_limit !== undefined) parts.push(`limit ${d.overdraft_limit}`);
  if (d.reason) parts.push(`reason: ${d.reason}`);
  if (d.description) parts.push(`“${d.description}”`);
  return parts.join(", ");
}

function eventsTable(events, shown) {
  const newest = events.slice(-shown).reverse();
  return table(`Events, newest first (${newest.length} of ${events.length})`, [
    { title: "Version", cell: (e) => e.version, num: true },
    { title: "Event", cell: (e) => e.event_type },
    { title: "Amount", cell: (e) => e.data?.amount ?? "", num: true },
    { title: "Balance after", cell: (e) => e.data?.balance ?? "", num: true },
    { title: "Detail", cell: (e) => detail(e.event_type, e.data ?? {}), cls: "text" },
    { title: "Recorded", cell: (e) => when(e.recorded_at) },
    { title: "Actor", cell: (e) => e.metadata?.actor ?? "" },
    { title: "Request id", cell: (e) => e.metadata?.request_id ?? "" },
    { title: "Hash", cell: (e) => el("span", { title: e.hash }, e.hash.slice(0, 16) + "…"), cls: "hash" },
  ], newest, { id: "events-table", "data-rows": events.length });
}

export async function accountPage(main, id, { can, signal }) {
  const path = `/accounts/${encodeURIComponent(id)}`;
  const account = await api(path);
  const started = performance.now();
  const events = await allEvents(path);
  if (signal.aborted) return;
  // The view may trail the events read after it: time travel reaches the last event.
  const newest = events.length ? events[events.length - 1].version : account.version;
  const now = el("div", { id: "state" }, stateCards(account));
  const chartBox = el("div", { id: "chart", role: "img" });
  const range = el("input", { id: "version-range", type: "range", min: 1, max: newest, value: newest, "aria-label": "Version to show" });
  const number = el("input", { id: "version-input", type: "number", min: 1, max: newest, value: newest, "aria-label": "Version number" });
  const asOf = el("div", { id: "as-of", "aria-live": "polite" });
  const pending = el("div", { id: "pending" });
  let pendingShown = SHOWN;
  const morePending = el("button", { type: "button", id: "more-pending", hidden: true,
    onclick: () => { pendingShown += SHOWN; refresh().catch(showError); } }, `Show ${SHOWN} more`);
  const history = el("div", { id: "events" });
  let shown = SHOWN;
  const more = el("button", { type: "button", onclick: () => { shown += SHOWN; drawEvents(); } }, `Show ${SHOWN} older`);
  main.replaceChildren(
    el("h1", {}, `Account ${id} `, status(account.status)),
    el("section", { "aria-labelledby": "h-now" }, el("h2", { id: "h-now" }, "Now"), now),
    el("section", { "aria-labelledby": "h-chart" }, el("h2", { id: "h-chart" }, "Balance over time"), chartBox),
    el("section", { "aria-labelledby": "h-travel" }, el("h2", { id: "h-travel" }, "Time travel"),
      el("div", { class: "travel" }, range, el("label", { for: "version-input" }, "Version", number)), asOf),
    el("section", { "aria-labelledby": "h-pending" }, el("h2", { id: "h-pending" }, "Pending transfers"), pending, morePending),
    el("section", { "aria-labelledby": "h-events" }, el("h2", { id: "h-events" }, "Events"), history, more));

  const chart = balanceChart(chartBox, events, account.currency, account.balance);
  window.ledgerConsole.chart = { points: chart.points(), ms: performance.now() - started, events: events.length };
  signal.addEventListener("abort", () => chart.destroy());

  function drawEvents() {
    history.replaceChildren(eventsTable(events, shown));
    more.hidden = shown >= events.length;
  }
  drawEvents();

  // A version typed with a fraction is taken to the nearest whole one, so the slider,
  // the box and the figures show one version; an error of an earlier travel goes
  // once a later one is shown.
  let asked = 0;
  let failed = null;
  async function travel(version) {
    const v = Math.max(1, Math.min(Math.round(Number(version)) || 1, Number(range.max)));
    range.value = number.value = v;
    const ask = ++asked;
    try {
      const then = await api(withQuery(path, { version: v }));
      if (ask !== asked || signal.aborted) return;
      asOf.replaceChildren(el("p", { class: "muted" }, `As of version ${then.version}, recorded ${when(then.as_of)}:`), stateCards(then));
      clearErrorIf(failed);
      failed = null;
    } catch (e) {
      if (ask !== asked || signal.aborted) return;
      failed = showError(e);
    }
  }
  range.addEventListener("input", () => travel(range.value));
  number.addEventListener("change", () => travel(number.value));
  await travel(newest);

  // Newest first, as many pages as asked for: none left out without saying so.
  async function pendingPages() {
    const listed = [];
    let cursor;
    do {
      const page = await api(withQuery("/transfers", { account_id: id, status: "pending", limit: SHOWN, cursor }));
      listed.push(...page.transfers);
      cursor = page.next_cursor;
    } while (cursor && listed.length < pendingShown);
    return { listed, cursor };
  }
  // The list (a view, which may trail by seconds) agrees with a transfer's own state
  // (folded from its events): listed as it is while pending, gone once it ended. One
  // that cannot be read is not waited for, nor, while more pages are not shown, a
  // pending one missing from those shown (it may be on a later page).
  async function agrees({ listed, cursor }, transferId) {
    const t = await api(`/transfers/${encodeURIComponent(transferId)}`).catch(() => null);
    const row = listed.find((r) => r.transfer_id === transferId);
    if (!t) return true;
    if (t.status !== "pending") return !row;
    return row ? row.posted_amount === t.posted_amount : Boolean(cursor);
  }
  // The transfers live events named since the list was last drawn.
  const named = new Set();
  // Waits (about 20 s at most) for the list to agree with the transfers named since
  // it was drawn: redrawn from a view that had not caught up, it showed a posted
  // transfer's old figures with no event left to redraw it.
  async function drawPending() {
    let waited = [...named];
    named.clear();
    let found = await pendingPages();
    for (let i = 0; i < 60 && !signal.aborted; i++) {
      const ok = await Promise.all(waited.map((t) => agrees(found, t)));
      waited = waited.filter((_, k) => !ok[k]);
      if (waited.length === 0) break;
      await new Promise((r) => setTimeout(r, i < 20 ? 100 : 500));
      found = await pendingPages();
    }
    const { listed, cursor } = found;
    const caption = `This account's pending transfers, newest first (${listed.length}${cursor ? " shown; there are more" : ""})`;
    const rows = await transfersTable(caption, listed, can, refresh);
    if (signal.aborted) return;
    redraw(pending, rows);
    morePending.hidden = !cursor;
  }
  // The account as it is (read from its events when the view trails them), then the
  // list of its pending transfers.
  const refresh = coalesced(async () => {
    const a = await api(path);
    if (!signal.aborted) now.replaceChildren(stateCards(a));
    await drawPending();
  });
  if (account.version < newest) refresh().catch(showError);
  else await drawPending();

  const following = events.length ? events[events.length - 1].version : 0;
  follow(`${path}/events/stream?after_version=${following}`, (e) => {
    if (e.data.version <= events[events.length - 1]?.version) return;
    events.push(e.data);
    chart.append(e.data);
    const follows = Number(range.value) === Number(range.max);
    range.max = number.max = e.data.version;
    // Showing the newest version, it shows the new one: figures and slider agree.
    if (follows) travel(e.data.version);
    window.ledgerConsole.chart.points = chart.points();
    drawEvents();
    if (e.data.data?.transfer_id) named.add(e.data.data.transfer_id);
    refresh().catch(showError);
  }, signal);
}
