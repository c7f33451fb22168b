// The loopback rule as an operator meets it: `taskwire broker` on a
// non-loopback address without TLS and auth exits non-zero, saying what is
// missing and how to fix it, before it binds anything.
import assert from "node:assert/strict";
import { spawnCli } from "../helpers/env.js";

describe("taskwire broker: the loopback rule", function () {
  this.timeout(60_000);

  it("refuses --listen 0.0.0.0:0 without TLS and auth, with a clear message", async function () {
    const p = spawnCli(["broker", "--listen", "0.0.0.0:0", "--nats", "nats://127.0.0.1:1"], { TASKWIRE_HTTP_LISTEN: "off" });
    const code = await p.exited;
    assert.notEqual(code, 0, p.output());
    assert.match(p.output(), /refusing to serve 0\.0\.0\.0:0 without TLS \(--tls-cert\/--tls-key\) and auth .*--insecure \/ TASKWIRE_INSECURE=true/);
  });

  it("refuses a tokens file with an unknown scope, naming the entry", async function () {
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "taskwire-tokens-"));
    try {
      const file = join(dir, "tokens.yaml");
      writeFileSync(file, `"0123456789abcdef0123":\n  name: ci\n  scopes: [runs:submit, runs:write]\n`);
      const p = spawnCli(["broker", "--listen", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1", "--auth-tokens-file", file], { TASKWIRE_HTTP_LISTEN: "off" });
      assert.notEqual(await p.exited, 0);
      assert.match(p.output(), /ci: unknown scope\(s\) "runs:write"; known: runs:submit, runs:read, runs:cancel, schedules:admin, automations:admin, workers/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
