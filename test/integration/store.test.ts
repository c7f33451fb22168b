// RunStore.transition: the write on a known copy (no read), the decision
// taken again on the leader's copy when that write loses, and failures as
// rejections.
import assert from "node:assert/strict";
import { ensureResources, NatsHandle, RunStore } from "@taskwire/core";
import { newRun, type Step, SubmitOptions, type TaskRun } from "@taskwire/protocol";
import { startNats, uniq } from "../helpers/env.js";

describe("RunStore.transition (compare-and-set lifecycle writes)", function () {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let h: NatsHandle;
  let store: RunStore;

  before(async function () {
    nats = await startNats();
    h = await NatsHandle.connect({ servers: nats.url });
    const { runs } = await ensureResources(h);
    store = new RunStore(runs, h.wire);
  });
  after(async function () {
    await h?.close();
    await nats?.cleanup();
  });

  /** A new PENDING run's record, created; returns it with its revision. */
  async function created(): Promise<{ run: TaskRun; revision: number }> {
    const id = `0190f0c8-0000-7000-8000-${uniq().replace(/[^0-9a-f]/g, "").padEnd(12, "0").slice(0, 12)}`;
    const step = newRun({ id, task: "store.test", queue: "default", args: { contentType: "application/json", data: Buffer.from("[]") }, options: SubmitOptions.fromPartial({}), dueAt: 0, cached: undefined, namespace: "default" }, new Date());
    const run = step.write as TaskRun;
    const revision = await store.create(run);
    assert.ok(revision !== undefined);
    return { run: { ...run, revision }, revision };
  }

  /** A decision that names the worker `to` on whatever record it is shown, and counts its calls. */
  function rename(to: string): { decide: (r: TaskRun) => Step; seen: number[] } {
    const seen: number[] = [];
    return { seen, decide: (r) => (seen.push(r.revision), { write: { ...r, workerId: to }, effects: [] }) };
  }

  it("writes against a known copy without reading it, and hands back the record at its new revision", async function () {
    const known = await created();
    const d = rename("w1");
    const out = await store.transition(known.run.id, d.decide, known);
    assert.ok(out?.written);
    assert.deepEqual(d.seen, [known.revision]);
    assert.ok(out.stored.revision > known.revision);
    assert.equal(out.stored.run.revision, out.stored.revision);
    const read = await store.get(known.run.id, { leader: true });
    assert.equal(read?.revision, out.stored.revision);
    assert.equal(read?.run.workerId, "w1");
  });

  it("decides again on the leader's copy when another write came after the known copy", async function () {
    const known = await created();
    const other = await store.transition(known.run.id, rename("other").decide, known);
    assert.ok(other?.written);
    const d = rename("late");
    // `known` is stale now: the first compare-and-set loses, the second is decided on `other`'s record.
    const out = await store.transition(known.run.id, d.decide, known);
    assert.ok(out?.written);
    assert.deepEqual(d.seen, [known.revision, other.stored.revision]);
    assert.ok(out.stored.revision > other.stored.revision);
    assert.equal((await store.get(known.run.id, { leader: true }))?.run.workerId, "late");
  });

  it("rejects (never throws) when the decision throws, and resolves undefined for a record that does not exist", async function () {
    const known = await created();
    const failing = store.transition(known.run.id, () => {
      throw new Error("no such transition");
    }, known);
    assert.ok(failing instanceof Promise);
    await assert.rejects(failing, /no such transition/);
    assert.equal(await store.transition("0190f0c8-0000-7000-8000-ffffffffffff", rename("x").decide), undefined);
  });
});
