// The rows of the results: one figure of taskwire, what it is compared
// with (a ceiling or BullMQ) and the ratio, and the target it is held to;
// rendered as the markdown table the bench prints.
import { type Pcts, round } from "../util.js";

export interface Row {
  section: string;
  metric: string;
  unit: string;
  taskwire?: number;
  /** What the figure is compared with, and its value. */
  peer?: string;
  peerValue?: number;
  ratio?: number;
  target?: string;
  met?: boolean;
}

export class Table {
  readonly rows: Row[] = [];

  /** Adds a row; the ratio taskwire / peer when both are known, figures rounded. */
  row(r: Row): void {
    if (r.ratio === undefined && r.taskwire !== undefined && r.peerValue !== undefined && r.peerValue !== 0) r.ratio = round(r.taskwire / r.peerValue, 3);
    if (r.taskwire !== undefined) r.taskwire = round(r.taskwire);
    if (r.peerValue !== undefined) r.peerValue = round(r.peerValue);
    this.rows.push(r);
  }

  /** One row per percentile (p50, p99, and p999 if asked), each with its peer's and its target. */
  /**
   * Rows for p50, p99 (and p999) of `p`. `targets` are absolute (≤ ms);
   * `ratioTargets` are ≤ ratios to the peer's figure (undecided without a peer).
   */
  latencies(section: string, what: string, p: Pcts, peer?: { name: string; p: Pcts }, targets: { p50?: number; p99?: number; p999?: number } = {}, withP999 = false, ratioTargets: { p50?: number; p99?: number } = {}): void {
    const keys: Array<"p50" | "p99" | "p999"> = withP999 ? ["p50", "p99", "p999"] : ["p50", "p99"];
    for (const k of keys) {
      const t = targets[k];
      const r = k === "p999" ? undefined : ratioTargets[k];
      const peerValue = peer?.p[k];
      this.row({
        section,
        metric: `${what} ${k}`,
        unit: "ms",
        taskwire: p[k],
        peer: peer?.name,
        peerValue,
        target: t !== undefined ? `≤ ${t} ms` : r !== undefined ? `≤ ${r}× ${peer?.name ?? "peer"}` : undefined,
        met: t !== undefined ? p[k] <= t : r !== undefined && peerValue !== undefined ? p[k] <= r * peerValue : undefined,
      });
    }
  }

  render(): string {
    const header = ["section", "metric", "taskwire", "compared with", "value", "ratio", "target", "met"];
    const lines = this.rows.map((r) => [
      r.section,
      r.metric,
      fmt(r.taskwire, r.unit),
      r.peer ?? "",
      fmt(r.peerValue, r.peer ? r.unit : ""),
      r.ratio !== undefined ? `${round(r.ratio, 2)}×` : "",
      r.target ?? "",
      r.met === undefined ? "" : r.met ? "yes" : "NO",
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const fmtLine = (l: string[]): string => `| ${l.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
    return [fmtLine(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(fmtLine)].join("\n");
  }

  /** "targets: N of M met", and which were missed. */
  targetsLine(): string {
    const met = this.rows.filter((r) => r.met !== undefined);
    return `targets: ${met.filter((r) => r.met).length} of ${met.length} met${met.some((r) => !r.met) ? ` — missed: ${met.filter((r) => !r.met).map((r) => r.metric).join("; ")}` : ""}`;
  }
}

function fmt(v: number | undefined, unit = ""): string {
  if (v === undefined || Number.isNaN(v)) return "-";
  const s = Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : String(round(v));
  return unit ? `${s} ${unit}` : s;
}
