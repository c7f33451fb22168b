import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, REPO, waitFor } from "../helpers/env.js";

const run = promisify(execFile);
/** The published packages, in dependency order. */
const PACKAGES = ["protocol", "clients/ts", "core", "broker", "workers", "cli"];

/** Task modules a user might write in each kind of project: file name → source. */
const MODULES: Record<"commonjs" | "module", Record<string, string>> = {
  commonjs: {
    "tasks.ts": `import { task, context } from "@taskwire/client";\nexport const addTs = task("add-ts", async (a: number, b: number) => { context().log.info("adding"); return a + b; });\n`,
    "more.cts": `import { task } from "@taskwire/client";\nexport const mulCts = task("mul-cts", async (a: number, b: number) => a * b);\n`,
    "plain.js": `const { task } = require("@taskwire/client");\nexports.subJs = task("sub-js", async (a, b) => a - b);\n`,
  },
  module: {
    "tasks.ts": `import { task } from "@taskwire/client";\nexport const addTs = task("add-ts", async (a: number, b: number) => a + b);\n`,
    "more.mts": `import { task } from "@taskwire/client";\nexport const mulMts = task("mul-mts", async (a: number, b: number) => a * b);\n`,
    "plain.js": `import { task } from "@taskwire/client";\nexport const subJs = task("sub-js", async (a, b) => a - b);\n`,
  },
};
const EXPECTED: Record<string, [number[], number]> = { "add-ts": [[2, 3], 5], "mul-cts": [[4, 5], 20], "mul-mts": [[4, 5], 20], "sub-js": [[9, 4], 5] };

/**
 * The packages as a user gets them: each workspace packed with `npm pack`,
 * the tarballs installed into fresh CommonJS and ESM projects made with
 * `npm init -y`, and tasks served and run there through the installed CLI.
 */
describe("published packages, installed into a fresh project", function () {
  this.timeout(240_000);
  let dir: string;
  let tarballs: string[];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "taskwire-pack-"));
    await run("npm", ["run", "--silent", "build"], { cwd: REPO });
    const packs = join(dir, "packs");
    mkdirSync(packs);
    for (const p of PACKAGES) await run("npm", ["pack", "--silent", "--pack-destination", packs], { cwd: join(REPO, p) });
    tarballs = readdirSync(packs).map((f) => join(packs, f));
    assert.equal(tarballs.length, PACKAGES.length);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const kind of ["commonjs", "module"] as const) {
    it(`serves and runs .ts/${kind === "commonjs" ? ".cts" : ".mts"}/.js task modules in a ${kind === "commonjs" ? "CommonJS (the npm default)" : "\"type\": \"module\""} project`, async () => {
      const proj = join(dir, kind);
      mkdirSync(proj);
      await run("npm", ["init", "-y"], { cwd: proj });
      if (kind === "module") await run("npm", ["pkg", "set", "type=module"], { cwd: proj });
      await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline", ...tarballs], { cwd: proj });
      for (const [file, src] of Object.entries(MODULES[kind])) writeFileSync(join(proj, file), src);

      const [port, natsPort] = [await freePort(), await freePort()];
      const address = `127.0.0.1:${port}`;
      const bin = join(proj, "node_modules", ".bin", "taskwire");
      const dev = spawn(bin, ["dev", "--worker", ...Object.keys(MODULES[kind]).map((f) => `./${f}`), "--listen", address, "--nats-port", String(natsPort), "--data-dir", join(proj, ".taskwire")], {
        cwd: proj,
        env: { ...process.env, TASKWIRE_LOG_LEVEL: "warn" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      dev.stdout.on("data", (d: Buffer) => (out += d.toString()));
      dev.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const exited = new Promise((r) => dev.once("exit", r));
      try {
        await waitFor(() => out.includes("taskwire dev is running") || dev.exitCode !== null, "taskwire dev to start", 60_000);
        assert.match(out, /taskwire dev is running/, out);
        for (const [taskName, [args, want]] of Object.entries(EXPECTED)) {
          if (!out.includes(taskName)) continue; // this project's modules do not define it
          const { stdout } = await run(bin, ["submit", taskName, "--args", JSON.stringify(args), "--wait", "--json"], { cwd: proj, env: { ...process.env, TASKWIRE_ADDRESS: address } });
          const rec = JSON.parse(stdout) as { state: string; result: unknown };
          assert.equal(rec.state, "RUN_STATE_COMPLETED", stdout);
          assert.equal(rec.result, want);
        }
        const served = Object.keys(EXPECTED).filter((t) => out.includes(t));
        assert.equal(served.length, 3, `expected three tasks served, got ${served.join(", ")}\n${out}`);
        // proto/ ships in @taskwire/protocol: reflection is on without TASKWIRE_PROTO_DIR.
        assert.doesNotMatch(out, /proto\/ not found/);
      } finally {
        dev.kill("SIGTERM");
        await exited;
      }
    });
  }
});
