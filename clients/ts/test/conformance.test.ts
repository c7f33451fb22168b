// The TypeScript runner of proto/conformance/scenarios.json. Against
// TASKWIRE_ADDRESS when set; otherwise it starts its own nats-server, broker
// and conformance worker.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@taskwire/client";
import type { Broker } from "@taskwire/broker";
import type { Worker } from "@taskwire/worker";
import * as cfTasks from "@taskwire/examples/conformance/tasks.js";
import { REPO, startBroker, startNats, startWorker } from "@taskwire/tests/helpers/env.js";
import { makeCerts } from "@taskwire/tests/helpers/certs.js";
import { loadScenarios, play } from "@taskwire/tests/helpers/scenarios.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const file = { scenarios: loadScenarios() };
const TOKENS_FILE = join(REPO, "proto/conformance/tokens.json");
/** Token name (tokens.json) → token; "(none)" sends none, "(unknown)" one the broker does not know. */
const tokens = new Map<string, string | undefined>([
  ...Object.entries(JSON.parse(readFileSync(TOKENS_FILE, "utf8")) as Record<string, { name: string }>).map(([t, e]) => [e.name, t] as [string, string]),
  ["(none)", undefined],
  ["(unknown)", "cf-unknown-token-0123456789abcdef"],
]);

describe("conformance (TypeScript runner)", function () {
  let client: Client;
  let authAddress: string | undefined;
  /** The auth broker serves mTLS: ca.crt, client.crt and client.key in this directory (TASKWIRE_AUTH_TLS_DIR). */
  let tlsDir: string | undefined;
  let localCerts: string | undefined;
  const authClients = new Map<string, Client>();
  let local: { nats: Awaited<ReturnType<typeof startNats>>; broker: Broker; authBroker: Broker; worker: Worker } | undefined;

  before(async function () {
    let address = process.env.TASKWIRE_ADDRESS;
    authAddress = process.env.TASKWIRE_AUTH_ADDRESS;
    tlsDir = process.env.TASKWIRE_AUTH_TLS_DIR;
    if (!address) {
      const nats = await startNats();
      const broker = await startBroker(nats.url);
      // The auth scenarios' broker: the same NATS, mTLS, static tokens from proto/conformance/tokens.json.
      localCerts = mkdtempSync(join(tmpdir(), "taskwire-cf-tls-"));
      const c = await makeCerts(localCerts, "conformance");
      tlsDir = localCerts;
      const authBroker = await startBroker(nats.url, { authTokensFile: TOKENS_FILE, tlsCert: c.serverCert, tlsKey: c.serverKey, tlsClientCa: c.ca });
      const worker = await startWorker(nats.url, Object.values(cfTasks));
      local = { nats, broker, authBroker, worker };
      address = broker.address;
      authAddress = `localhost:${authBroker.port}`;
    }
    client = new Client({ address });
  });
  after(async function () {
    client?.close();
    for (const c of authClients.values()) c.close();
    if (local) {
      await local.worker.stop();
      await local.authBroker.stop();
      await local.broker.stop();
      await local.nats.cleanup();
    }
    if (localCerts) rmSync(localCerts, { recursive: true, force: true });
  });

  /** The client of a token name on the auth broker (no retries: errors are what these scenarios check). */
  const authClient = (name: string | undefined): Client => {
    const key = name ?? "(none)";
    if (!tokens.has(key)) assert.fail(`unknown token name ${key} (proto/conformance/tokens.json)`);
    let c = authClients.get(key);
    if (!c) {
      const tls = tlsDir ? { ca: join(tlsDir, "ca.crt"), cert: join(tlsDir, "client.crt"), key: join(tlsDir, "client.key") } : undefined;
      c = new Client({ address: authAddress, token: tokens.get(key) ?? "", callRetry: false, tls });
      authClients.set(key, c);
    }
    return c;
  };

  for (const s of file.scenarios) {
    it(s.name, async function () {
      if (s.broker === "auth") {
        if (!authAddress) this.skip(); // TASKWIRE_ADDRESS without TASKWIRE_AUTH_ADDRESS: an open broker only
        await play(authClient, s);
      } else {
        await play(() => client, s);
      }
    });
  }
});
