import { useEffect, useRef, useState } from "preact/hooks";

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Loads again now. */
  reload(): void;
}

/**
 * Loads with `load` when `deps` change, then every `everyMs` (0: once) while
 * the page is visible; an older answer never overwrites a newer one.
 */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[], everyMs = 0): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loadRef.current(ctl.signal).then(
      (data) => {
        if (!ctl.signal.aborted) setState({ data, error: undefined, loading: false });
      },
      (err: unknown) => {
        if (!ctl.signal.aborted) setState((s) => ({ data: s.data, error: err instanceof Error ? err : new Error(String(err)), loading: false }));
      },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A hidden tab polls nothing; it catches up within a second of being shown.
    const wait = (ms: number): void => {
      timer = setTimeout(() => (document.visibilityState === "visible" ? setTick((t) => t + 1) : wait(1_000)), ms);
    };
    if (everyMs > 0) wait(everyMs);
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [...deps, tick, everyMs]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** The current time, updated every `everyMs` (for "5 s ago" labels). */
export function useNow(everyMs = 1_000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
