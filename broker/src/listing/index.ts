import type { NatsHandle } from "@taskwire/core";
import { NatsListingSource } from "./nats-source.js";
import { type ListFilter, type ListPage, listPage, type ScanLimits } from "./scan.js";

export { IndexWriter } from "./index-writer.js";
export { encodeListCursor, parsePageToken, type ListCursor } from "./cursor.js";
export { type IndexEntry, type ListFilter, type ListingSource, type ListPage, listPage, type ScanLimits } from "./scan.js";

/** Listing settings; see docs/configuration.md. */
export const DEFAULT_SCAN_LIMITS: ScanLimits = { scanLimit: 2_000, clockSkewMs: 0 };

/** ListRuns over the run index (scan.ts), on NATS. */
export class Listing {
  readonly #src: NatsListingSource;

  constructor(
    nats: NatsHandle,
    readonly limits: ScanLimits = DEFAULT_SCAN_LIMITS,
  ) {
    this.#src = new NatsListingSource(nats);
  }

  /** One page of the runs of `namespace` matching `f`, newest first, after `token` ("" for the first). */
  page(f: ListFilter, pageSize: number, token: string, namespace: string): Promise<ListPage> {
    return listPage(this.#src, this.limits, namespace, f, pageSize, token);
  }
}
