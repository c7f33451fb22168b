// Public surface of @taskwire/cli besides the `taskwire` command: the
// embedded nats-server that `taskwire dev` runs, for tests and benchmarks.
export { NatsServer, findNatsServer, freePort, natsServerVersion, NATS_SERVER_MIN_VERSION, oldNatsServerWarning, versionOlder, type NatsServerOptions } from "./nats-server.js";
export { Jaeger, findJaeger, JAEGER_INSTALL_HINT } from "./jaeger.js";
