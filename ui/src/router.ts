import { useEffect, useState } from "preact/hooks";

/** Where the UI is: the hash's path and query, e.g. "#/runs?task=add". */
export interface Route {
  path: string;
  params: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = window.location.hash.replace(/^#/, "") || "/runs";
  const q = hash.indexOf("?");
  return { path: q < 0 ? hash : hash.slice(0, q), params: new URLSearchParams(q < 0 ? "" : hash.slice(q + 1)) };
}

export function href(path: string, params?: URLSearchParams): string {
  const q = params?.toString();
  return `#${path}${q ? `?${q}` : ""}`;
}

/** Changes the route; `replace` keeps the history entry (for filter edits as you type). */
export function navigate(path: string, params?: URLSearchParams, replace = false): void {
  const url = href(path, params);
  if (replace) {
    history.replaceState(null, "", url);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else window.location.hash = url;
}

/** The current route, re-rendered on every hash change. */
export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const on = (): void => setRoute(currentRoute());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}
