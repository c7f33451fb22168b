import { readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

/**
 * The web UI's files, built by `make build` (ui/scripts/build.ts) into
 * broker/ui-dist/, beside src/ and dist/, so the same path works from the
 * sources and from the published package (which ships ui-dist).
 */
export const UI_DIR = fileURLToPath(new URL("../../ui-dist/", import.meta.url));

export interface UiOptions {
  /** Directory of index.html, app.js and app.css. @default UI_DIR */
  dir?: string;
  /** Trace URL template with `{traceId}` (TASKWIRE_UI_TRACE_URL), served in /ui/config.json. @default none */
  traceUrl?: string;
}

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** Scripts and styles from this origin only; the page talks to this origin only. */
const CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

function asset(body: Buffer, type: string): Asset {
  return { type, body, gzip: gzipSync(body), etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
}

/** Reads the built files once; a file name is served only if it is in the directory (no path is ever joined from the URL). */
function loadAssets(dir: string): Map<string, Asset> | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const assets = new Map<string, Asset>();
  for (const name of names) {
    const ext = name.slice(name.lastIndexOf("."));
    const type = TYPES[ext];
    if (type && /^[\w.-]+$/.test(name)) assets.set(name, asset(readFileSync(`${dir}/${name}`), type));
  }
  return assets.has("index.html") ? assets : undefined;
}

function send(req: IncomingMessage, res: ServerResponse, a: Asset, cache: string): void {
  const headers: Record<string, string> = {
    "content-type": a.type,
    "cache-control": cache,
    etag: a.etag,
    vary: "accept-encoding",
    "x-content-type-options": "nosniff",
    "content-security-policy": CSP,
    "referrer-policy": "same-origin",
  };
  if (req.headers["if-none-match"] === a.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  const body = gzip ? a.gzip : a.body;
  if (gzip) headers["content-encoding"] = "gzip";
  headers["content-length"] = String(body.length);
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * Serves the UI under `/ui/` (index.html, its bundle, and `/ui/config.json`
 * with the settings the page needs) and redirects `/` there. Returns false
 * for every other path, so the API's handlers get them. The UI's files are
 * public (they hold no data); the data comes from the API, with its auth.
 */
export function uiHandler(opts: UiOptions = {}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const dir = opts.dir ?? UI_DIR;
  let assets: Map<string, Asset> | undefined;
  const config = asset(Buffer.from(JSON.stringify({ traceUrl: opts.traceUrl ?? "" })), TYPES[".json"] ?? "application/json");
  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    if (path !== "/" && path !== "/ui" && !path.startsWith("/ui/")) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "application/json" });
      res.end(JSON.stringify({ code: 12, message: `${path} answers GET only` }));
      return true;
    }
    if (path === "/" || path === "/ui") {
      res.writeHead(302, { location: "/ui/" });
      res.end();
      return true;
    }
    const name = path.slice("/ui/".length) || "index.html";
    if (name === "config.json") {
      send(req, res, config, "no-store");
      return true;
    }
    assets ??= loadAssets(dir);
    if (!assets) {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end(`The web UI is not built (no ${dir}index.html): run \`make build\` (or \`npm run -w @taskwire/ui build\`).\n`);
      return true;
    }
    const a = assets.get(name);
    if (!a) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found\n");
      return true;
    }
    // Not content-hashed names: revalidate every time (a 304 costs one round trip).
    send(req, res, a, "no-cache");
    return true;
  };
}
