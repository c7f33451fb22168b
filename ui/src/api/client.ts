/**
 * Calls to the broker's JSON API (same origin). The bearer token, when the
 * user gave one, lives in sessionStorage: it is sent on every call and
 * forgotten when the tab closes.
 */

const TOKEN_KEY = "taskwire.token";

export function getToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function setToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event("taskwire-token"));
}

/** An error answer of the API: `{code, message}` with an HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The API wants (other) credentials. */
  get isAuth(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Turns a failed Response into an ApiError, reading `{code, message}` when the body has it. */
export async function errorOf(res: Response): Promise<ApiError> {
  let code = String(res.status);
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { code?: unknown; message?: unknown };
    if (body.code !== undefined) code = String(body.code);
    if (typeof body.message === "string" && body.message) message = body.message;
  } catch {
    // Not JSON (e.g. a proxy's error page): keep the status text.
  }
  return new ApiError(res.status, code, message);
}

/** Query parameters; undefined, empty strings and empty lists are left out, lists are comma-joined. */
export type Query = Record<string, string | number | readonly string[] | undefined>;

export function queryString(query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === "") continue;
    if (typeof v === "object") {
      if (v.length > 0) q.set(k, v.join(","));
    } else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

async function call<T>(method: string, path: string, query?: Query, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...authHeaders() };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path + queryString(query), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  if (!res.ok) throw await errorOf(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

export function get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
  return call<T>("GET", path, query, undefined, signal);
}

export function post<T>(path: string, body: unknown = {}): Promise<T> {
  return call<T>("POST", path, undefined, body);
}

export function del<T>(path: string): Promise<T> {
  return call<T>("DELETE", path);
}
