/** A run's labels as key=value chips; at most `max`, then "+N". */
export function Labels({ labels, max = 3 }: { labels: Record<string, string> | undefined; max?: number }) {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return null;
  const shown = entries.slice(0, max);
  return (
    <span class="labels">
      {shown.map(([k, v]) => (
        <span class="chip" key={k}>
          {k}={v}
        </span>
      ))}
      {entries.length > max ? <span class="chip muted">+{entries.length - max}</span> : null}
    </span>
  );
}
