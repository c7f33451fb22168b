// Helpers of the chart checks: run helm, parse what it renders, validate each
// manifest offline against the Kubernetes schemas, and turn a rendered
// container into a local process (command, arguments, environment) the way
// the kubelet would build it.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { REPO } from "../helpers/env.js";

export const CHART = join(REPO, "deploy/helm/taskwire");
export const HELM = join(REPO, ".tools/bin/helm");
/** The version scripts/install-tools.sh installs (one place to bump it). */
export const HELM_VERSION = `v${/^HELM_VERSION=(\S+)$/m.exec(readFileSync(join(REPO, "scripts/install-tools.sh"), "utf8"))?.[1] ?? "?"}`;

/** A rendered Kubernetes object: what every manifest has, the rest unknown until validated. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

let helmHome: string | undefined;

/** Runs helm with its cache/config/data under a temporary directory (nothing written to $HOME). */
export async function helm(args: string[]): Promise<HelmResult> {
  helmHome ??= mkdtempSync(join(tmpdir(), "taskwire-helm-"));
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: helmHome,
    HELM_CACHE_HOME: join(helmHome, "cache"),
    HELM_CONFIG_HOME: join(helmHome, "config"),
    HELM_DATA_HOME: join(helmHome, "data"),
    KUBECONFIG: join(helmHome, "no-kubeconfig"),
  };
  try {
    const { stdout, stderr } = await promisify(execFile)(HELM, args, { env, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export function cleanupHelmHome(): void {
  if (helmHome) rmSync(helmHome, { recursive: true, force: true });
  helmHome = undefined;
}

/** Fails with the way out when helm is missing or is another version. */
export async function requireHelm(): Promise<void> {
  const hint = "run `make setup` (scripts/install-tools.sh builds helm " + HELM_VERSION + " into .tools/bin through the Go module proxy)";
  if (!existsSync(HELM)) throw new Error(`helm is not installed at ${HELM}: ${hint}`);
  const v = await helm(["version", "--template", "{{.Version}}"]);
  if (v.code !== 0 || v.stdout.trim() !== HELM_VERSION) throw new Error(`${HELM} reports "${v.stdout.trim() || v.stderr.trim()}", expected ${HELM_VERSION}: ${hint}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asManifest(doc: unknown, i: number): Manifest {
  if (!isRecord(doc) || typeof doc.apiVersion !== "string" || typeof doc.kind !== "string" || !isRecord(doc.metadata) || typeof doc.metadata.name !== "string") {
    throw new Error(`rendered document ${i} is not a Kubernetes object: ${JSON.stringify(doc).slice(0, 200)}`);
  }
  return doc as Manifest;
}

/** Parses helm's output (YAML 1.1, as Kubernetes reads it: 0440 is octal). */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const [i, doc] of parseAllDocuments(text, { version: "1.1" }).entries()) {
    if (doc.errors.length > 0) throw new Error(`rendered document ${i} is not valid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    out.push(asManifest(value, i));
  }
  return out;
}

/** `helm template` of the chart with these values files (relative to the chart) and flags; throws on failure. */
export async function render(valuesFiles: string[], extra: string[] = [], release = "tw", namespace = "taskwire"): Promise<Manifest[]> {
  const args = ["template", release, CHART, "--namespace", namespace, ...valuesFiles.flatMap((f) => ["-f", f.startsWith("/") ? f : join(CHART, f)]), ...extra];
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(" ")} failed (${r.code}):\n${r.stderr}`);
  return parseManifests(r.stdout);
}

/**
 * Renders templates/NOTES.txt, which `helm template` leaves out: a copy of
 * the chart gets a template that evaluates the notes into a ConfigMap.
 */
export async function renderNotes(valuesFiles: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "taskwire-chart-"));
  try {
    const copy = join(dir, "taskwire");
    cpSync(CHART, copy, { recursive: true });
    cpSync(join(copy, "templates/NOTES.txt"), join(copy, "NOTES.render"));
    writeFileSync(join(copy, "templates/zz-notes.yaml"), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ tpl (.Files.Get "NOTES.render") . | toJson }}\n');
    const r = await helm(["template", "tw", copy, "--namespace", "taskwire", "--show-only", "templates/zz-notes.yaml", ...valuesFiles.flatMap((f) => ["-f", join(CHART, f)])]);
    if (r.code !== 0) throw new Error(`rendering NOTES.txt failed:\n${r.stderr}`);
    const [cm] = parseManifests(r.stdout);
    const data = cm?.data;
    if (!isRecord(data) || typeof data.notes !== "string") throw new Error("NOTES.txt rendered to nothing");
    return data.notes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** For each kind the chart renders: its kubernetes-models validator and its TypeScript type. */
function kind<T>(Model: new (data: T) => { validate(): void }, module: string, type: string): { validate(m: Manifest): void; module: string; type: string } {
  return { validate: (m) => new Model(m as unknown as T).validate(), module, type };
}
const KINDS: Record<string, { validate(m: Manifest): void; module: string; type: string }> = {
  "v1/ConfigMap": kind(ConfigMap, "kubernetes-models/v1/ConfigMap", "IConfigMap"),
  "v1/Secret": kind(Secret, "kubernetes-models/v1/Secret", "ISecret"),
  "v1/Service": kind(Service, "kubernetes-models/v1/Service", "IService"),
  "v1/ServiceAccount": kind(ServiceAccount, "kubernetes-models/v1/ServiceAccount", "IServiceAccount"),
  "apps/v1/Deployment": kind(Deployment, "kubernetes-models/apps/v1/Deployment", "IDeployment"),
  "apps/v1/StatefulSet": kind(StatefulSet, "kubernetes-models/apps/v1/StatefulSet", "IStatefulSet"),
  "policy/v1/PodDisruptionBudget": kind(PodDisruptionBudget, "kubernetes-models/policy/v1/PodDisruptionBudget", "IPodDisruptionBudget"),
  "autoscaling/v2/HorizontalPodAutoscaler": kind(HorizontalPodAutoscaler, "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler", "IHorizontalPodAutoscaler"),
};

const kindKey = (m: Manifest): string => `${m.apiVersion}/${m.kind}`;
const label = (m: Manifest): string => `${m.kind} ${m.metadata.name}`;

/** Validates each manifest with the kubernetes-models (OpenAPI) validator of its kind; returns the problems. */
export function schemaErrors(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  for (const m of manifests) {
    const kind = KINDS[kindKey(m)];
    if (!kind) {
      problems.push(`${label(m)}: no validator for ${kindKey(m)} (add it to KINDS in test/helm/chart.ts)`);
      continue;
    }
    try {
      kind.validate(m);
    } catch (err) {
      problems.push(`${label(m)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return problems;
}

/**
 * The validators above accept unknown fields (the generated schemas do not
 * close objects), while the API server drops them with a warning — a
 * misspelt `readinesProbe` would silently vanish. So each manifest is also
 * type-checked as an object literal against its kubernetes-models type:
 * TypeScript's excess-property check rejects every unknown field, at any depth.
 */
export function unknownFieldErrors(manifests: Manifest[]): string[] {
  const file = join(REPO, "test/helm/__rendered_manifests__.ts");
  const lines: string[] = [];
  const owners: Array<{ from: number; m: Manifest }> = [];
  const used = [...new Set(manifests.map(kindKey))].filter((k) => KINDS[k]);
  for (const [i, k] of used.entries()) {
    const kind = KINDS[k];
    if (kind) lines.push(`import type { ${kind.type} as T${i} } from ${JSON.stringify(kind.module)};`);
  }
  for (const [i, m] of manifests.entries()) {
    const t = used.indexOf(kindKey(m));
    if (t < 0) continue;
    owners.push({ from: lines.length, m });
    // one entry per physical line, so a diagnostic's line maps back to its manifest
    lines.push(...`export const m${i}: T${t} = ${JSON.stringify(m, null, 1)};`.split("\n"));
  }
  const source = lines.join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const base = { getSourceFile: host.getSourceFile.bind(host), fileExists: host.fileExists.bind(host), readFile: host.readFile.bind(host) };
  host.fileExists = (f) => f === file || base.fileExists(f);
  host.readFile = (f) => (f === file ? source : base.readFile(f));
  host.getSourceFile = (f, lang, onError, create) => (f === file ? ts.createSourceFile(f, source, lang) : base.getSourceFile(f, lang, onError, create));
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file);
  const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
  return diags.map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const owner = [...owners].reverse().find((o) => o.from <= line);
    return `${owner ? label(owner.m) : "manifests"}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name} among: ${manifests.map(label).join(", ")}`);
  return m;
}

export function deployment(manifests: Manifest[], name: string): IDeployment {
  return find(manifests, "Deployment", name) as unknown as IDeployment;
}

/** The only container of a Deployment's pod template. */
export function container(d: IDeployment): IContainer {
  const c = d.spec?.template.spec?.containers[0];
  if (!c) throw new Error(`${d.metadata?.name}: no container`);
  return c;
}

/** The data of a ConfigMap, or the decoded data of a Secret. */
export function dataOf(m: Manifest): Record<string, string> {
  const out: Record<string, string> = {};
  if (m.kind === "ConfigMap" && isRecord(m.data)) for (const [k, v] of Object.entries(m.data)) out[k] = String(v);
  if (m.kind === "Secret") {
    if (isRecord(m.data)) for (const [k, v] of Object.entries(m.data)) out[k] = Buffer.from(String(v), "base64").toString("utf8");
    if (isRecord(m.stringData)) for (const [k, v] of Object.entries(m.stringData)) out[k] = String(v);
  }
  return out;
}

/** The image's ENTRYPOINT and CMD (the last ones: the final stage of deploy/Dockerfile). */
export function imageDefaults(): { entrypoint: string[]; cmd: string[] } {
  const text = readFileSync(join(REPO, "deploy/Dockerfile"), "utf8");
  const last = (instr: string): string[] => {
    const lines = text.split("\n").filter((l) => l.startsWith(`${instr} `));
    const json = lines.at(-1)?.slice(instr.length + 1);
    if (!json) throw new Error(`deploy/Dockerfile has no ${instr}`);
    const v: unknown = JSON.parse(json);
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw new Error(`deploy/Dockerfile: ${instr} is not an exec-form array`);
    return v;
  };
  return { entrypoint: last("ENTRYPOINT"), cmd: last("CMD") };
}

/**
 * The container's command line as the runtime builds it (command, else the
 * image's ENTRYPOINT; args, else its CMD), then mapped onto this checkout:
 * the image's CLI (`node /app/cli/bin/taskwire.js`, `node /app/cli/dist/main.js`
 * or `taskwire`) becomes the CLI's TypeScript sources through tsx, and paths
 * under /app (the image's WORKDIR, a copy of the repository) point into the
 * repository.
 */
export function localArgv(c: IContainer): string[] {
  const image = imageDefaults();
  const argv = [...(c.command?.length ? c.command : image.entrypoint), ...(c.args ?? (c.command?.length ? [] : image.cmd))];
  let rest: string[];
  if (argv[0] === "node" && /^\/app\/cli\/(bin\/taskwire\.js|dist\/main\.js)$/.test(argv[1] ?? "")) rest = argv.slice(2);
  else if (argv[0] === "taskwire" || argv[0] === "/app/node_modules/.bin/taskwire") rest = argv.slice(1);
  else throw new Error(`cannot map the container command ${JSON.stringify(argv)} onto the repository's CLI`);
  const mapped = rest.map((a) => (a.startsWith("/app/") ? join(REPO, a.slice("/app/".length)) : a));
  return [process.execPath, "--conditions=taskwire-source", "--import", "tsx", join(REPO, "cli/src/main.ts"), ...mapped];
}

/** Secrets that exist in the cluster without the chart (created by the operator): name → data. */
export type ExternalSecrets = Record<string, Record<string, string>>;

/**
 * The container's environment as the kubelet builds it: envFrom sources in
 * order (ConfigMaps and Secrets from the rendered manifests or `external`),
 * then `env` entries in order, each value with $(VAR) references to
 * variables defined before it expanded ($$ escapes), valueFrom resolved
 * (fieldRef from `pod`, configMapKeyRef, secretKeyRef).
 */
export function podEnv(c: IContainer, manifests: Manifest[], external: ExternalSecrets, pod: { name: string; namespace: string }): Record<string, string> {
  const source = (kind: "ConfigMap" | "Secret", name: string, optional: boolean | undefined): Record<string, string> | undefined => {
    const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
    if (m) return dataOf(m);
    if (kind === "Secret" && external[name]) return external[name];
    if (optional) return undefined;
    throw new Error(`container ${c.name}: ${kind} ${name} is neither rendered nor given (the pod would not start)`);
  };
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const data = from.configMapRef ? source("ConfigMap", from.configMapRef.name ?? "", from.configMapRef.optional) : from.secretRef ? source("Secret", from.secretRef.name ?? "", from.secretRef.optional) : undefined;
    for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ""}${k}`] = v;
  }
  const expand = (v: string): string => v.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string | undefined) => (name === undefined ? "$" : (env[name] ?? all)));
  for (const e of c.env ?? []) {
    if (e.valueFrom) {
      const f = e.valueFrom;
      let v: string | undefined;
      if (f.fieldRef) v = f.fieldRef.fieldPath === "metadata.name" ? pod.name : f.fieldRef.fieldPath === "metadata.namespace" ? pod.namespace : undefined;
      else if (f.configMapKeyRef) v = source("ConfigMap", f.configMapKeyRef.name ?? "", f.configMapKeyRef.optional)?.[f.configMapKeyRef.key];
      else if (f.secretKeyRef) v = source("Secret", f.secretKeyRef.name ?? "", f.secretKeyRef.optional)?.[f.secretKeyRef.key];
      if (v === undefined) throw new Error(`container ${c.name}: cannot resolve ${e.name} from ${JSON.stringify(f)}`);
      env[e.name] = v;
    } else {
      env[e.name] = expand(e.value ?? "");
    }
  }
  return env;
}
