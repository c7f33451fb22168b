import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { existsSync } from "node:fs";
import { isTaskDefinition } from "@taskwire/client";
import type { AnyTask } from "@taskwire/worker";

let tsxRegistered = false;

/**
 * Imports task modules and collects every exported task definition (named
 * exports, or a default export that is a definition or an array of them).
 * `.ts` files load without a build step through tsx.
 */
export async function loadTaskModules(paths: readonly string[]): Promise<AnyTask[]> {
  if (!tsxRegistered && paths.some((p) => /\.[cm]?tsx?$/.test(p))) {
    const { register } = await import("tsx/esm/api");
    register();
    tsxRegistered = true;
  }
  const found = new Map<string, AnyTask>();
  for (const p of paths) {
    const abs = resolve(p);
    if (!existsSync(abs)) throw new Error(`task module ${p} not found (resolved to ${abs})`);
    const mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
    const values = Object.values(mod).flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [v]));
    for (const v of values) {
      if (isTaskDefinition(v)) found.set(v.taskName, v);
    }
  }
  if (found.size === 0) throw new Error(`no task definitions exported by ${paths.join(", ")}; export tasks made with task() from @taskwire/client`);
  return [...found.values()];
}
