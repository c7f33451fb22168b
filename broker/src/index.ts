export { Broker } from "./server.js";
export { type BrokerConfig, configFromEnv } from "./config.js";
export { BrokerError } from "./errors.js";
export { createLogger } from "./logger.js";
