// The console: signs in with a key, then routes `#/...` to its pages. Each page gets
// the caller's abilities and an abort signal that ends its live updates on leaving.

import { abilities, api, ApiError, signIn, signOut, token } from "./api.js";
import { clearError, el, showError, shownOwner, visible } from "./ui.js";
import { accountsPage } from "./accounts.js";
import { accountPage } from "./account.js";
import { transfersPage } from "./transfers.js";
import { adminPage } from "./admin.js";

// What tests and benchmarks read (the chart's timing and size).
window.ledgerConsole = { ready: false };

const session = { me: null, can: abilities(null), leaving: null };

// Each asking numbered: an answer for a token since replaced (a sign-in while a
// refused key's was on its way) is dropped, and cannot sign the new one out.
let askings = 0;
async function whoami() {
  const asking = ++askings;
  let me = null;
  try {
    me = await api("/whoami");
  } catch (e) {
    if (asking !== askings) return;
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    // A token the service does not know (mistyped, revoked, a database made anew) is
    // dropped, and the service asked again without it: an open API answers that as
    // the anonymous operator instead of leaving the console signed out for good.
    if (token()) {
      signOut();
      return whoami();
    }
  }
  if (asking !== askings) return;
  session.me = me;
  session.can = abilities(session.me);
  const who = document.getElementById("who");
  who.textContent = visible(!me
    ? "Not signed in"
    : me.actor === "anonymous"
      ? "Open API: no key needed (anonymous operator)"
      : `Signed in as ${me.actor}, ${me.role}${me.owner ? ` of ${shownOwner(me.owner)}` : ""}`);
  // A token that reads as nobody is not kept (nor one an older service, on an open
  // API, read as the anonymous operator).
  if (token() && (!me || me.actor === "anonymous")) signOut();
  document.getElementById("sign-out").hidden = !token();
  document.getElementById("sign-in").hidden = Boolean(token());
  document.querySelector('[data-nav="admin"]').hidden = !session.can.admin;
}

function signInPage(main, note) {
  const input = el("input", {
    id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    "aria-describedby": "token-help",
  });
  const form = el("form", { class: "signin", id: "signin" },
    el("h1", {}, "Sign in"),
    el("label", { for: "token" }, "API key secret or admin token", input),
    el("p", { id: "token-help", class: "muted" },
      "Kept in this tab's session storage only, and sent to this service alone."),
    el("button", { class: "primary", type: "submit" }, "Sign in"),
  );
  if (note) form.append(el("p", { class: "muted" }, note));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearError();
    const secret = input.value.trim();
    // An HTTP header holds visible ASCII only; anything else is no key (and the
    // browser would refuse to send it, as if the service could not be reached).
    if (!/^[\x21-\x7E]+$/.test(secret)) {
      showError("A key's secret or a token is visible ASCII without spaces (API keys start with ledger_sk_).");
      return;
    }
    signIn(secret);
    try {
      await whoami();
    } catch (err) {
      showError(err);
      return;
    }
    // Dropped when the service did not know it (on an open API the console still
    // works without it, as the anonymous operator).
    if (!session.me || !token()) {
      showError("That key is unknown or revoked.");
      return;
    }
    location.hash = "#/accounts";
    route();
  });
  main.replaceChildren(form);
  input.focus();
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/accounts";
  const [path, query = ""] = raw.split("?");
  const decode = (part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  return { parts: path.split("/").filter(Boolean).map(decode), params: new URLSearchParams(query) };
}

async function route() {
  session.leaving?.abort();
  const leaving = new AbortController();
  session.leaving = leaving;
  clearError();
  window.ledgerConsole.ready = false;
  const main = document.getElementById("main");
  const { parts, params } = parseHash();
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", a.dataset.nav === parts[0]);
    if (a.dataset.nav === parts[0]) a.setAttribute("aria-current", "page");
  }
  if (parts[0] === "signin" || !session.me) {
    signInPage(main, session.me ? null : "This service needs a key.");
    return;
  }
  // Nothing of the page before stays up under this one's address, should it fail.
  main.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  const ctx = { me: session.me, can: session.can, params, signal: leaving.signal };
  try {
    if (parts[0] === "accounts" && parts[1]) await accountPage(main, parts[1], ctx);
    else if (parts[0] === "transfers") await transfersPage(main, ctx);
    else if (parts[0] === "admin" && session.can.admin) await adminPage(main, ctx);
    else if (parts[0] === "admin") {
      main.replaceChildren(el("p", {}, "The admin page needs the admin token: ",
        el("a", { href: "#/signin" }, "sign in with it"), "."));
    }
    else await accountsPage(main, ctx);
    if (!leaving.signal.aborted) {
      window.ledgerConsole.ready = true;
      // Screen readers hear that the page changed.
      main.focus({ preventScroll: true });
    }
  } catch (e) {
    if (leaving.signal.aborted) return;
    main.replaceChildren();
    showError(e);
  }
}

document.getElementById("sign-out").addEventListener("click", async () => {
  signOut();
  await whoami().catch(showError);
  location.hash = "#/signin";
  route();
});
window.addEventListener("hashchange", route);
// Live updates refused the key (revoked, or an open API closed by its first key): the
// header says who the service now sees, and offers to sign in.
window.addEventListener("ledger:refused", () => whoami().catch(showError));

whoami().then(route, (e) => {
  showError(e);
  signInPage(document.getElementById("main"));
});
