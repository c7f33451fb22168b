/**
 * Builds the web UI into the broker's `ui-dist/` (or the directory given as
 * the first argument): app.js and app.css bundled and minified by esbuild,
 * and index.html. Everything the page loads is in that directory: no CDN,
 * nothing fetched from the internet at run time.
 */
import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const UI = resolve(fileURLToPath(new URL("..", import.meta.url)));
/** Where the broker serves the UI from (broker/src/http/ui.ts reads it). */
export const DEFAULT_OUT = resolve(UI, "../broker/ui-dist");

export async function buildUi(outDir = DEFAULT_OUT): Promise<{ files: Record<string, number> }> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { app: join(UI, "src/main.tsx") },
    outdir: outDir,
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022"],
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
    logLevel: "warning",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  copyFileSync(join(UI, "src/index.html"), join(outDir, "index.html"));
  const files: Record<string, number> = {};
  for (const f of ["index.html", "app.js", "app.css"]) files[f] = statSync(join(outDir, f)).size;
  return { files };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ? resolve(process.argv[2]) : DEFAULT_OUT;
  const { files } = await buildUi(out);
  const total = Object.values(files).reduce((a, b) => a + b, 0);
  console.log(`ui: built ${out} (${Object.entries(files).map(([f, n]) => `${f} ${(n / 1024).toFixed(1)} KiB`).join(", ")}; ${(total / 1024).toFixed(1)} KiB)`);
}
