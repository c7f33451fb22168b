import { pino, type Logger } from "pino";

export function createLogger(name: string, level = process.env.TASKWIRE_LOG_LEVEL || "info"): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
export type { Logger };
