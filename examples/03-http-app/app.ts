// Example 3: an HTTP app that enqueues work and answers at once.
//   POST /reports {"year": 2024} → 202 Accepted, Location: /reports/<run id>
//   GET  /reports/<run id>       → 202 {"state": …} while pending or running
//                                  200 {"result": …} when done
//                                  500 {"error": …}  when it failed
//
//   npx tsx examples/03-http-app/app.ts   (with a broker and a worker for tasks.ts)
import { createServer, type Server } from "node:http";
import { Client, isNotFound, isTerminalState, RunState } from "@taskwire/client";
import { buildReport } from "./tasks.js";

export function createApp(client: Client): Server {
  return createServer(async (req, res) => {
    const send = (code: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(code, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
    };
    try {
      if (req.method === "POST" && req.url === "/reports") {
        let body = "";
        for await (const chunk of req) body += String(chunk);
        const { year } = JSON.parse(body || "{}") as { year?: number };
        if (typeof year !== "number") return send(400, { error: "year (a number) is required" });
        const run = await buildReport.using(client).delay(year);
        return send(202, { id: run.id }, { location: `/reports/${run.id}` });
      }
      const m = req.method === "GET" ? /^\/reports\/([0-9a-f-]{36})$/.exec(req.url ?? "") : null;
      if (m?.[1]) {
        const run = await client.getStatus(m[1]);
        if (!isTerminalState(run.state)) return send(202, { state: RunState[run.state] });
        if (run.state === RunState.RUN_STATE_COMPLETED) return send(200, { result: JSON.parse(Buffer.from(run.result?.data ?? []).toString() || "null") });
        return send(500, { state: RunState[run.state], error: run.error });
      }
      send(404, { error: "not found" });
    } catch (err) {
      if (isNotFound(err)) return send(404, { error: "no such report" });
      send(500, { error: err instanceof Error ? err.message : String(err) });
    }
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 3000);
  createApp(new Client()).listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}`));
}
