import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./env.js";

/** A Go tool `make setup` (scripts/install-tools.sh) builds into .tools/bin. */
export function tool(name: "grpcurl" | "jaeger"): string {
  const path = join(REPO, ".tools/bin", name);
  if (!existsSync(path)) throw new Error(`${name} is not installed at ${path}: run \`make setup\` (scripts/install-tools.sh builds it through the Go module proxy)`);
  return path;
}

/** Runs a command; resolves with its exit code and output, never rejects on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== "number") reject(err);
      else resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
