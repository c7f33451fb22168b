import assert from "node:assert/strict";
import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@taskwire/client";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { findNatsServer } from "@taskwire/cli";
import { NatsCluster } from "../helpers/cluster.js";
import { freePort, REPO, waitFor } from "../helpers/env.js";
import {
  CHART,
  cleanupHelmHome,
  container,
  dataOf,
  deployment,
  find,
  helm,
  localArgv,
  type Manifest,
  podEnv,
  render,
  renderNotes,
  requireHelm,
  schemaErrors,
  unknownFieldErrors,
} from "./chart.js";

const CI_VALUES = readdirSync(join(CHART, "ci"))
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => `ci/${f}`);

/** Names the chart gives with release "tw". */
const BROKER = "tw-taskwire-broker";
const SHARED = "tw-taskwire";
const worker = (name: string): string => `tw-taskwire-worker-${name}`;

function podSpec(m: Manifest): IPodSpec {
  const spec = (m as { spec?: { template?: { spec?: IPodSpec } } }).spec?.template?.spec;
  if (!spec) throw new Error(`${m.kind} ${m.metadata.name} has no pod template`);
  return spec;
}

/** What every pod of the chart must be: non-root, read-only root, no capabilities, /tmp an emptyDir. */
function assertHardened(m: Manifest): void {
  const spec = podSpec(m);
  const where = `${m.kind} ${m.metadata.name}`;
  assert.equal(spec.securityContext?.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
  for (const c of spec.containers) {
    const sc = c.securityContext;
    assert.equal(sc?.readOnlyRootFilesystem, true, `${where}/${c.name}: readOnlyRootFilesystem`);
    assert.equal(sc?.allowPrivilegeEscalation, false, `${where}/${c.name}: allowPrivilegeEscalation`);
    assert.deepEqual(sc?.capabilities?.drop, ["ALL"], `${where}/${c.name}: drop all capabilities`);
    if (m.kind === "Deployment") {
      const tmp = c.volumeMounts?.find((v) => v.mountPath === "/tmp");
      assert.ok(tmp, `${where}/${c.name}: /tmp is mounted`);
      assert.ok(spec.volumes?.find((v) => v.name === tmp.name)?.emptyDir, `${where}: /tmp is an emptyDir`);
    }
  }
}

function envNames(c: IContainer): string[] {
  return (c.env ?? []).map((e) => e.name);
}

/** TASKWIRE_* variables docs/configuration.md lists for the broker, the NATS connection and the worker. */
function documentedProcessSettings(): string[] {
  const doc = readFileSync(join(REPO, "docs/configuration.md"), "utf8");
  const start = doc.indexOf("## Broker");
  const end = doc.indexOf("## Clients");
  assert.ok(start >= 0 && end > start, "docs/configuration.md has the sections ## Broker … ## Clients");
  return [...new Set(doc.slice(start, end).match(/TASKWIRE_[A-Z0-9_]+/g) ?? [])].sort();
}

describe("Helm chart deploy/helm/taskwire", function () {
  before(async function () {
    await requireHelm();
  });

  after(function () {
    cleanupHelmHome();
  });

  it("passes helm lint --strict with its defaults and with every ci values file", async function () {
    for (const values of [[], ...CI_VALUES.map((f) => ["-f", join(CHART, f)])]) {
      const r = await helm(["lint", "--strict", CHART, ...values]);
      assert.equal(r.code, 0, `helm lint --strict ${values.join(" ")}:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  for (const file of ["(defaults)", ...CI_VALUES]) {
    it(`renders ${file} into manifests that the Kubernetes schemas accept, without unknown fields`, async function () {
      const manifests = await render(file === "(defaults)" ? [] : [file]);
      assert.ok(manifests.length >= 6, `only ${manifests.length} manifests`);
      assert.deepEqual(schemaErrors(manifests), []);
      assert.deepEqual(unknownFieldErrors(manifests), []);
      for (const m of manifests.filter((x) => x.kind === "Deployment" || x.kind === "StatefulSet")) assertHardened(m);
      // Each name once per kind; every object labelled as this release's.
      const names = manifests.map((m) => `${m.kind}/${m.metadata.name}`);
      assert.equal(new Set(names).size, names.length, `duplicates in ${names.join(", ")}`);
      for (const m of manifests) assert.equal(m.metadata.labels?.["app.kubernetes.io/instance"], "tw", `${m.kind} ${m.metadata.name} labels`);
    });
  }

  it("catches an unknown field that the OpenAPI validators let through", function () {
    const bad: Manifest = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "typo" },
      spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i", readinesProbe: { grpc: { port: 1 } } }] } } },
    };
    assert.deepEqual(schemaErrors([bad]), []);
    const errors = unknownFieldErrors([bad]);
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0] ?? "", /Deployment typo: .*readinesProbe.* does not exist in type 'IContainer'/);
  });

  it("defaults: 2 brokers with gRPC health probes, a PDB, a Service with grpc 50051 and http 8050", async function () {
    const manifests = await render([]);
    const d = deployment(manifests, BROKER);
    assert.equal(d.spec?.replicas, 2);
    const c = container(d);
    assert.deepEqual(c.args, ["broker"]);
    assert.deepEqual(
      c.ports?.map((p) => [p.name, p.containerPort]),
      [
        ["grpc", 50051],
        ["http", 8050],
      ],
    );
    assert.deepEqual(c.startupProbe?.grpc, { port: 50051 });
    assert.deepEqual(c.readinessProbe?.grpc, { port: 50051 });
    assert.deepEqual(c.livenessProbe?.tcpSocket, { port: "grpc" });
    for (const p of [c.startupProbe, c.readinessProbe, c.livenessProbe]) assert.equal(p?.httpGet, undefined, "the http port is not probed");
    assert.ok(c.resources?.requests?.cpu && c.resources.limits?.memory, "broker resources");
    // V8's heap capped at 75 % of the 512Mi limit, so the broker collects before the kubelet kills it.
    assert.equal(c.env?.find((e) => e.name === "NODE_OPTIONS")?.value, "--max-old-space-size=320 --max-semi-space-size=32", "75 % of 512Mi, less the 64 MiB young generation");
    const svc = find(manifests, "Service", BROKER) as { spec?: { ports?: Array<{ name?: string; port: number; targetPort?: string | number }> } } & Manifest;
    assert.deepEqual(
      svc.spec?.ports?.map((p) => [p.name, p.port, p.targetPort]),
      [
        ["grpc", 50051, "grpc"],
        ["http", 8050, "http"],
      ],
    );
    const pdb = find(manifests, "PodDisruptionBudget", BROKER) as { spec?: { maxUnavailable?: number } } & Manifest;
    assert.equal(pdb.spec?.maxUnavailable, 1);
    assert.ok(!manifests.some((m) => m.kind === "HorizontalPodAutoscaler" || m.kind === "StatefulSet" || m.kind === "Secret"));
    assert.ok(find(manifests, "ServiceAccount", SHARED));
    const shared = dataOf(find(manifests, "ConfigMap", SHARED));
    assert.equal(shared.TASKWIRE_NATS_URL, "nats://nats:4222");
    assert.equal(shared.TASKWIRE_REPLICAS, "1");
    assert.equal(shared.TASKWIRE_RETENTION_MS, "604800000", "large numbers are not rendered in float notation");
    assert.deepEqual(dataOf(find(manifests, "ConfigMap", BROKER)), {
      TASKWIRE_LISTEN: "0.0.0.0:50051",
      TASKWIRE_HTTP_LISTEN: "0.0.0.0:8050",
      TASKWIRE_MAX_PAYLOAD_BYTES: "524288",
      TASKWIRE_MAX_STREAMS_PER_CONNECTION: "1000",
      TASKWIRE_MAX_WAITS_PER_CONNECTION: "10000",
      TASKWIRE_LIST_SCAN_LIMIT: "2000",
      TASKWIRE_LIST_CLOCK_SKEW_MS: "0",
      TASKWIRE_SHUTDOWN_GRACE_MS: "10000",
      TASKWIRE_SCHEDULER: "true",
      TASKWIRE_UI_TRACE_URL: "",
      TASKWIRE_AUTOMATIONS: "true",
      TASKWIRE_AUTOMATION_ALLOW: "",
      TASKWIRE_AUTOMATION_CONCURRENCY: "16",
      // The chart listens on 0.0.0.0: without TLS and auth the broker starts only when told it is insecure.
      TASKWIRE_INSECURE: "true",
    });
    assert.equal(d.spec?.template.spec?.terminationGracePeriodSeconds, 30, "shutdownGraceMs + 20 s");
  });

  it("external NATS: the URL with credentials from the user's Secret, R3, autoscaled brokers, OTel settings", async function () {
    const manifests = await render(["ci/external-nats-values.yaml"]);
    const d = deployment(manifests, BROKER);
    assert.equal(d.spec?.replicas, undefined, "the HPA owns the replica count");
    const hpa = find(manifests, "HorizontalPodAutoscaler", BROKER) as { spec?: { minReplicas?: number; maxReplicas?: number; metrics?: unknown[] } } & Manifest;
    assert.equal(hpa.spec?.minReplicas, 2);
    assert.equal(hpa.spec?.maxReplicas, 6);
    assert.equal(hpa.spec?.metrics?.length, 2);
    const c = container(d);
    const natsUrl = c.env?.find((e) => e.name === "TASKWIRE_NATS_URL");
    assert.deepEqual(natsUrl?.valueFrom?.secretKeyRef, { name: "taskwire-nats", key: "url" });
    assert.deepEqual(c.env?.find((e) => e.name === "TASKWIRE_TOKEN")?.valueFrom?.secretKeyRef, { name: "taskwire-auth", key: "token" });
    assert.ok(c.envFrom?.some((f) => f.secretRef?.name === "taskwire-extra-env"));
    const shared = dataOf(find(manifests, "ConfigMap", SHARED));
    assert.equal(shared.TASKWIRE_REPLICAS, "3");
    assert.equal(shared.TASKWIRE_NATS_URL, "nats://nats.nats.svc:4222");
    assert.equal(shared.OTEL_TRACES_EXPORTER, "otlp");
    assert.equal(shared.OTEL_EXPORTER_OTLP_ENDPOINT, "http://otel-collector.observability.svc:4318");
    assert.equal(shared.OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf");
    assert.equal(shared.OTEL_TRACES_SAMPLER, "parentbased_traceidratio");
    assert.equal(shared.OTEL_TRACES_SAMPLER_ARG, "0.25");
    const attrs = c.env?.find((e) => e.name === "OTEL_RESOURCE_ATTRIBUTES")?.value;
    assert.equal(attrs, "k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE),deployment.environment=production");
    const pdb = find(manifests, "PodDisruptionBudget", BROKER) as { spec?: { minAvailable?: number; maxUnavailable?: number } } & Manifest;
    assert.deepEqual([pdb.spec?.minAvailable, pdb.spec?.maxUnavailable], [1, undefined]);
    assert.ok(d.spec?.template.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, "hard anti-affinity");
  });

  it("in-chart NATS: a three-node JetStream StatefulSet with routes, PVCs, headless and client Services; TASKWIRE_REPLICAS=3", async function () {
    const manifests = await render(["ci/embedded-nats-values.yaml"]);
    const sts = find(manifests, "StatefulSet", "tw-taskwire-nats") as {
      spec?: { replicas?: number; serviceName?: string; podManagementPolicy?: string; volumeClaimTemplates?: Array<{ spec?: { storageClassName?: string; resources?: { requests?: Record<string, string> } } }> };
    } & Manifest;
    assert.equal(sts.spec?.replicas, 3);
    assert.equal(sts.spec?.serviceName, "tw-taskwire-nats-headless");
    assert.equal(sts.spec?.podManagementPolicy, "Parallel");
    assert.equal(sts.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage, "20Gi");
    assert.equal(sts.spec?.volumeClaimTemplates?.[0]?.spec?.storageClassName, "standard");
    const headless = find(manifests, "Service", "tw-taskwire-nats-headless") as { spec?: { clusterIP?: string; publishNotReadyAddresses?: boolean } } & Manifest;
    assert.equal(headless.spec?.clusterIP, "None");
    assert.equal(headless.spec?.publishNotReadyAddresses, true);
    find(manifests, "Service", "tw-taskwire-nats");
    find(manifests, "PodDisruptionBudget", "tw-taskwire-nats");
    const shared = dataOf(find(manifests, "ConfigMap", SHARED));
    assert.equal(shared.TASKWIRE_REPLICAS, "3");
    assert.equal(shared.TASKWIRE_NATS_URL, "nats://tw-taskwire-nats.taskwire.svc.cluster.local:4222");
    const conf = dataOf(find(manifests, "ConfigMap", "tw-taskwire-nats"))["nats.conf"] ?? "";
    for (let i = 0; i < 3; i++) assert.ok(conf.includes(`nats://tw-taskwire-nats-${i}.tw-taskwire-nats-headless.taskwire.svc.cluster.local:6222`), `route to node ${i}`);
    assert.match(conf, /jetstream \{\n\s+store_dir: \/data\n/);
    assert.match(conf, /max_file_store: 18G\n/);
    assert.doesNotMatch(conf, /sync_interval/, "the server's default unless set");
    const synced = await render(["ci/embedded-nats-values.yaml"], ["--set", "nats.embedded.jetstream.syncInterval=always"]);
    assert.match(dataOf(find(synced, "ConfigMap", "tw-taskwire-nats"))["nats.conf"] ?? "", /max_file_store: 18G\n\s+sync_interval: always\n/);
    // Both configurations parse: nats-server checks them (-t) with the pod's
    // SERVER_NAME (the pinned nats-server, the chart's 2.15 series; sync_interval is 2.10+).
    const bin = findNatsServer();
    assert.ok(bin, "nats-server is needed to check the rendered configuration");
    const dir = mkdtempSync(join(tmpdir(), "taskwire-natsconf-"));
    try {
      const syncedConf = dataOf(find(synced, "ConfigMap", "tw-taskwire-nats"))["nats.conf"] ?? "";
      for (const [name, text] of [
        ["default", conf],
        ["sync_interval", syncedConf],
      ]) {
        writeFileSync(join(dir, "nats.conf"), text);
        const r: SpawnSyncReturns<string> = spawnSync(bin, ["-c", join(dir, "nats.conf"), "-t"], { env: { PATH: process.env.PATH ?? "", SERVER_NAME: "tw-taskwire-nats-0" }, encoding: "utf8" });
        assert.equal(r.status, 0, `nats-server -t (${name}):\n${r.stdout}${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("TLS: the Secret is mounted into the broker, TASKWIRE_TLS_* point at its files, probes are TCP checks", async function () {
    const manifests = await render(["ci/tls-values.yaml"]);
    const d = deployment(manifests, BROKER);
    const c = container(d);
    const mount = c.volumeMounts?.find((v) => v.name === "tls");
    assert.equal(mount?.mountPath, "/etc/taskwire/tls");
    assert.equal(mount?.readOnly, true);
    assert.equal(d.spec?.template.spec?.volumes?.find((v) => v.name === "tls")?.secret?.secretName, "taskwire-tls");
    const broker = dataOf(find(manifests, "ConfigMap", BROKER));
    assert.equal(broker.TASKWIRE_TLS_CERT, "/etc/taskwire/tls/tls.crt");
    assert.equal(broker.TASKWIRE_TLS_KEY, "/etc/taskwire/tls/tls.key");
    assert.equal(broker.TASKWIRE_TLS_CLIENT_CA, "/etc/taskwire/tls/ca.crt");
    // Auth: the tokens Secret is mounted and TASKWIRE_AUTH_TOKENS_FILE points at it; not insecure.
    assert.equal(broker.TASKWIRE_AUTH_TOKENS_FILE, "/etc/taskwire/auth/tokens.yaml");
    assert.equal(broker.TASKWIRE_INSECURE, undefined);
    assert.equal(c.volumeMounts?.find((v) => v.name === "auth-tokens")?.mountPath, "/etc/taskwire/auth");
    assert.equal(d.spec?.template.spec?.volumes?.find((v) => v.name === "auth-tokens")?.secret?.secretName, "taskwire-tokens");
    for (const p of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
      assert.equal(p?.grpc, undefined, "the kubelet's gRPC probe cannot speak TLS");
      assert.deepEqual(p?.tcpSocket, { port: "grpc" });
    }
    const secret = dataOf(find(manifests, "Secret", SHARED));
    assert.deepEqual(secret, { TASKWIRE_TOKEN: "change-me", OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=change-me", TASKWIRE_EXAMPLE_SECRET: "s3cr3t" });
    assert.ok(c.envFrom?.some((f) => f.secretRef?.name === SHARED));
    assert.ok(!Object.keys(dataOf(find(manifests, "ConfigMap", SHARED))).includes("OTEL_EXPORTER_OTLP_HEADERS"), "secret headers stay out of the ConfigMap");
  });

  it("workers: one Deployment and ConfigMap per entry, with its image, command, settings and variables", async function () {
    const manifests = await render(["ci/workers-values.yaml"]);
    const q = deployment(manifests, worker("quickstart"));
    assert.equal(q.spec?.replicas, 2);
    const qc = container(q);
    assert.equal(qc.image, "registry.example.com/acme/taskwire-quickstart:1.0.0");
    assert.equal(qc.command, undefined, "the image's entrypoint");
    assert.deepEqual(qc.args, ["worker", "/app/examples/quickstart/tasks.ts"]);
    assert.equal(q.spec?.template.spec?.terminationGracePeriodSeconds, 35, "shutdownGraceMs + 15 s");
    assert.deepEqual(dataOf(find(manifests, "ConfigMap", worker("quickstart"))), {
      TASKWIRE_CONCURRENCY: "4",
      TASKWIRE_QUEUES: "default",
      TASKWIRE_HEARTBEAT_MS: "2000",
      TASKWIRE_SHUTDOWN_GRACE_MS: "20000",
      TASKWIRE_ADDRESS: `${BROKER}:50051`,
    });
    assert.equal(qc.env?.find((e) => e.name === "NODE_OPTIONS")?.value, "--max-old-space-size=320 --max-semi-space-size=32", "75 % of its 512Mi limit, less the young generation");
    const r = deployment(manifests, worker("reports"));
    const rc = container(r);
    assert.deepEqual(rc.command, ["node", "/app/cli/bin/taskwire.js"]);
    assert.equal(rc.imagePullPolicy, "Always");
    assert.deepEqual(rc.ports, [{ name: "http", containerPort: 9464, protocol: "TCP" }]);
    assert.deepEqual(envNames(rc), ["K8S_POD_NAME", "K8S_NAMESPACE", "OTEL_RESOURCE_ATTRIBUTES", "NODE_OPTIONS", "REPORTS_BUCKET"]);
    assert.ok(rc.volumeMounts?.some((v) => v.mountPath === "/scratch"));
    assert.deepEqual(dataOf(find(manifests, "ConfigMap", worker("reports"))), {
      TASKWIRE_CONCURRENCY: "2",
      TASKWIRE_QUEUES: "reports,exports",
      TASKWIRE_HEARTBEAT_MS: "5000",
      TASKWIRE_SHUTDOWN_GRACE_MS: "30000",
      TASKWIRE_MAX_RESULT_BYTES: "1048576",
      TASKWIRE_INLINE_RESULT_BYTES: "32768",
      TASKWIRE_MAX_CRASH_RETRIES: "3",
      TASKWIRE_START_RECORD_DELAY_MS: "0",
      TASKWIRE_ACK_DELAY_MS: "2",
      TASKWIRE_WORKER_HTTP_LISTEN: "0.0.0.0:9464",
      TASKWIRE_LOG_LEVEL: "debug",
      TASKWIRE_ADDRESS: `${BROKER}:50051`,
    });
    // Selectors of the two workers do not overlap.
    assert.notDeepEqual(q.spec?.selector.matchLabels, r.spec?.selector.matchLabels);
    // Zero is a value, not "unset": a worker scaled to zero, no shutdown grace.
    const zero = await render(["ci/workers-values.yaml"], ["--set", "workers[0].replicas=0", "--set", "workers[0].shutdownGraceMs=0"]);
    assert.equal(deployment(zero, worker("quickstart")).spec?.replicas, 0);
    assert.equal(dataOf(find(zero, "ConfigMap", worker("quickstart"))).TASKWIRE_SHUTDOWN_GRACE_MS, "0");
  });

  it("wires every broker, NATS and worker setting of docs/configuration.md", async function () {
    const manifests = await render(["ci/workers-values.yaml", "ci/tls-values.yaml"]);
    const wired = new Set<string>();
    for (const m of manifests) if (m.kind === "ConfigMap" || m.kind === "Secret") for (const k of Object.keys(dataOf(m))) wired.add(k);
    for (const m of manifests.filter((x) => x.kind === "Deployment")) for (const n of envNames(podSpec(m).containers[0] ?? { name: "" })) wired.add(n);
    // TASKWIRE_PROTO_DIR is set by the image (deploy/Dockerfile), where proto/ is;
    // the image has the built UI where the broker looks by default (TASKWIRE_UI_DIR).
    const missing = documentedProcessSettings().filter((s) => !wired.has(s) && s !== "TASKWIRE_PROTO_DIR" && s !== "TASKWIRE_UI_DIR");
    assert.deepEqual(missing, [], "documented settings the chart does not set");
  });

  it("caps each Node process's heap at heapPercent of its memory limit (its young generation included), in every unit, and not without a limit or with null", async function () {
    const heapOf = async (flags: string[], name = BROKER): Promise<string | undefined> => container(deployment(await render(["ci/workers-values.yaml"], flags), name)).env?.find((e) => e.name === "NODE_OPTIONS")?.value;
    const young = "--max-semi-space-size=32";
    assert.equal(await heapOf(["--set", "broker.resources.limits.memory=1.5Gi"]), `--max-old-space-size=1088 ${young}`);
    assert.equal(await heapOf(["--set", "broker.resources.limits.memory=1G"]), `--max-old-space-size=651 ${young}`);
    assert.equal(await heapOf(["--set", "broker.resources.limits.memory=1073741824", "--set", "broker.heapPercent=50"]), `--max-old-space-size=448 ${young}`);
    assert.equal(await heapOf(["--set", "broker.semiSpaceMiB=64"]), "--max-old-space-size=256 --max-semi-space-size=64", "384 MiB less 2 × 64");
    assert.equal(await heapOf(["--set", "broker.semiSpaceMiB=null"]), "--max-old-space-size=384", "Node's young generation: the whole cap is old space");
    assert.equal(await heapOf(["--set", "broker.heapPercent=null"]), young);
    assert.equal(await heapOf(["--set", "broker.heapPercent=null", "--set", "broker.semiSpaceMiB=null"]), undefined);
    assert.equal(await heapOf([], worker("reports")), young, "no memory limit: no cap, only the young generation");
    assert.equal(await heapOf(["--set", "workers[0].heapPercent=null", "--set", "workers[0].semiSpaceMiB=null"], worker("quickstart")), undefined);
    await assert.rejects(render([], ["--set", "broker.resources.limits.memory=100Mi"]), /after the young generation's 64 MiB \(2 × semiSpaceMiB\) that leaves 11 MiB, under 64/);
    // A NODE_OPTIONS of the user's own (extraEnv) comes last, so it is the one the kubelet keeps.
    const env = container(deployment(await render([], ["--set", "broker.extraEnv[0].name=NODE_OPTIONS", "--set", "broker.extraEnv[0].value=--max-old-space-size=200"]), BROKER)).env ?? [];
    assert.equal(env.filter((e) => e.name === "NODE_OPTIONS").at(-1)?.value, "--max-old-space-size=200");
  });

  it("renders NOTES.txt with how to submit a first run", async function () {
    for (const file of CI_VALUES) {
      const notes = await renderNotes([file]);
      assert.match(notes, /kubectl -n taskwire port-forward service\/tw-taskwire-broker 50051:50051/, file);
      assert.match(notes, /npx taskwire submit add --args '\[2, 3\]' --wait/, file);
      assert.match(notes, /grpcurl .*taskwire\.v1\.TaskService\/Submit/s, file);
      if (file.includes("tls")) assert.match(notes, /grpcurl -cacert ca\.crt -cert client\.crt -key client\.key/, file);
    }
    assert.match(await renderNotes(["ci/minimal-values.yaml"]), /No workers are defined yet/);
  });

  it("rejects a typo and wrong types through values.schema.json, and unset NATS with a message", async function () {
    const cases: Array<[string[], RegExp]> = [
      [["--set", "brokr.replicas=2"], /additional properties 'brokr' not allowed/],
      [["--set", "broker.replicaCont=3"], /additional properties 'replicaCont' not allowed/],
      [["--set", "broker.replicaCount=two"], /broker\/replicaCount': got string, want integer/],
      [["--set", "config.logLevel=verbose"], /logLevel/],
      [["--set", "workers[0].name=emails"], /missing property 'args'/],
      [["--set", "workers[0].name=Emails", "--set", "workers[0].args[0]=worker"], /workers\/0\/name/],
      [["--set", "nats.external.url=", "--set", "nats.embedded.enabled=false"], /set nats\.external\.url \(or nats\.external\.existingSecret\), or nats\.embedded\.enabled=true/],
      [["--set", "tls.enabled=true"], /tls\.enabled=true needs tls\.existingSecret/],
      [["--set", "nats.embedded.enabled=true", "--set", "nats.external.existingSecret=x"], /choose one/],
      [["--set", "broker.heapPercent=5"], /heapPercent/],
      [["--set", "broker.resources.limits.memory=80Mi", "--set", "broker.semiSpaceMiB=null"], /broker: heapPercent 75 of the memory limit 80Mi is a V8 heap of 60 MiB; after the young generation's 0 MiB \(2 × semiSpaceMiB\) that leaves 60 MiB, under 64/],
      [["--set", "broker.semiSpaceMiB=0"], /semiSpaceMiB/],
      [["--set", "broker.resources.limits.memory=lots"], /broker\.resources\.limits\.memory: "lots" is not a memory quantity/],
    ];
    for (const [flags, message] of cases) {
      const r = await helm(["template", "tw", CHART, ...flags]);
      assert.notEqual(r.code, 0, `helm template ${flags.join(" ")} succeeded`);
      assert.match(r.stderr, message, `helm template ${flags.join(" ")}`);
    }
  });

  describe("the rendered broker and worker, run as local processes against a 3-node NATS cluster", function () {
    this.timeout(240_000);
    let cluster: NatsCluster | undefined;
    const procs: Array<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> = [];
    let client: Client | undefined;
    let overrides: string | undefined;

    function start(name: string, argv: string[], env: Record<string, string>): (typeof procs)[number] {
      const [bin, ...args] = argv;
      if (!bin) throw new Error(`${name}: empty command line`);
      // The pod's environment only (plus PATH): nothing leaks in from this test process.
      const child = spawn(bin, args, { cwd: REPO, env: { PATH: process.env.PATH ?? "", HOME: tmpdir(), ...env }, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      const p = { child, output: () => out, exited };
      procs.push(p);
      return p;
    }

    after(async function () {
      client?.close();
      await Promise.all(
        procs.map(async (p) => {
          if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
          await p.exited;
        }),
      );
      await cluster?.stop();
      if (overrides) rmSync(overrides, { recursive: true, force: true });
    });

    it("serves a run submitted with the TS client: rendered command lines, ConfigMaps and Secrets as the kubelet builds them", async function () {
      cluster = await NatsCluster.start(3);
      const grpcPort = await freePort();
      const httpPort = await waitFor(async () => {
        const p = await freePort();
        return p !== grpcPort ? p : undefined;
      }, "a second free port");
      // What differs between a pod and a local process: the listen host (a pod
      // has its own network namespace) and free ports; everything else is the
      // production values file as it is.
      overrides = mkdtempSync(join(tmpdir(), "taskwire-values-"));
      const file = join(overrides, "local.json");
      writeFileSync(file, JSON.stringify({ broker: { listenHost: "127.0.0.1", ports: { grpc: grpcPort, http: httpPort } }, nats: { external: { url: cluster.urls } } }));
      const manifests = await render(["ci/external-nats-values.yaml", "ci/workers-values.yaml", file]);
      // The Secrets the operator created before installing (kubectl create secret …).
      const token = "test-token";
      const external = { "taskwire-nats": { url: cluster.urls }, "taskwire-auth": { token }, "taskwire-extra-env": { TASKWIRE_EXTRA: "1" } };
      const brokerC = container(deployment(manifests, BROKER));
      const workerC = container(deployment(manifests, worker("quickstart")));
      const brokerEnv = podEnv(brokerC, manifests, external, { name: `${BROKER}-7d9f8-abcde`, namespace: "taskwire" });
      const workerEnv = podEnv(workerC, manifests, external, { name: `${worker("quickstart")}-5c4b-fghij`, namespace: "taskwire" });
      assert.equal(brokerEnv.TASKWIRE_NATS_URL, cluster.urls, "the Secret's URL wins over the ConfigMap's");
      assert.equal(brokerEnv.TASKWIRE_REPLICAS, "3");
      assert.equal(brokerEnv.TASKWIRE_TOKEN, token);
      assert.equal(brokerEnv.TASKWIRE_LISTEN, `127.0.0.1:${grpcPort}`);
      assert.match(brokerEnv.OTEL_RESOURCE_ATTRIBUTES ?? "", /^k8s\.pod\.name=tw-taskwire-broker-7d9f8-abcde,k8s\.namespace\.name=taskwire,/);
      assert.equal(workerEnv.TASKWIRE_CONCURRENCY, "4");
      assert.equal(workerEnv.TASKWIRE_REPLICAS, "3");
      // No collector runs here: spans would only be retried and dropped.
      for (const env of [brokerEnv, workerEnv]) env.OTEL_SDK_DISABLED = "true";

      const broker = start("broker", localArgv(brokerC), brokerEnv);
      const wk = start("worker", localArgv(workerC), workerEnv);
      await waitFor(() => broker.output().includes("taskwire broker listening") || broker.child.exitCode !== null, "the broker to listen", 90_000);
      assert.match(broker.output(), /taskwire broker listening/, broker.output());
      await waitFor(() => wk.output().includes("taskwire worker started") || wk.child.exitCode !== null, "the worker to start", 90_000);
      const startedLine = wk.output().split("\n").find((l) => l.includes("taskwire worker started")) ?? "";
      assert.ok(startedLine, wk.output());
      const started = JSON.parse(startedLine) as { concurrency?: number; heartbeatMs?: number; queues?: string[]; tasks?: string[] };
      assert.deepEqual([started.concurrency, started.heartbeatMs, started.queues], [4, 2000, ["default"]], "the worker's ConfigMap reached the process");
      assert.ok(started.tasks?.includes("add"), startedLine);

      client = new Client({ address: `127.0.0.1:${grpcPort}`, token });
      const run = await client.submit<number>("add", [2, 3]);
      assert.equal(await run.result({ timeoutMs: 20_000 }), 5);

      // TASKWIRE_REPLICAS=3 reached the process that created the streams: R3 on the cluster.
      const leader = await cluster.streamLeader("TASKWIRE_RUNS");
      const jsz = await cluster.jsz(leader, "accounts=1&streams=1");
      const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
      for (const name of ["TASKWIRE_RUNS", "KV_taskwire_runs"]) {
        const s = streams.find((x) => x.name === name);
        assert.equal(s?.cluster?.replicas?.length, 2, `${name}: a leader and two replicas (${JSON.stringify(s?.cluster)})`);
      }

      // SIGTERM, as the kubelet sends it: both drain and exit 0.
      broker.child.kill("SIGTERM");
      wk.child.kill("SIGTERM");
      assert.deepEqual(await Promise.all([broker.exited, wk.exited]), [0, 0], `${broker.output()}\n${wk.output()}`);
    });
  });
});
