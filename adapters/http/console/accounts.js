// Accounts: search by owner and status, keyset paging, live.

import { api, withQuery } from "./api.js";
import { accountLink, el, redraw, shownOwner, status, table } from "./ui.js";
import { coalesced, onChange } from "./live.js";

const PAGE = 25;

export async function accountsPage(main, { can, params, signal }) {
  const owner = params.get("owner") ?? "";
  const state = params.get("status") ?? "";
  const cursor = params.get("cursor") ?? "";
  // 200 characters, each up to two UTF-16 units (what `maxlength` counts).
  const ownerInput = el("input", { id: "owner", name: "owner", value: owner, maxlength: 400 });
  const statusSelect = el("select", { id: "status", name: "status" },
    ["", "open", "closed"].map((s) => el("option", { value: s, selected: s === state }, s || "any")));
  const form = el("form", { class: "filters", role: "search", "aria-label": "Find accounts" },
    el("label", { for: "owner" }, "Owner", ownerInput),
    el("label", { for: "status" }, "Status", statusSelect),
    el("button", { type: "submit", class: "primary" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    // As typed: owners are compared exactly (" Dana " is not "Dana"); blank is none.
    const typed = ownerInput.value.trim() ? ownerInput.value : "";
    location.hash = "#" + withQuery("/accounts", { owner: typed, status: statusSelect.value });
  });
  const list = el("div", { id: "accounts" });
  main.replaceChildren(el("h1", {}, "Accounts"), form, list);

  const load = coalesced(async () => {
    const page = await api(withQuery("/accounts", { owner, status: state, cursor, limit: PAGE }));
    if (signal.aborted) return;
    const rows = table("Accounts, in the order of their ids", [
      { title: "Account", cell: (a) => accountLink(a.account_id) },
      { title: "Owner", cell: (a) => shownOwner(a.owner), cls: "text" },
      { title: "Currency", cell: (a) => a.currency },
      { title: "Balance", cell: (a) => a.balance, num: true },
      { title: "Available", cell: (a) => a.available, num: true },
      { title: "Status", cell: (a) => status(a.status) },
      { title: "Version", cell: (a) => a.version, num: true },
    ], page.accounts, { "data-rows": page.accounts.length });
    const pager = el("div", { class: "pager" },
      cursor ? el("a", { href: "#" + withQuery("/accounts", { owner, status: state }) }, "First page") : null,
      page.next_cursor
        ? el("a", { href: "#" + withQuery("/accounts", { owner, status: state, cursor: page.next_cursor }) }, "Next page")
        : null);
    redraw(list, rows, pager);
  });
  await load();
  onChange(can, load, signal,
    (t) => t === "AccountOpened" || t === "AccountClosed" || !t.startsWith("Ledger"));
}
