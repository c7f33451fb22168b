/** The trace id of a W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>"), or "" when malformed or all zeros. */
export function traceIdOf(traceParent: string | undefined): string {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec((traceParent ?? "").trim().toLowerCase());
  if (!m?.[1] || /^0+$/.test(m[1])) return "";
  return m[1];
}

/** The trace's URL from a template like "http://jaeger:16686/trace/{traceId}"; "" when either is missing. */
export function traceUrl(template: string | undefined, traceParent: string | undefined): string {
  const id = traceIdOf(traceParent);
  if (!template || !id) return "";
  return template.split("{traceId}").join(encodeURIComponent(id));
}
