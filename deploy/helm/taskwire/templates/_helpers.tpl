{{/* Names */}}
{{- define "taskwire.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "taskwire.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "taskwire.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "taskwire.brokerName" -}}{{ include "taskwire.fullname" . | trunc 56 | trimSuffix "-" }}-broker{{- end -}}
{{- define "taskwire.natsName" -}}{{ include "taskwire.fullname" . | trunc 49 | trimSuffix "-" }}-nats{{- end -}}
{{- define "taskwire.natsHeadless" -}}{{ include "taskwire.natsName" . }}-headless{{- end -}}

{{/* Labels */}}
{{- define "taskwire.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskwire.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "taskwire.labels" -}}
helm.sh/chart: {{ include "taskwire.chart" . }}
{{ include "taskwire.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: taskwire
{{- end -}}

{{- define "taskwire.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "taskwire.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The taskwire image reference. */}}
{{- define "taskwire.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}

{{/* NATS: the client URL (non-secret), and the stream replica count. */}}
{{- define "taskwire.natsUrl" -}}
{{- if .Values.nats.embedded.enabled -}}
{{- printf "nats://%s.%s.svc.%s:4222" (include "taskwire.natsName" .) .Release.Namespace .Values.nats.embedded.clusterDomain -}}
{{- else -}}
{{- .Values.nats.external.url -}}
{{- end -}}
{{- end -}}

{{- define "taskwire.streamReplicas" -}}
{{- if not (kindIs "invalid" .Values.config.streamReplicas) -}}
{{- .Values.config.streamReplicas | int -}}
{{- else if .Values.nats.embedded.enabled -}}
3
{{- else -}}
1
{{- end -}}
{{- end -}}

{{/* Fails early, with a message, on combinations the schema cannot express. */}}
{{- define "taskwire.validate" -}}
{{- $n := .Values.nats -}}
{{- if and $n.embedded.enabled $n.external.existingSecret -}}
{{- fail "nats: choose one: nats.embedded.enabled=true (the in-chart cluster, nats.external is ignored) or nats.external.existingSecret (your NATS), not both" -}}
{{- end -}}
{{- if and (not $n.embedded.enabled) (not $n.external.url) (not $n.external.existingSecret) -}}
{{- fail "nats: set nats.external.url (or nats.external.existingSecret), or nats.embedded.enabled=true for the in-chart three-node cluster" -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) -}}
{{- fail "tls.enabled=true needs tls.existingSecret: a Secret with tls.crt and tls.key (and ca.crt for tls.clientAuth)" -}}
{{- end -}}
{{- if and $n.embedded.enabled (not (kindIs "invalid" .Values.config.streamReplicas)) (gt (int .Values.config.streamReplicas) 3) -}}
{{- fail "config.streamReplicas cannot exceed 3 with the in-chart three-node NATS cluster" -}}
{{- end -}}
{{- $seen := dict -}}
{{- range .Values.workers -}}
{{- if hasKey $seen .name -}}
{{- fail (printf "workers: the name %q is used twice" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- end -}}
{{- end -}}

{{/* Does the chart render its own Secret? */}}
{{- define "taskwire.hasSecret" -}}
{{- if or .Values.auth.token .Values.otel.headers .Values.secretEnv -}}true{{- end -}}
{{- end -}}

{{/* Preferred/required anti-affinity among pods with these labels ($ = root, labels, mode). */}}
{{- define "taskwire.antiAffinity" -}}
{{- if eq .mode "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- toYaml .labels | nindent 10 }}
{{- else if eq .mode "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- toYaml .labels | nindent 12 }}
{{- end }}
{{- end -}}

{{/*
Variables every broker and worker container gets besides its ConfigMaps:
the pod's identity for OpenTelemetry resource attributes (the kubelet expands
$(VAR) references to variables defined earlier), and the settings that come
from Secrets the user manages.
*/}}
{{- define "taskwire.commonEnv" -}}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- $attrs := list "k8s.pod.name=$(K8S_POD_NAME)" "k8s.namespace.name=$(K8S_NAMESPACE)" }}
{{- range $k, $v := .Values.otel.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%v" $k $v) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- if .Values.nats.external.existingSecret }}
- name: TASKWIRE_NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.nats.external.existingSecret }}
      key: {{ .Values.nats.external.existingSecretKey }}
{{- end }}
{{- if .Values.auth.existingSecret }}
- name: TASKWIRE_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret }}
      key: {{ .Values.auth.existingSecretKey }}
{{- end }}
{{- end -}}

{{/* envFrom of every broker and worker container: shared ConfigMap, Secrets. */}}
{{- define "taskwire.commonEnvFrom" -}}
- configMapRef:
    name: {{ include "taskwire.fullname" . }}
{{- if include "taskwire.hasSecret" . }}
- secretRef:
    name: {{ include "taskwire.fullname" . }}
{{- end }}
{{- range .Values.existingSecrets }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end -}}

{{/* Pod-level checksums, so a changed setting rolls the pods. */}}
{{- define "taskwire.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* The emptyDir at /tmp (read-only root filesystem). */}}
{{- define "taskwire.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{/* nats-server configuration of the in-chart cluster (n = nats.embedded, routes). */}}
{{- define "taskwire.natsConf" -}}
# server_name comes from the pod name (env SERVER_NAME): stable per StatefulSet ordinal.
server_name: $SERVER_NAME
listen: 0.0.0.0:4222
http: 0.0.0.0:8222
max_payload: {{ .n.maxPayload }}
pid_file: /var/run/nats/nats.pid
lame_duck_duration: 30s
lame_duck_grace_period: 10s
jetstream {
  store_dir: /data
  max_memory_store: {{ .n.jetstream.maxMemoryStore }}
  {{- with .n.jetstream.maxFileStore }}
  max_file_store: {{ . }}
  {{- end }}
  {{- with .n.jetstream.syncInterval }}
  sync_interval: {{ . }}
  {{- end }}
}
cluster {
  name: {{ .n.clusterName }}
  listen: 0.0.0.0:6222
  routes: [
    {{- range .routes }}
    {{ . }}
    {{- end }}
  ]
}
{{- end -}}

{{/*
NODE_OPTIONS sizing the V8 heap. `semi` (MiB, or null): --max-semi-space-size,
a young generation of up to 2 × semi MiB, so the runs in flight are
collected young instead of promoted (shorter scavenge pauses: the latency
tail; docs/performance.md). `percent`: the whole heap capped at `percent` %
of the container's memory limit, the young generation included
(--max-old-space-size gets the rest), so V8 collects before the kubelet
kills the pod rather than growing its heap lazily (by default it sizes the
heap from the machine's memory, not the container's). No cap without a limit
or with percent null; nothing at all with both off. Arguments: dict
"resources" "percent" "semi" "what".
*/}}
{{- define "taskwire.heapEnv" -}}
{{- $pct := .percent -}}
{{- $semi := .semi -}}
{{- $hasSemi := not (kindIs "invalid" $semi) -}}
{{- $young := 0 -}}
{{- if $hasSemi }}{{ $young = mul 2 (int $semi) }}{{ end -}}
{{- $opts := list -}}
{{- $mem := "" -}}
{{- with .resources }}{{ with .limits }}{{ $mem = toString (.memory | default "") }}{{ end }}{{ end -}}
{{- if and (not (kindIs "invalid" $pct)) $mem -}}
{{- $units := dict "" 1.0 "k" 1000.0 "K" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 -}}
{{- $num := regexFind "^[0-9]+([.][0-9]+)?" $mem -}}
{{- $unit := trimPrefix $num $mem -}}
{{- if or (not $num) (not (hasKey $units $unit)) -}}
{{- fail (printf "%s.resources.limits.memory: %q is not a memory quantity this chart reads (a number with Ki, Mi, Gi, Ti, k, M, G or T); write it so, or set %s.heapPercent: null" .what $mem .what) -}}
{{- end -}}
{{- $heap := int (floor (divf (mulf (divf (mulf (float64 $num) (get $units $unit)) 1048576.0) (float64 $pct)) 100.0)) -}}
{{- $old := sub $heap $young -}}
{{- if lt $old 64 -}}
{{- fail (printf "%s: heapPercent %v of the memory limit %s is a V8 heap of %d MiB; after the young generation's %d MiB (2 × semiSpaceMiB) that leaves %d MiB, under 64; raise the limit or heapPercent, lower semiSpaceMiB, or set heapPercent: null" .what $pct $mem $heap $young $old) -}}
{{- end -}}
{{- $opts = append $opts (printf "--max-old-space-size=%d" $old) -}}
{{- end -}}
{{- if $hasSemi -}}
{{- $opts = append $opts (printf "--max-semi-space-size=%d" (int $semi)) -}}
{{- end -}}
{{- if $opts -}}
- name: NODE_OPTIONS
  value: {{ join " " $opts | quote }}
{{- end -}}
{{- end -}}
