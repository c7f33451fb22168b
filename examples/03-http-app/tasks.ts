import { NonRetryableError, task } from "@taskwire/client";

/** A slow report; a negative year fails (to show the 500 answer). */
export const buildReport = task("build-report", async (year: number) => {
  if (year < 0) throw new NonRetryableError(`no data for year ${year}`, { type: "NoData" });
  await new Promise((r) => setTimeout(r, 200));
  return { year, total: year * 12 };
});
