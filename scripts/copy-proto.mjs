// prepack of @taskwire/protocol: ship proto/ inside the package, so a broker
// installed from npm serves reflection without TASKWIRE_PROTO_DIR.
import { cpSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dest = join(root, "protocol", "proto");
rmSync(dest, { recursive: true, force: true });
cpSync(join(root, "proto", "taskwire"), join(dest, "taskwire"), { recursive: true });
