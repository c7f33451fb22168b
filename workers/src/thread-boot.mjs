// Source-mode bootstrap of a task thread: worker threads do not inherit the
// parent's `--import tsx`, so register tsx here, then load the TypeScript
// entry. (A built worker loads thread-entry.js directly.)
import { register } from "tsx/esm/api";

register();
globalThis.__taskwireTsxRegistered = true;
await import("./thread-entry.ts");
