// The bench's output: the table on stdout under a line naming the machine,
// the targets met, and the same as JSON in bench/results/ (latest.json or
// latest-quick.json, plus a timestamped copy) with every figure in details.
// A run of some phases only (--only) writes only-<mode>.json instead, so
// latest*.json always hold a whole run.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ListingFigures } from "../phases/listing.js";
import { SUBMIT_BYTES } from "../runs.js";
import { CONC, type Settings } from "../settings.js";
import { BENCH, log, PAYLOAD, round } from "../util.js";
import { type Figures, listingRows, tableOf } from "./rows.js";
import { Table } from "./table.js";

export type Mode = "quick" | "full";

export const RESULTS_DIR = join(BENCH, "results");

/** `only`: the phases run when not all of them were (--only); the JSON then has just their sections. */
export function writeResults(mode: Mode, s: Settings, machine: Record<string, string | number>, started: number, f: Partial<Figures>, only?: string[]): void {
  const t = tableOf(s, f);
  const table = t.render();
  process.stdout.write(`\ntaskwire bench (${mode}), ${machine.nproc} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.natsServer}, ${machine.redis}\n\n${table}\n\n`);
  process.stdout.write(`${t.targetsLine()}\n`);

  // Sections of phases that did not run are undefined, which JSON leaves out.
  const details = { kvCeiling: f.ceilings?.kvCeiling, floor: f.floor, floorE2E: f.floorE2E, submit: f.submit, memory: f.memory, costPerRun: f.costPerRun, e2e: f.e2e, drain: f.drain, languages: f.languages, scale: f.scale, multi: f.multi, listing: f.listing, bullmq: f.bullmq };
  const result = { date: new Date().toISOString(), mode, only, durationS: round((Date.now() - started) / 1000, 1), machine, settings: { ...s, concurrency: CONC, payload: PAYLOAD, submitRequestBytes: SUBMIT_BYTES }, rows: t.rows, details, table };
  const json = JSON.stringify(result, null, 2);
  const latest = only ? `only-${mode}.json` : mode === "quick" ? "latest-quick.json" : "latest.json";
  writeFileSync(join(RESULTS_DIR, latest), json);
  writeFileSync(join(RESULTS_DIR, `${result.date.replace(/[:.]/g, "-")}-${result.mode}${only ? "-only" : ""}.json`), json);
  log(`wrote bench/results/${latest} (${result.durationS} s)`);
}

/** `--listing-only`: the listing phase's rows on stdout, and its figures in bench/results/listing-<mode>.json. */
export function writeListing(mode: Mode, f: ListingFigures): void {
  const t = new Table();
  listingRows(t, f);
  process.stdout.write(`\n${t.render()}\n\n`);
  const json = JSON.stringify({ date: new Date().toISOString(), mode, rows: t.rows, details: f }, null, 2);
  writeFileSync(join(RESULTS_DIR, `listing-${mode}.json`), json);
  log(`wrote bench/results/listing-${mode}.json`);
}
