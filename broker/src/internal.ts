// For taskwire's own tests; not a public API.
export { CronSchedules } from "./cron.js";
export type { Runs } from "./runs.js";
