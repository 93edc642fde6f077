{{/* Names ------------------------------------------------------------------------- */}}

{{- define "warden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; objects add -policy or -executor (so at most 54 here). */}}
{{- define "warden.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "warden.policy.fullname" -}}
{{ include "warden.fullname" . }}-policy
{{- end }}

{{- define "warden.executor.fullname" -}}
{{ include "warden.fullname" . }}-executor
{{- end }}

{{- define "warden.executor.serviceAccountName" -}}
{{- default (include "warden.executor.fullname" .) .Values.executor.serviceAccount.name }}
{{- end }}

{{- define "warden.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Labels ------------------------------------------------------------------------ */}}

{{- define "warden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "warden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "warden.policy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "warden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: policy-service
{{- end }}

{{- define "warden.executor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "warden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: executor-service
{{- end }}

{{/* Secrets: each one the chart's, or the existing Secret the values name ------------- */}}

{{- define "warden.adminToken.name" -}}
{{- default (printf "%s-admin" (include "warden.fullname" .)) .Values.adminToken.existingSecret }}
{{- end }}

{{- define "warden.jwtSecret.name" -}}
{{- default (printf "%s-jwt" (include "warden.fullname" .)) .Values.jwtSecret.existingSecret }}
{{- end }}

{{- define "warden.database.secretName" -}}
{{- default (printf "%s-database" (include "warden.fullname" .)) .Values.database.existingSecret }}
{{- end }}

{{- define "warden.signingKey.secretName" -}}
{{- default (printf "%s-signing-key" (include "warden.fullname" .)) .Values.signingKey.existingSecret }}
{{- end }}

{{- define "warden.apiKeys.secretName" -}}
{{- default (printf "%s-api-keys" (include "warden.fullname" .)) .Values.policy.apiKeysExistingSecret }}
{{- end }}

{{/* Environment: `env` values must not set what the chart sets itself. --------------- */}}

{{- define "warden.extraEnv" -}}
{{- $reserved := .reserved }}
{{- range $name, $value := .env }}
{{- if has $name $reserved }}
{{- fail (printf "%s is set by the chart: use its own value instead of env" $name) }}
{{- end }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/*
The Kubernetes API permissions of the executor: exactly what `executor-service
permissions` prints, no more. scripts/check-deploy compares the rendered Roles with it.
*/}}
{{- define "warden.executor.rules" -}}
- apiGroups: [""]
  resources: [pods]
  verbs: [delete]
- apiGroups: [""]
  resources: [pods/eviction]
  verbs: [create]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [patch]
- apiGroups: [apps]
  resources: [deployments/scale, statefulsets/scale]
  verbs: [get, patch]
{{- end }}

{{/* Pod and container security, shared by both Deployments. ------------------------- */}}

{{- define "warden.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "warden.securityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}
