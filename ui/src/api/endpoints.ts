import { del, get, post } from "./client.js";
import type { ListRunsResponse, QueueInfo, RunState, Schedule, TaskRun, UiConfig, WorkerInfo } from "./types.js";

/** The server-side filters of ListRuns. */
export interface ListRunsQuery {
  task?: string;
  queue?: string;
  states?: readonly RunState[];
  pageSize?: number;
  pageToken?: string;
}

export function listRuns(q: ListRunsQuery, signal?: AbortSignal): Promise<ListRunsResponse> {
  return get<ListRunsResponse>("/v1/runs", { task: q.task, queue: q.queue, states: q.states, page_size: q.pageSize, page_token: q.pageToken }, signal);
}

export async function getRun(id: string, signal?: AbortSignal): Promise<TaskRun> {
  return (await get<{ run: TaskRun }>(`/v1/runs/${encodeURIComponent(id)}`, undefined, signal)).run;
}

export async function cancelRun(id: string, reason: string): Promise<TaskRun> {
  return (await post<{ run: TaskRun }>(`/v1/runs/${encodeURIComponent(id)}:cancel`, { reason })).run;
}

export async function retryRun(id: string): Promise<TaskRun> {
  return (await post<{ run: TaskRun }>(`/v1/runs/${encodeURIComponent(id)}:retry`, {})).run;
}

/** Every schedule (all pages, 1,000 a call). */
export async function listSchedules(signal?: AbortSignal): Promise<Schedule[]> {
  const out: Schedule[] = [];
  let token = "";
  do {
    const page = await get<{ schedules?: Schedule[]; nextPageToken?: string }>("/v1/schedules", { page_size: 1_000, page_token: token }, signal);
    out.push(...(page.schedules ?? []));
    token = page.nextPageToken ?? "";
  } while (token);
  return out;
}

export async function pauseSchedule(name: string, paused: boolean): Promise<Schedule | undefined> {
  return (await post<{ schedule?: Schedule }>(`/v1/schedules/${encodeURIComponent(name)}:pause`, { paused })).schedule;
}

export async function deleteSchedule(name: string): Promise<void> {
  await del<unknown>(`/v1/schedules/${encodeURIComponent(name)}`);
}

export async function listQueues(signal?: AbortSignal): Promise<QueueInfo[]> {
  return (await get<{ queues?: QueueInfo[] }>("/v1/queues", undefined, signal)).queues ?? [];
}

export async function listWorkers(signal?: AbortSignal): Promise<WorkerInfo[]> {
  return (await get<{ workers?: WorkerInfo[] }>("/v1/workers", undefined, signal)).workers ?? [];
}

/** The UI's settings from the broker; none when the broker has no such route. */
export async function getUiConfig(): Promise<UiConfig> {
  try {
    return await get<UiConfig>("/ui/config.json");
  } catch {
    return {};
  }
}
