// The API as the console calls it: the signed-in key (session storage of this tab
// only), JSON in and out, problems (RFC 9457) turned into errors whose message is the
// problem's `detail`.

const TOKEN = "ledger.console.token";

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function signIn(secret) {
  sessionStorage.setItem(TOKEN, secret);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `the service answered ${status}`);
    this.status = status;
    this.code = problem?.code;
  }
}

export function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// One call; `body` is sent as JSON. Resolves to the parsed answer (null for 204).
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const h = { Accept: "application/json", ...authHeaders(), ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  let answer;
  try {
    answer = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { detail: "the service cannot be reached" });
  }
  const text = await answer.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { detail: text.slice(0, 200) };
  }
  if (!answer.ok) throw new ApiError(answer.status, json);
  return json;
}

// A fresh Idempotency-Key: a command sent again under it happens once.
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function command(path, body, key = idempotencyKey()) {
  return api(path, { method: "POST", body, headers: { "Idempotency-Key": key } });
}

// Whether an answer decided a command: a 4xx did (refused, nothing written), but not
// 408 or 429 (not carried out yet); no answer, a 5xx or a timeout's 503 did not (it
// may have taken effect).
export function decided(e) {
  return e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429;
}

// Builds `path?k=v&...`, leaving out empty values.
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// What the signed-in key may do, from `GET /whoami`.
export function abilities(me) {
  const role = me?.role;
  return {
    command: role === "admin" || role === "operator" || role === "owner",
    feed: role === "admin" || role === "operator" || role === "reader",
    admin: role === "admin",
    // An owner key posts only transfers from its own accounts (voids either side's).
    owner: role === "owner" ? me.owner : null,
  };
}
