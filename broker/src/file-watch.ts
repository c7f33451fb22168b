import { stat, type Stats } from "node:fs";

/** How often watched files (TLS certificates, token files, JWKS files) are checked for changes, in ms. */
export const FILE_CHECK_MS = 1_000;

const signature = (s: Stats | undefined): string => (s ? `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}` : "missing");

/**
 * Calls `onChange` when any of `paths` changes. Polls `stat` (which
 * follows symlinks), because a Kubernetes Secret volume is updated by
 * swapping a symlinked directory: the watched path itself never sees an
 * inotify event, but the file it resolves to changes. Returns a stop
 * function.
 */
export function watchFiles(paths: readonly string[], onChange: () => void, intervalMs = FILE_CHECK_MS): () => void {
  const last = new Map<string, string>();
  let stopped = false;
  const read = (p: string): Promise<string> => new Promise((resolve) => stat(p, (err, s) => resolve(signature(err ? undefined : s))));
  void Promise.all(paths.map(async (p) => last.set(p, await read(p))));
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void Promise.all(paths.map(async (p) => [p, await read(p)] as const))
      .then((now) => {
        let changed = false;
        for (const [p, sig] of now) {
          if (last.get(p) !== sig) changed = true;
          last.set(p, sig);
        }
        if (changed && !stopped) onChange();
      })
      .finally(() => (busy = false));
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
