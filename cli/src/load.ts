import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { isTaskDefinition } from "@taskwire/client";
import type { AnyTask } from "@taskwire/worker";

let tsxRegistered = false;
const requireModule = createRequire(import.meta.url);

/**
 * Imports task modules and collects every exported task definition (named
 * exports, or a default export that is a definition or an array of them).
 * `.ts` files load without a build step through tsx.
 */
export async function loadTaskModules(paths: readonly string[]): Promise<AnyTask[]> {
  if (!tsxRegistered && paths.some((p) => /\.[cm]?tsx?$/.test(p))) {
    // Both loaders: in a CommonJS project a `.ts`/`.cts` module is CommonJS,
    // and without tsx's require hook Node would load it as ES module syntax
    // from inside its own import ("Cannot require() ES Module … in a cycle").
    const [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
    esm.register();
    cjs.register();
    tsxRegistered = true;
  }
  const found = new Map<string, AnyTask>();
  for (const p of paths) {
    const abs = resolve(p);
    if (!existsSync(abs)) throw new Error(`task module ${p} not found (resolved to ${abs})`);
    // `.cts`/`.cjs` are CommonJS by definition: require them (through tsx's
    // require hook for `.cts`); everything else is imported.
    const mod = /\.c[jt]s$/.test(abs) ? { default: requireModule(abs) as unknown } : ((await import(pathToFileURL(abs).href)) as Record<string, unknown>);
    // A CommonJS module's exports arrive as the namespace's `default`.
    const cjsExports = mod.default !== null && typeof mod.default === "object" && !Array.isArray(mod.default) ? Object.values(mod.default as Record<string, unknown>) : [];
    const values = [...Object.values(mod), ...cjsExports].flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [v]));
    for (const v of values) {
      if (isTaskDefinition(v)) found.set(v.taskName, v);
    }
  }
  if (found.size === 0) throw new Error(`no task definitions exported by ${paths.join(", ")}; export tasks made with task() from @taskwire/client`);
  return [...found.values()];
}
