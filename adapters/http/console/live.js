// Server-Sent Events read with fetch (an EventSource cannot send the key), resumed
// after a cut with `Last-Event-ID`, until the page that opened it goes away.

import { authHeaders } from "./api.js";
import { clearErrorIf, showError } from "./ui.js";

// Said while a stream cannot be (re)connected, and taken back once it is.
const LOST = "Live updates interrupted: the service cannot be reached. Trying again; what changed meanwhile is shown once it answers.";

// Live updates refused: said, and for a key refused (401, 403: revoked) the page is
// emptied, since what the key may no longer read does not stay up, nor its buttons.
function stopped(status, advice) {
  if ([401, 403].includes(status)) {
    document.getElementById("main").replaceChildren();
    window.dispatchEvent(new Event("ledger:refused"));
  }
  showError(`Live updates stopped: the service answered ${status}. ${advice}`);
}

// Calls `onEvent({id, type, data})` for each event of `path` until `signal` aborts, and
// `onOpen()` each time the stream (re)connects: what committed while it was not
// connected arrives through the caller's own refresh, not the stream.
export async function follow(path, onEvent, signal, onOpen = () => {}) {
  let lastId = null;
  let lost = null;
  while (!signal.aborted) {
    // Whether the service could not be reached: no answer, or a gateway's 502 or 504
    // (its own 429 or 503, a bound on streams, is retried without saying so).
    let unreachable = true;
    try {
      const headers = { Accept: "text/event-stream", ...authHeaders() };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      const answer = await fetch(path, { headers, signal });
      unreachable = [502, 504].includes(answer.status);
      // Refused (a revoked key, an account gone from view): asking again will not help.
      if ([401, 403, 404, 422].includes(answer.status)) {
        stopped(answer.status, "Reload to try again.");
        return;
      }
      if (!answer.ok || !answer.body) throw new Error(`stream answered ${answer.status}`);
      clearErrorIf(lost);
      lost = null;
      window.ledgerConsole.streamsOpened = (window.ledgerConsole.streamsOpened ?? 0) + 1;
      onOpen();
      const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = parse(block);
          if (event) {
            lastId = event.id ?? lastId;
            onEvent(event);
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      // A stream that ended is opened again a second later: said only if the
      // service cannot be reached then.
      if (unreachable && lost === null) lost = showError(LOST);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function parse(block) {
  let id = null, type = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = value;
    else if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  try {
    return { id, type, data: JSON.parse(data.join("\n")) };
  } catch {
    return null;
  }
}

// Calls `refresh` when the ledger changes: from the global feed when the key may
// follow it, otherwise every few seconds; `only(type)` picks the event types that matter.
// A refresh that fails for a moment is tried again at the next change; one refused
// (a revoked key) stops the updates and says so, instead of leaving stale rows up.
export function onChange(can, refresh, signal, only = () => true) {
  let timer = null, every = null, refused = false, lost = null;
  const once = coalesced(refresh);
  const run = () => once().then(() => {
    clearErrorIf(lost);
    lost = null;
  }, (e) => {
    if (signal.aborted || refused) return;
    // Polled (no feed to follow): the service gone is said as a stream's loss is.
    if (e.status === 0 && every !== null && lost === null) lost = showError(LOST);
    if (![401, 403].includes(e.status)) return;
    refused = true;
    clearInterval(every);
    stopped(e.status, "Sign in again.");
  });
  const soon = () => {
    if (timer || refused) return;
    timer = setTimeout(() => { timer = null; if (!signal.aborted) run(); }, 150);
  };
  // The views trail the feed (by seconds on a loaded server): drawn again 1 s and 5 s
  // after the last change, so a view that had not caught up is not left on the page.
  let trailing = [];
  const changed = () => {
    soon();
    trailing.forEach(clearTimeout);
    trailing = [1000, 5000].map((ms) => setTimeout(() => { if (!signal.aborted && !refused) run(); }, ms));
  };
  if (can.feed) {
    // A (re)connection is a change too: what committed meanwhile may be in no view yet.
    follow("/events/stream?after=end", (e) => { if (only(e.type)) changed(); }, signal, changed);
  } else {
    every = setInterval(() => (signal.aborted ? clearInterval(every) : run()), 3000);
  }
}

// `run` at most once at a time: calls made while it runs fold into one more run after.
export function coalesced(run) {
  let running = null, again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await run();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}
