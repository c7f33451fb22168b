import { context, task } from "@taskwire/client";

export const sendWelcomeEmail = task("send-welcome-email", async (email: string) => {
  context().log.info(`sending welcome mail to ${email}`);
  return { sent: email };
});

export const provisionAccount = task("provision-account", async (userId: string) => ({ userId, plan: "free" }));

/**
 * The CRM is flaky: the first attempt of every run fails, the retry
 * succeeds. The task's policy retries up to 3 times, 200 ms apart.
 */
export const syncToCrm = task(
  "sync-to-crm",
  async (userId: string) => {
    const { attempt } = context();
    if (attempt === 1) throw Object.assign(new Error("CRM answered 503"), { name: "CrmUnavailable" });
    return { userId, crmId: `crm-${userId}`, attempt };
  },
  { retries: 3, retryDelaysMs: [200] },
);
