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

{{- define "warden.operators.secretName" -}}
{{- default (printf "%s-approvals" (include "warden.fullname" .)) .Values.approvals.operatorsExistingSecret }}
{{- end }}

{{- define "warden.webhooks.secretName" -}}
{{- default (printf "%s-approvals" (include "warden.fullname" .)) .Values.approvals.webhooks.existingSecret }}
{{- end }}

{{/* Approvals ----------------------------------------------------------------------- */}}

{{/*
Fails on what values.schema.json cannot see: a setting given two ways, OIDC given in
part, and operators that the executor would refuse at start-up (a repeated name or
token, the name of adminToken's identity). Messages name people, never a digest.
*/}}
{{- define "warden.approvals.validate" -}}
{{- $a := .Values.approvals }}
{{- if and $a.operators $a.operatorsExistingSecret }}
{{- fail "approvals: set approvals.operators or approvals.operatorsExistingSecret, not both" }}
{{- end }}
{{- if and $a.webhooks.urls $a.webhooks.existingSecret }}
{{- fail "approvals: set approvals.webhooks.urls or approvals.webhooks.existingSecret, not both" }}
{{- end }}
{{- if and $a.operators $a.webhooks.urls (eq $a.operatorsExistingSecretKey $a.webhooks.existingSecretKey) }}
{{- fail "approvals: operatorsExistingSecretKey and webhooks.existingSecretKey must differ: both go into the chart's approvals Secret" }}
{{- end }}
{{- $oidc := $a.oidc }}
{{- $missing := list }}
{{- range $key := list "issuer" "audience" "jwksUrl" }}
{{- if not (get $oidc $key) }}
{{- $missing = append $missing (printf "approvals.oidc.%s" $key) }}
{{- end }}
{{- end }}
{{- if and $missing (lt (len $missing) 3) }}
{{- fail (printf "approvals.oidc: set all of issuer, audience and jwksUrl, or none (%s missing)" (join ", " $missing)) }}
{{- end }}
{{- $names := list }}
{{- $digests := dict }}
{{- range $op := $a.operators }}
{{- $name := lower $op.name }}
{{- if has $name $names }}
{{- fail (printf "approvals.operators: the name %s appears twice" $op.name) }}
{{- end }}
{{- if and $.Values.adminToken.enabled (eq $name "admin") }}
{{- fail "approvals.operators: admin is the identity of adminToken; choose another name" }}
{{- end }}
{{- $digest := lower $op.tokenSha256 }}
{{- if hasKey $digests $digest }}
{{- fail (printf "approvals.operators: %s and %s have the same tokenSha256; give each person a token of their own" (get $digests $digest) $op.name) }}
{{- end }}
{{- $names = append $names $name }}
{{- $_ := set $digests $digest $op.name }}
{{- end }}
{{- end }}

{{/* EXECUTOR_OPERATORS from approvals.operators: name:role+role:SHA256HEX,... */}}
{{- define "warden.approvals.operators" -}}
{{- $entries := list }}
{{- range $op := .Values.approvals.operators }}
{{- $entries = append $entries (printf "%s:%s:%s" $op.name (join "+" $op.roles) $op.tokenSha256) }}
{{- end }}
{{- join "," $entries }}
{{- end }}

{{/* The executor's approval variables; secrets come from secretKeyRefs only. */}}
{{- define "warden.approvals.env" -}}
{{- include "warden.approvals.validate" . }}
{{- $a := .Values.approvals }}
{{- if or $a.operators $a.operatorsExistingSecret }}
- name: EXECUTOR_OPERATORS
  valueFrom:
    secretKeyRef:
      name: {{ include "warden.operators.secretName" . }}
      key: {{ $a.operatorsExistingSecretKey }}
{{- end }}
{{- if $a.oidc.issuer }}
- name: EXECUTOR_OIDC_ISSUER
  value: {{ $a.oidc.issuer | quote }}
- name: EXECUTOR_OIDC_AUDIENCE
  value: {{ $a.oidc.audience | quote }}
- name: EXECUTOR_OIDC_JWKS_URL
  value: {{ $a.oidc.jwksUrl | quote }}
- name: EXECUTOR_OIDC_ROLES_CLAIM
  value: {{ $a.oidc.rolesClaim | quote }}
{{- end }}
{{- if or $a.webhooks.urls $a.webhooks.existingSecret }}
- name: EXECUTOR_APPROVAL_WEBHOOK_URLS
  valueFrom:
    secretKeyRef:
      name: {{ include "warden.webhooks.secretName" . }}
      key: {{ $a.webhooks.existingSecretKey }}
{{- end }}
{{- if $a.publicUrl }}
- name: EXECUTOR_PUBLIC_URL
  value: {{ $a.publicUrl | quote }}
{{- end }}
- name: EXECUTOR_APPROVAL_SWEEP_SECONDS
  value: {{ $a.sweepSeconds | quote }}
- name: EXECUTOR_WEBHOOK_TIMEOUT_SECONDS
  value: {{ $a.webhookTimeoutSeconds | quote }}
- name: EXECUTOR_WEBHOOK_RETRIES
  value: {{ $a.webhookRetries | quote }}
{{- end }}

{{/* The approval variables the chart sets itself (executor.env must not). */}}
{{- define "warden.approvals.reserved" -}}
{{- list "EXECUTOR_OPERATORS" "EXECUTOR_OIDC_ISSUER" "EXECUTOR_OIDC_AUDIENCE" "EXECUTOR_OIDC_JWKS_URL" "EXECUTOR_OIDC_ROLES_CLAIM" "EXECUTOR_APPROVAL_WEBHOOK_URLS" "EXECUTOR_PUBLIC_URL" "EXECUTOR_APPROVAL_SWEEP_SECONDS" "EXECUTOR_WEBHOOK_TIMEOUT_SECONDS" "EXECUTOR_WEBHOOK_RETRIES" | toJson }}
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
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [events]
  verbs: [list]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, patch]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get]
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
