// The bench's wall clock, shared by every process it starts (load
// generators, the taskwire and BullMQ workers, the floor's worker).
//
// Latencies here cross processes: a start taken in one process is compared
// with a time another process stored, and taskwire and BullMQ store theirs
// from `Date.now()` (the system's realtime clock, whole milliseconds). So a
// bench time must be realtime too, with sub-millisecond resolution for the
// sub-millisecond medians. `performance.timeOrigin + performance.now()` is
// not: its origin is realtime read once when the process starts, and from
// there it follows the monotonic clock. Where the two clocks part (a VM
// whose realtime clock is stepped or slewed; measured on a host here at
// 5 ms per second), two processes started a minute apart disagree by
// hundreds of milliseconds, and latencies come out negative.
//
// `wallNow()` follows the monotonic clock for resolution but is kept inside
// the realtime millisecond `Date.now()` reports: when it leaves it, it is
// anchored again at that millisecond's edge, and it never runs backwards.
// Where the clocks agree it is exactly `timeOrigin + now()` shifted by a
// constant under 1 ms; where they part, it is never more than 1 ms from
// realtime.

let anchorWall = Date.now() + 0.5;
let anchorMono = performance.now();
let last = 0;

/** Realtime ms since the epoch with sub-ms resolution, at most 1 ms from `Date.now()`'s clock; comparable across processes. */
export function wallNow(): number {
  const mono = performance.now();
  const wall = Date.now();
  const t = anchorWall + (mono - anchorMono);
  if (t >= wall && t < wall + 1) return (last = Math.max(last, t));
  // Outside realtime's current millisecond: re-anchor at its nearer edge
  // (never below a time already handed out, so it does not run backwards).
  anchorWall = t < wall ? wall : wall + 0.999;
  anchorMono = mono;
  return (last = Math.max(last, anchorWall));
}
