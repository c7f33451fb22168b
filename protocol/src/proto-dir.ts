import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The directory holding `taskwire/v1/*.proto`: TASKWIRE_PROTO_DIR when set,
 * else the copy shipped in this package (`proto/`, next to `src/` and
 * `dist/`), else the repository's `proto/` when running from a checkout.
 * Undefined when none exists.
 */
export function protoDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [process.env.TASKWIRE_PROTO_DIR, join(here, "..", "proto"), join(here, "..", "..", "proto")];
  return candidates.find((d): d is string => !!d && existsSync(join(d, "taskwire", "v1", "taskwire.proto")));
}
