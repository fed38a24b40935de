{{/* Names, labels and shared fragments of the llm-gateway chart. */}}

{{- define "llm-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "llm-gateway.fullname" -}}
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

{{- define "llm-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "llm-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "llm-gateway.labels" -}}
helm.sh/chart: {{ include "llm-gateway.chart" . }}
app.kubernetes.io/name: {{ include "llm-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llm-gateway
{{- end -}}

{{- define "llm-gateway.redis.fullname" -}}
{{- printf "%s-redis" (include "llm-gateway.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "llm-gateway.redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{- define "llm-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "llm-gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "llm-gateway.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the client keys: the operator's, or the chart's. */}}
{{- define "llm-gateway.authSecretName" -}}
{{- default (include "llm-gateway.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{/* Whether the chart creates its own Secret (keys, or an external Redis URL). */}}
{{- define "llm-gateway.createSecret" -}}
{{- if or (not .Values.auth.existingSecret) (and .Values.redis.url (not .Values.redis.existingSecret)) .Values.metrics.key -}}
true
{{- end -}}
{{- end -}}

{{- define "llm-gateway.policiesConfigMapName" -}}
{{- default (printf "%s-policies" (include "llm-gateway.fullname" .)) .Values.policies.existingConfigMap -}}
{{- end -}}

{{/* The client keys the chart stores: given ones, the ones already in the cluster, or a new one. */}}
{{- define "llm-gateway.apiKeys" -}}
{{- if .Values.auth.apiKeys -}}
{{- join "," .Values.auth.apiKeys -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "llm-gateway.fullname" .) -}}
{{- if and $existing $existing.data (hasKey $existing.data "GATEWAY_API_KEYS") -}}
{{- index $existing.data "GATEWAY_API_KEYS" | b64dec -}}
{{- else -}}
{{- printf "sk-gw-%s" (randAlphaNum 40) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* OTEL_RESOURCE_ATTRIBUTES from tracing.resourceAttributes: key=value pairs in key order. */}}
{{- define "llm-gateway.tracing.resourceAttributes" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%v" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}
