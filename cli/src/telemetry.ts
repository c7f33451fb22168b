/**
 * Starts the OpenTelemetry SDK when the standard OTEL_* variables ask for
 * an exporter (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). Otherwise nothing is loaded and the
 * tracing API stays a no-op, so the cost is near zero.
 */
export async function startTelemetry(serviceName: string): Promise<() => Promise<void>> {
  const env = process.env;
  const wanted =
    env.OTEL_SDK_DISABLED !== "true" &&
    ((env.OTEL_TRACES_EXPORTER && env.OTEL_TRACES_EXPORTER !== "none") || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (!wanted) return async () => {};
  env.OTEL_SERVICE_NAME ??= serviceName;
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const sdk = new NodeSDK({ instrumentations: [] });
  sdk.start();
  return () => sdk.shutdown();
}
