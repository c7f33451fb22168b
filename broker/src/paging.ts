import type { ListSchedulesRequest, ListSchedulesResponse, Schedule } from "@taskwire/protocol";
import { BrokerError } from "./errors.js";

/** Schedules per ListSchedules page when the caller does not say. */
const DEFAULT_SCHEDULE_PAGE = 100;

/**
 * One page of schedules sorted by name: those after `page_token` (the last
 * name of the previous page), at most `page_size`.
 */
export function pageSchedules(all: readonly Schedule[], req: ListSchedulesRequest): ListSchedulesResponse {
  if (!Number.isInteger(req.pageSize) || req.pageSize < 0 || req.pageSize > 1000) throw BrokerError.invalid("page_size", `must be 0 (default ${DEFAULT_SCHEDULE_PAGE}) or 1–1000, got ${req.pageSize}`);
  if (req.pageToken.length > 256) throw BrokerError.invalid("page_token", `is ${req.pageToken.length} characters; pass next_page_token from the previous page unchanged`);
  const size = req.pageSize || DEFAULT_SCHEDULE_PAGE;
  const sorted = [...all].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const after = req.pageToken ? sorted.filter((s) => s.name > req.pageToken) : sorted;
  const schedules = after.slice(0, size);
  return { schedules, nextPageToken: after.length > size ? (schedules.at(-1)?.name ?? "") : "" };
}
