/** Small HTTP helpers for the broker's and workers' HTTP ports. */

export interface JsonAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A JSON API call: `body` is sent as application/json (an object) or as given (a string). */
export async function api<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** One server-sent event. */
export interface Sse {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Reads a text/event-stream until `until(events)` is true, the stream ends
 * or `timeoutMs` passes; returns the events seen (comments skipped).
 */
export async function readSse(url: string, opts: { headers?: Record<string, string>; until?: (events: Sse[]) => boolean; timeoutMs?: number } = {}): Promise<{ status: number; events: Sse[]; ended: boolean; headers: Headers }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 15_000);
  const events: Sse[] = [];
  let ended = false;
  try {
    const res = await fetch(url, { headers: { accept: "text/event-stream", ...opts.headers }, signal: ac.signal });
    if (!res.body || !res.headers.get("content-type")?.startsWith("text/event-stream")) return { status: res.status, events, ended: true, headers: res.headers };
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let cur: Partial<Sse> & { data?: string } = {};
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          ended = true;
          break;
        }
        buf += value;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === "") {
            if (cur.data !== undefined) events.push({ id: cur.id, event: cur.event, data: cur.data });
            cur = {};
          } else if (!line.startsWith(":")) {
            const i = line.indexOf(":");
            const field = i < 0 ? line : line.slice(0, i);
            const v = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
            if (field === "data") cur.data = cur.data === undefined ? v : `${cur.data}\n${v}`;
            else if (field === "id") cur.id = v;
            else if (field === "event") cur.event = v;
          }
        }
        if (opts.until?.(events)) break;
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
    return { status: res.status, events, ended, headers: res.headers };
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

/** A Prometheus text exposition as a list of samples. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ""] = l[2] ?? "";
    out.push({ name: m[1] ?? "", labels, value: Number(m[4]) });
  }
  return out;
}

/** The value of the first sample named `name` whose labels include `labels`; undefined when none. */
export function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

export async function scrape(base: string): Promise<Sample[]> {
  const res = await fetch(`${base}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}
