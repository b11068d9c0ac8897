// For the admin: projections and the relay with their lag, rebuilds, and the latest
// seal with its signature checked by the service.

import { api, ApiError, withQuery } from "./api.js";
import { cards, clearError, el, redraw, showError, status, table, when } from "./ui.js";
import { coalesced } from "./live.js";

const REBUILDABLE = ["current_state", "analytics", "audit_log"];

export async function adminPage(main, { signal }) {
  const projections = el("div", { id: "projections" });
  const notice = el("p", { id: "rebuild-notice", role: "status" });
  const seal = el("div", { id: "seal" });
  const rebuild = (name) => async (e) => {
    e.target.disabled = true;
    try {
      await api(withQuery("/admin/rebuild-projections", { projection: name }), { method: "POST" });
      notice.textContent = `Rebuild of ${name ?? "every projection"} accepted; reads keep the previous view until it is done.`;
      await drawProjections();
    } catch (err) {
      showError(err);
    } finally {
      e.target.disabled = false;
    }
  };
  async function drawProjections() {
    const { projections: all } = await api("/admin/projections");
    if (signal.aborted) return;
    redraw(projections, table("Projections and the relay", [
      { title: "Name", cell: (p) => p.name },
      { title: "State", cell: (p) => status(p.state) },
      { title: "Position", cell: (p) => p.position, num: true },
      { title: "Lag (events)", cell: (p) => p.lag_events, num: true },
      { title: "Last error", cell: (p) => p.last_error ?? "" },
      { title: "Rebuild", cell: (p) => REBUILDABLE.includes(p.name)
          ? el("button", { type: "button", "data-rebuild": p.name, "aria-label": `Rebuild ${p.name}`, onclick: rebuild(p.name) }, "Rebuild")
          : "" },
    ], all));
  }
  async function drawSeal() {
    try {
      const s = await api("/admin/seals/latest");
      seal.replaceChildren(cards([
        ["Signature", status(s.signature), "signature"], ["Sealed", when(s.recorded_at), "recorded_at"],
        ["Events covered", s.events, "events"], ["Up to cursor", s.cursor, "cursor"],
        ["Seal version", s.version, "version"],
      ]), el("p", { class: "muted" }, s.detail),
      el("p", { class: "muted" }, "Digest ", el("code", {}, s.digest), el("br"), "Signed by ", el("code", {}, s.public_key)));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        seal.replaceChildren(el("p", { class: "muted" }, `No seal: ${e.message}. Seals are written when integrity.signing_key is set.`));
      } else throw e;
    }
  }
  main.replaceChildren(el("h1", {}, "Operations"),
    el("section", { "aria-labelledby": "h-proj" }, el("h2", { id: "h-proj" }, "Projections"),
      projections, el("div", { class: "row" },
        el("button", { type: "button", class: "primary", "data-rebuild": "all", onclick: rebuild(undefined) }, "Rebuild every projection")),
      notice),
    el("section", { "aria-labelledby": "h-seal" }, el("h2", { id: "h-seal" }, "Latest seal"), seal));
  await Promise.all([drawProjections(), drawSeal()]);
  // A failing poll is said once, and unsaid when one succeeds again.
  let failing = false;
  const poll = coalesced(async () => {
    try {
      await Promise.all([drawProjections(), drawSeal()]);
      if (failing) clearError();
      failing = false;
    } catch (e) {
      if (!failing) showError(e);
      failing = true;
    }
  });
  const every = setInterval(() => (signal.aborted ? clearInterval(every) : poll()), 2000);
}
