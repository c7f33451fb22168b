import { useEffect, useState } from "preact/hooks";
import { getToken, setToken } from "./api/client.js";
import { getUiConfig } from "./api/endpoints.js";
import type { UiConfig } from "./api/types.js";
import { filterFromParams, filterToParams } from "./lib/filters.js";
import { AutomationsPage } from "./pages/automations.js";
import { QueuesPage } from "./pages/queues.js";
import { RunPage } from "./pages/run.js";
import { RunsPage } from "./pages/runs.js";
import { SchedulesPage } from "./pages/schedules.js";
import { href, type Route, useRoute } from "./router.js";

const NAV = [
  { path: "/runs", label: "Runs" },
  { path: "/schedules", label: "Schedules" },
  { path: "/automations", label: "Automations" },
  { path: "/queues", label: "Queues & workers" },
];

/** The shell: navigation, the token field, and the page of the current route. */
export function App() {
  const route = useRoute();
  const [config, setConfig] = useState<UiConfig>({});
  // A new token re-mounts the page, so it loads again with it.
  const [tokenVersion, setTokenVersion] = useState(0);
  useEffect(() => {
    void getUiConfig().then(setConfig);
    const on = (): void => setTokenVersion((v) => v + 1);
    window.addEventListener("taskwire-token", on);
    return () => window.removeEventListener("taskwire-token", on);
  }, []);
  useEffect(() => {
    document.title = `${titleOf(route)} · taskwire`;
  }, [route.path]);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href("/runs")}>
          taskwire
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => {
              const current = route.path === n.path || route.path.startsWith(`${n.path}/`);
              return (
                <li key={n.path}>
                  <a href={href(n.path)} aria-current={current ? "page" : undefined}>
                    {n.label}
                  </a>
                </li>
              );
            })}
          </ul>
        </nav>
        <TokenField />
      </header>
      <main id="main" key={tokenVersion}>
        <Page route={route} config={config} />
      </main>
    </>
  );
}

function titleOf(route: Route): string {
  if (route.path.startsWith("/runs/")) return `Run ${route.path.slice(6, 14)}`;
  return NAV.find((n) => n.path === route.path)?.label ?? "Not found";
}

function Page({ route, config }: { route: Route; config: UiConfig }) {
  if (route.path === "/runs" || route.path === "/") {
    const key = filterToParams(filterFromParams(route.params)).toString();
    return <RunsPage key={key} params={route.params} />;
  }
  if (route.path.startsWith("/runs/")) {
    const id = decodeURIComponent(route.path.slice("/runs/".length));
    return <RunPage key={id} id={id} config={config} />;
  }
  if (route.path === "/schedules") return <SchedulesPage />;
  if (route.path === "/automations") return <AutomationsPage />;
  if (route.path === "/queues") return <QueuesPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page at {route.path}. <a href={href("/runs")}>Go to the runs.</a>
      </p>
    </section>
  );
}

/** A bearer token for brokers that want one; kept in sessionStorage (this tab only). */
function TokenField() {
  const [saved, setSaved] = useState(getToken() !== "");
  const [value, setValue] = useState("");
  if (saved) {
    return (
      <div class="token">
        <span class="muted">Token set</span>
        <button
          type="button"
          onClick={() => {
            setToken("");
            setSaved(false);
          }}
        >
          Forget
        </button>
      </div>
    );
  }
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        if (!value) return;
        setToken(value.trim());
        setValue("");
        setSaved(true);
      }}
    >
      <label>
        <span class="sr-only">Bearer token</span>
        <input type="password" value={value} onInput={(e) => setValue(e.currentTarget.value)} placeholder="Token (if the broker wants one)" autoComplete="off" />
      </label>
      <button type="submit">Use</button>
    </form>
  );
}
