{{/* Names ------------------------------------------------------------------------------------------------ */}}

{{- define "alertrouter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "alertrouter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "alertrouter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A component's resource name: <fullname>-<component>, at most 63 characters. */}}
{{- define "alertrouter.componentName" -}}
{{- printf "%s-%s" (include "alertrouter.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels ----------------------------------------------------------------------------------------------- */}}

{{- define "alertrouter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alertrouter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "alertrouter.labels" -}}
helm.sh/chart: {{ include "alertrouter.chart" . }}
{{ include "alertrouter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: alertrouter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "component" "ingest"). */}}
{{- define "alertrouter.componentSelectorLabels" -}}
{{ include "alertrouter.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "alertrouter.componentLabels" -}}
{{ include "alertrouter.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Resource names shared between templates ----------------------------------------------------------------- */}}

{{- define "alertrouter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "alertrouter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "alertrouter.secretName" -}}
{{- default (include "alertrouter.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "alertrouter.configMapName" -}}
{{- if .Values.config.existingConfigMap }}
{{- .Values.config.existingConfigMap }}
{{- else }}
{{- printf "%s-config" (include "alertrouter.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "alertrouter.integrationKeysSecretName" -}}
{{- if .Values.integrationKeys.existingSecret }}
{{- .Values.integrationKeys.existingSecret }}
{{- else }}
{{- printf "%s-integration-keys" (include "alertrouter.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "alertrouter.hasIntegrationKeys" -}}
{{- if or .Values.integrationKeys.existingSecret .Values.integrationKeys.keys }}true{{- end }}
{{- end }}

{{/* The image of one service; call with (dict "root" $ "service" "router"). */}}
{{- define "alertrouter.image" -}}
{{- $image := .root.Values.image }}
{{- $name := printf "%s-%s" $image.repository .service }}
{{- if $image.registry }}{{- $name = printf "%s/%s" $image.registry $name }}{{- end }}
{{- $digest := get $image.digests .service }}
{{- if $digest }}
{{- printf "%s@%s" $name $digest }}
{{- else }}
{{- printf "%s:%s" $name (default .root.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* Checksums that roll a component's pods when an input they cannot take up while running changes; call with
(dict "root" $ "values" $componentValues "ownership" true|false).
- checksum/secret: the chart's Secret (read as environment variables at start), on every pod.
- checksum/integration-keys: key files are read when the configuration loads, not when they change: on the pods
  that mount them (ingest, router).
- checksum/config: ingest and every router process load a change of the mounted ConfigMap on their own
  (ALERTROUTER_CONFIG_POLL_SECONDS), so only with config.rollOnChange, or on a component whose watch is off
  (ALERTROUTER_CONFIG_POLL_SECONDS=0 in its env or extraEnv); never on the notifier, which does not mount it. */}}
{{- define "alertrouter.checksumAnnotations" -}}
{{- $root := .root }}
{{- $poll := toString (get .values.env "ALERTROUTER_CONFIG_POLL_SECONDS") }}
{{- range concat ($root.Values.extraEnv | default list) (.values.extraEnv | default list) }}
{{- if and (eq .name "ALERTROUTER_CONFIG_POLL_SECONDS") (hasKey . "value") }}
{{- $poll = toString .value }}
{{- end }}
{{- end }}
{{- $watchOff := and (ne $poll "") (eq (float64 $poll) 0.0) }}
{{- if and .ownership (or $root.Values.config.rollOnChange $watchOff) }}
checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
{{- end }}
checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
{{- if and .ownership (include "alertrouter.hasIntegrationKeys" $root) }}
checksum/integration-keys: {{ include (print $root.Template.BasePath "/secret-integration-keys.yaml") $root | sha256sum }}
{{- end }}
{{- end }}

{{/* Environment ------------------------------------------------------------------------------------------ */}}

{{/* Variables every service reads (CommonSettings in shared/src/alertrouter_shared/settings.py). */}}
{{- define "alertrouter.commonEnv" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: KAFKA_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | quote }}
- name: KAFKA_TOPIC_REPLICATION_FACTOR
  value: {{ .Values.kafka.topicReplicationFactor | quote }}
- name: KAFKA_CREATE_TOPICS
  value: {{ .Values.kafka.createTopics | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logging.level | quote }}
- name: LOG_FORMAT
  value: {{ .Values.logging.format | quote }}
{{ include "alertrouter.kafkaSecurityEnv" . }}
{{- end }}

{{/* Kafka TLS and SASL ----------------------------------------------------------------------------------- */}}

{{- define "alertrouter.kafkaSecurityProtocol" -}}
{{- $k := .Values.kafka -}}
{{- if and $k.tls.enabled $k.sasl.enabled }}SASL_SSL{{ else if $k.tls.enabled }}SSL{{ else if $k.sasl.enabled }}SASL_PLAINTEXT{{ else }}PLAINTEXT{{ end }}
{{- end }}

{{- define "alertrouter.kafkaSecurityEnv" -}}
{{- $k := .Values.kafka }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ include "alertrouter.kafkaSecurityProtocol" . | quote }}
{{- if $k.tls.enabled }}
{{- if $k.tls.caSecret }}
- name: KAFKA_SSL_CA_FILE
  value: {{ printf "/etc/alertrouter/kafka/ca/%s" $k.tls.caKey | quote }}
{{- end }}
{{- if $k.tls.clientCertSecret }}
- name: KAFKA_SSL_CERT_FILE
  value: {{ printf "/etc/alertrouter/kafka/client/%s" $k.tls.certKey | quote }}
- name: KAFKA_SSL_KEY_FILE
  value: {{ printf "/etc/alertrouter/kafka/client/%s" $k.tls.keyKey | quote }}
{{- end }}
- name: KAFKA_SSL_CHECK_HOSTNAME
  value: {{ $k.tls.checkHostname | quote }}
{{- end }}
{{- if $k.sasl.enabled }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
{{- if $k.sasl.username }}
- name: KAFKA_SASL_USERNAME
  value: {{ $k.sasl.username | quote }}
{{- else }}
- name: KAFKA_SASL_USERNAME_FILE
  value: {{ printf "/etc/alertrouter/kafka/sasl/%s" $k.sasl.usernameKey | quote }}
{{- end }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: {{ printf "/etc/alertrouter/kafka/sasl/%s" $k.sasl.passwordKey | quote }}
{{- end }}
{{- end }}

{{/* The Secrets of kafka.tls and kafka.sasl as read-only volumes; "mounts" or "volumes" selects the half. */}}
{{- define "alertrouter.kafkaSecurityVolumes" -}}
{{- $k := .root.Values.kafka }}
{{- $volumes := list }}
{{- if and $k.tls.enabled $k.tls.caSecret }}
{{- $volumes = append $volumes (dict "name" "kafka-ca" "secret" $k.tls.caSecret "path" "/etc/alertrouter/kafka/ca") }}
{{- end }}
{{- if and $k.tls.enabled $k.tls.clientCertSecret }}
{{- $volumes = append $volumes (dict "name" "kafka-client-cert" "secret" $k.tls.clientCertSecret "path" "/etc/alertrouter/kafka/client") }}
{{- end }}
{{- if $k.sasl.enabled }}
{{- $volumes = append $volumes (dict "name" "kafka-sasl" "secret" (required "kafka.sasl.existingSecret is required when kafka.sasl.enabled is true: a Secret with the SASL user name and password" $k.sasl.existingSecret) "path" "/etc/alertrouter/kafka/sasl") }}
{{- end }}
{{- range $volumes }}
{{- if eq $.half "mounts" }}
- name: {{ .name }}
  mountPath: {{ .path }}
  readOnly: true
{{- else }}
- name: {{ .name }}
  secret:
    secretName: {{ .secret }}
    defaultMode: 0440
{{- end }}
{{- end }}
{{- end }}

{{/* NetworkPolicy egress ports --------------------------------------------------------------------------- */}}

{{/* Kafka ports the pods may reach, a JSON list: networkPolicy.egress.kafkaPorts plus the port of every
kafka.bootstrapServers entry (brokers advertise their own addresses: list their ports in kafkaPorts when they
differ from the bootstrap servers', e.g. MSK's 9094/9096/9098). */}}
{{- define "alertrouter.kafkaEgressPorts" -}}
{{- $ports := list }}
{{- range .Values.networkPolicy.egress.kafkaPorts }}
{{- $ports = append $ports (int .) }}
{{- end }}
{{- range splitList "," .Values.kafka.bootstrapServers }}
{{- $ports = append $ports (regexFind "[0-9]+$" (trim .) | atoi) }}
{{- end }}
{{- $ports | uniq | toJson }}
{{- end }}

{{/* PostgreSQL ports the router and the notifier may reach, a JSON list: networkPolicy.egress.postgresPorts plus
the database's own port when the chart knows it (externalDatabase.port, or the port of an inline
secrets.databaseUrl; a URL in an existing Secret cannot be read: list its port in postgresPorts). */}}
{{- define "alertrouter.postgresEgressPorts" -}}
{{- $ports := list }}
{{- range .Values.networkPolicy.egress.postgresPorts }}
{{- $ports = append $ports (int .) }}
{{- end }}
{{- if .Values.externalDatabase.host }}
{{- $ports = append $ports (int .Values.externalDatabase.port) }}
{{- else if and (not .Values.secrets.existingSecret) .Values.secrets.databaseUrl }}
{{- $host := (urlParse .Values.secrets.databaseUrl).host }}
{{- $ports = append $ports (ternary (regexFind "[0-9]+$" $host | atoi) 5432 (regexMatch ":[0-9]+$" $host)) }}
{{- end }}
{{- $ports | uniq | toJson }}
{{- end }}

{{/* Database --------------------------------------------------------------------------------------------- */}}

{{/* DATABASE_URL (and DATABASE_PASSWORD) from externalDatabase, or from a Secret; call with (dict "root" $ "secretName" name). */}}
{{- define "alertrouter.databaseUrlEnv" -}}
{{- $db := .root.Values.externalDatabase }}
{{- if $db.host }}
{{- $query := list }}
{{- range $key, $value := $db.parameters }}
{{- $query = append $query (printf "%s=%s" (urlquery $key) (urlquery (toString $value))) }}
{{- end }}
{{- $url := printf "postgresql+asyncpg://%s@%s:%v/%s" (urlquery $db.user) $db.host $db.port (urlquery $db.name) }}
- name: DATABASE_URL
  value: {{ ternary $url (printf "%s?%s" $url (join "&" $query)) (empty $query) | quote }}
{{- if $db.existingSecret }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $db.existingSecret }}
      key: {{ $db.passwordKey }}
{{- end }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .root.Values.secrets.keys.databaseUrl }}
{{- end }}
{{- end }}

{{- define "alertrouter.databaseEnv" -}}
{{ include "alertrouter.databaseUrlEnv" (dict "root" . "secretName" (include "alertrouter.secretName" .)) }}
{{- end }}

{{- define "alertrouter.apiTokensEnv" -}}
- name: ALERTROUTER_API_TOKENS
  valueFrom:
    secretKeyRef:
      name: {{ include "alertrouter.secretName" . }}
      key: {{ .Values.secrets.keys.apiTokens }}
      optional: true
{{- end }}

{{/* The router's client of the notifier (silent drills' providers' check): the notifier Service, unless the
component's env sets ROUTER_NOTIFIER_URL, and its token from the Secret (optional key); call with
(dict "root" $ "values" .Values.routerApi). */}}
{{- define "alertrouter.notifierClientEnv" -}}
{{- $root := .root }}
{{- if not (hasKey .values.env "ROUTER_NOTIFIER_URL") }}
- name: ROUTER_NOTIFIER_URL
  value: {{ printf "http://%s:%v" (include "alertrouter.componentName" (dict "root" $root "component" "notifier")) $root.Values.notifier.service.port | quote }}
{{- end }}
- name: ROUTER_NOTIFIER_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "alertrouter.secretName" $root }}
      key: ROUTER_NOTIFIER_API_TOKEN
      optional: true
{{- end }}

{{/* A component's extra plain variables; call with the env map. */}}
{{- define "alertrouter.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Extension points of every container: the chart-wide list, then the component's; call with (dict "root" $
"values" $componentValues "key" "extraEnv"). Renders a YAML list or nothing. */}}
{{- define "alertrouter.extraList" -}}
{{- $items := concat (get .root.Values .key | default list) (get .values .key | default list) }}
{{- with $items }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/* Pods ------------------------------------------------------------------------------------------------- */}}

{{/* HTTP probes on the component's port; call with (dict "root" $ "port" "http"). */}}
{{- define "alertrouter.probes" -}}
{{- $p := .root.Values.probes }}
{{- /* READINESS_SECONDS in shared/src/alertrouter_shared/web/readiness.py */}}
{{- if le (int $p.readiness.timeoutSeconds) 3 }}
{{- fail (printf "probes.readiness.timeoutSeconds is %v: /readyz may take up to 3 s (its Kafka and database checks), so a probe must wait longer (5 by default)" $p.readiness.timeoutSeconds) }}
{{- end }}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: {{ $p.startup.periodSeconds }}
  timeoutSeconds: {{ $p.startup.timeoutSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
{{- end }}

{{/* Scheduling keys of one component, falling back to the chart-wide ones. */}}
{{- define "alertrouter.scheduling" -}}
{{- $root := .root }}
{{- $c := .values }}
{{- with (default $root.Values.nodeSelector $c.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $root.Values.tolerations $c.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $root.Values.affinity $c.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if $root.Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range $root.Values.topologySpread.constraints }}
  - {{- toYaml . | nindent 4 }}
    labelSelector:
      matchLabels:
        {{- include "alertrouter.componentSelectorLabels" (dict "root" $root "component" $.component) | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}

{{/* NOTIFIER_PUBLIC_URL, where people (acknowledge links) and Twilio (callbacks) reach the notifier:
notifier.publicUrl, else https:// and the first host of the notifier's Ingress; empty when the operator sets it
(notifier.env or an extraEnv entry) or nothing tells (the notifier then warns, or refuses a real Twilio account). */}}
{{- define "alertrouter.notifierPublicUrl" -}}
{{- $n := .Values.notifier }}
{{- $given := hasKey $n.env "NOTIFIER_PUBLIC_URL" }}
{{- range concat (.Values.extraEnv | default list) ($n.extraEnv | default list) }}
{{- if eq .name "NOTIFIER_PUBLIC_URL" }}{{- $given = true }}{{- end }}
{{- end }}
{{- if not $given }}
{{- if $n.publicUrl }}
{{- $n.publicUrl | trimSuffix "/" }}
{{- else if and $n.ingress.enabled $n.ingress.hosts }}
{{- printf "https://%s" (first $n.ingress.hosts).host }}
{{- end }}
{{- end }}
{{- end }}

{{/* NOTIFIER_* variables read from the Secret: notifier.secretEnv plus the keys of secrets.notifier. */}}
{{- define "alertrouter.notifierSecretNames" -}}
{{- concat .Values.notifier.secretEnv (keys .Values.secrets.notifier) | uniq | sortAlpha | join "," }}
{{- end }}

{{- define "alertrouter.notifierSecretEnv" -}}
{{- $secret := include "alertrouter.secretName" . }}
{{- range $name := splitList "," (include "alertrouter.notifierSecretNames" .) }}
{{- if $name }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $name }}
      optional: true
{{- end }}
{{- end }}
{{- end }}

{{/*
Fails when the migrations hook would refer to a Secret or ConfigMap that extraObjects creates as an ordinary
release object: Helm runs pre-install/pre-upgrade hooks before those exist (on a first install, or an upgrade that
adds them), so the Job's pod would wait for it until activeDeadlineSeconds. Objects that are hooks themselves
(helm.sh/hook with pre-install, weight at most the Job's 0) exist in time. References marked optional do not
hold a pod back and are not checked. Call with (dict "root" $ "envFrom" list).
*/}}
{{- define "alertrouter.migrationsNeedNoReleaseObject" -}}
{{- $root := .root }}
{{- $late := list }}
{{- range $root.Values.extraObjects }}
{{- $text := tpl (ternary . (toYaml .) (typeIs "string" .)) $root }}
{{- range $doc := regexSplit "(?m)^---[ \t]*$" $text -1 }}
{{- $object := fromYaml $doc }}
{{- $kind := get $object "kind" | default "" }}
{{- if has $kind (list "Secret" "ConfigMap") }}
{{- $hook := dig "metadata" "annotations" "helm.sh/hook" "" $object }}
{{- $weight := dig "metadata" "annotations" "helm.sh/hook-weight" "0" $object | int }}
{{- if not (and (regexMatch "(^|,) *pre-install *(,|$)" $hook) (le $weight 0)) }}
{{- $late = append $late (printf "%s/%s" $kind (dig "metadata" "name" "" $object)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if $late }}
{{- $m := $root.Values.migrations }}
{{- $refs := list }}
{{- $fromHint := "or keep it out of the hook's envFrom (migrations.extraEnvFrom; the chart-wide extraEnvFrom reaches the hook only with migrations.inheritExtraEnvFrom, off by default)" }}
{{- $componentHint := "or move the entry to the components that need it (their own extraEnv, extraVolumes and extraVolumeMounts do not reach the hook)" }}
{{- range .envFrom }}
{{- if and .secretRef (not .secretRef.optional) }}{{ $refs = append $refs (list (printf "Secret/%s" .secretRef.name) "envFrom" $fromHint) }}{{ end }}
{{- if and .configMapRef (not .configMapRef.optional) }}{{ $refs = append $refs (list (printf "ConfigMap/%s" .configMapRef.name) "envFrom" $fromHint) }}{{ end }}
{{- end }}
{{- range concat ($root.Values.extraEnv | default list) ($m.extraEnv | default list) }}
{{- $from := .valueFrom | default dict }}
{{- if and $from.secretKeyRef (not $from.secretKeyRef.optional) }}{{ $refs = append $refs (list (printf "Secret/%s" $from.secretKeyRef.name) "extraEnv" $componentHint) }}{{ end }}
{{- if and $from.configMapKeyRef (not $from.configMapKeyRef.optional) }}{{ $refs = append $refs (list (printf "ConfigMap/%s" $from.configMapKeyRef.name) "extraEnv" $componentHint) }}{{ end }}
{{- end }}
{{- range concat ($root.Values.extraVolumes | default list) ($m.extraVolumes | default list) }}
{{- $sources := list . }}
{{- with .projected }}{{ $sources = concat $sources (.sources | default list) }}{{ end }}
{{- range $sources }}
{{- if and .secret (not .secret.optional) }}{{ $refs = append $refs (list (printf "Secret/%s" (.secret.secretName | default .secret.name)) "extraVolumes" $componentHint) }}{{ end }}
{{- if and .configMap (not .configMap.optional) }}{{ $refs = append $refs (list (printf "ConfigMap/%s" .configMap.name) "extraVolumes" $componentHint) }}{{ end }}
{{- end }}
{{- end }}
{{- range $root.Values.imagePullSecrets }}
{{- $refs = append $refs (list (printf "Secret/%s" .name) "imagePullSecrets" "or create it before the release") }}
{{- end }}
{{- range $refs }}
{{- if has (first .) $late }}
{{- fail (printf "migrations: the hook Job's %s refers to %s, which extraObjects creates: Helm runs the migrations hook before the release's own objects exist, so a first install would wait for it until migrations.activeDeadlineSeconds and fail. Make that object a hook that comes first (annotations helm.sh/hook: pre-install,pre-upgrade and helm.sh/hook-weight: \"-5\"), %s" (index . 1) (first .) (index . 2)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The migrations hook's environment; call with (dict "root" $ "secretName" name). */}}
{{- define "alertrouter.migrationEnv" -}}
{{ include "alertrouter.databaseUrlEnv" . }}
- name: LOG_LEVEL
  value: {{ .root.Values.logging.level | quote }}
- name: LOG_FORMAT
  value: {{ .root.Values.logging.format | quote }}
{{- end }}
