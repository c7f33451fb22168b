// The tests' nats-server: the pinned one scripts/setup.sh installs
// (.tools/bin/nats-server, docs/nats-server.md), unless
// TASKWIRE_NATS_SERVER names another. Imported for its effect by the helpers
// that start servers, so a bare `npx mocha FILE` uses the same binary as
// `make test`; child processes (a `taskwire dev` under test) inherit it.
import { existsSync } from "node:fs";
import { resolve } from "node:path";

const pinned = resolve(import.meta.dirname, "../../.tools/bin/nats-server");
if (!process.env.TASKWIRE_NATS_SERVER && existsSync(pinned)) process.env.TASKWIRE_NATS_SERVER = pinned;

/** The binary the tests use when TASKWIRE_NATS_SERVER is unset and setup has run. */
export const PINNED_NATS_SERVER = pinned;
