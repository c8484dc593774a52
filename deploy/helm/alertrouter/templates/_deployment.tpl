{{/*
One Deployment for one component. Call with a dict:
  root       the chart context ($)
  component  ingest | router-consumer | router-api | notifier (names, labels)
  service    ingest | router | notifier (image and CLI)
  args       the CLI's arguments (the role), a list
  port       container port
  values     the component's values block
  env        extra environment entries (a YAML list as a string) after the common ones
  ownership  mount the ownership configuration and the integration keys (ingest and router: both resolve keys)
  serves     takes requests through a Service or Ingress: sleeps preStopSleepSeconds in preStop, so the endpoint is
             removed before the process stops accepting connections
*/}}
{{- define "alertrouter.deployment" -}}
{{- $root := .root }}
{{- $c := .values }}
{{- $ctx := dict "root" $root "component" .component }}
{{- $extra := dict "root" $root "values" $c }}
{{- $preStop := ternary (int $root.Values.preStopSleepSeconds) 0 (and (eq .serves true) (gt (int $root.Values.preStopSleepSeconds) 0)) }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "alertrouter.componentName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "alertrouter.componentLabels" $ctx | nindent 4 }}
spec:
  {{- if not (and (eq .component "ingest") $c.autoscaling.enabled) }}
  replicas: {{ $c.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "alertrouter.componentSelectorLabels" $ctx | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "alertrouter.componentSelectorLabels" $ctx | nindent 8 }}
        {{- with (merge (dict) $c.podLabels $root.Values.podLabels) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "alertrouter.checksumAnnotations" (dict "root" $root "values" $c "ownership" .ownership) | trim | nindent 8 }}
        {{- with (merge (dict) $c.podAnnotations $root.Values.podAnnotations) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "alertrouter.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
      enableServiceLinks: false
      {{- /* The preStop sleep counts against the grace period: the process gets its whole drain time after it. */}}
      terminationGracePeriodSeconds: {{ add $preStop $c.terminationGracePeriodSeconds }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with (include "alertrouter.extraList" (merge (dict "key" "extraInitContainers") $extra)) }}
      initContainers:
        {{- . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "alertrouter.image" (dict "root" $root "service" .service) | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: [{{ printf "alertrouter-%s" .service | quote }}]
          {{- with .args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: http
              containerPort: {{ .port }}
              protocol: TCP
          env:
            {{- include "alertrouter.commonEnv" $root | nindent 12 }}
            {{- if .ownership }}
            - name: ALERTROUTER_CONFIG
              value: {{ $root.Values.config.mountPath | quote }}
            {{- end }}
            {{- with (.env | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with (include "alertrouter.extraEnv" $c.env | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with (include "alertrouter.extraList" (merge (dict "key" "extraEnv") $extra)) }}
            {{- . | nindent 12 }}
            {{- end }}
          {{- with (include "alertrouter.extraList" (merge (dict "key" "extraEnvFrom") $extra)) }}
          envFrom:
            {{- . | nindent 12 }}
          {{- end }}
          {{- include "alertrouter.probes" (dict "root" $root) | trim | nindent 10 }}
          {{- if $preStop }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", {{ $preStop | quote }}]
          {{- end }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if .ownership }}
            - name: config
              mountPath: {{ $root.Values.config.mountPath }}
              readOnly: true
            {{- end }}
            {{- if and .ownership (include "alertrouter.hasIntegrationKeys" $root) }}
            - name: integration-keys
              mountPath: {{ $root.Values.integrationKeys.mountPath }}
              readOnly: true
            {{- end }}
            {{- with (include "alertrouter.kafkaSecurityVolumes" (dict "root" $root "half" "mounts") | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with (include "alertrouter.extraList" (merge (dict "key" "extraVolumeMounts") $extra)) }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            medium: Memory
            sizeLimit: {{ $root.Values.tmpSizeLimit }}
        {{- if .ownership }}
        - name: config
          configMap:
            name: {{ include "alertrouter.configMapName" $root }}
        {{- end }}
        {{- if and .ownership (include "alertrouter.hasIntegrationKeys" $root) }}
        - name: integration-keys
          secret:
            secretName: {{ include "alertrouter.integrationKeysSecretName" $root }}
            defaultMode: 0440
        {{- end }}
        {{- with (include "alertrouter.kafkaSecurityVolumes" (dict "root" $root "half" "volumes") | trim) }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with (include "alertrouter.extraList" (merge (dict "key" "extraVolumes") $extra)) }}
        {{- . | nindent 8 }}
        {{- end }}
      {{- with (include "alertrouter.scheduling" (dict "root" $root "values" $c "component" .component) | trim) }}
      {{- . | nindent 6 }}
      {{- end }}
{{- end }}
