// Example 4: a sign-up endpoint that fans out three tasks per new user. The
// user id is the idempotency key, so a retried sign-up request never sends
// two welcome mails.
//
//   POST /signup {"userId": "u42", "email": "ada@example.com"} → 202 {"runs": {...}}
import { createServer, type Server } from "node:http";
import type { Client } from "@taskwire/client";
import { provisionAccount, sendWelcomeEmail, syncToCrm } from "./tasks.js";

export async function signUp(client: Client, userId: string, email: string) {
  const key = `signup-${userId}`;
  const [mail, account, crm] = await Promise.all([
    sendWelcomeEmail.using(client).applyAsync([email], { idempotencyKey: key }),
    provisionAccount.using(client).applyAsync([userId], { idempotencyKey: key }),
    syncToCrm.using(client).applyAsync([userId], { idempotencyKey: key }),
  ]);
  return { mail, account, crm };
}

export function createApp(client: Client): Server {
  return createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += String(chunk);
    const { userId, email } = JSON.parse(body || "{}") as { userId?: string; email?: string };
    if (req.method !== "POST" || req.url !== "/signup" || !userId || !email) {
      res.writeHead(400).end(JSON.stringify({ error: "POST /signup with userId and email" }));
      return;
    }
    const runs = await signUp(client, userId, email);
    res.writeHead(202, { "content-type": "application/json" }).end(
      JSON.stringify({ runs: { email: runs.mail.id, account: runs.account.id, crm: runs.crm.id } }),
    );
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { Client } = await import("@taskwire/client");
  createApp(new Client()).listen(Number(process.env.PORT ?? 3001), "127.0.0.1");
}
