{{/* Redis: which one (a URL in a Secret, an address by parts, or the in-chart one), its AUTH
from an existing Secret and the CA of its TLS certificate. No password is ever written into a
rendered manifest: it reaches the pod through secretKeyRef, and the gateway passes it to the
client beside the URL. */}}

{{/* Whether an external Redis is configured (a URL, a URL Secret, or an address). */}}
{{- define "llm-gateway.redis.external" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret .Values.redis.host -}}
true
{{- end -}}
{{- end -}}

{{- define "llm-gateway.redis.hasCA" -}}
{{- if or .Values.redis.tlsCA.existingSecret .Values.redis.tlsCA.existingConfigMap -}}
true
{{- end -}}
{{- end -}}

{{/* GATEWAY_REDIS_URL composed from redis.host: no secret in it, so a plain value. */}}
{{- define "llm-gateway.redis.hostUrl" -}}
{{- $r := .Values.redis -}}
{{- printf "%s%s://%s:%d/%d" (ternary "rediss" "redis" $r.tls) (ternary "+cluster" "" $r.cluster) $r.host (int $r.port) (int $r.database) -}}
{{- end -}}

{{/* Refuse values that contradict each other, naming them. */}}
{{- define "llm-gateway.redis.check" -}}
{{- $r := .Values.redis -}}
{{- $count := 0 -}}
{{- range (list $r.url $r.existingSecret $r.host $r.internal.enabled) }}{{ if . }}{{ $count = add1 $count }}{{ end }}{{ end -}}
{{- if gt $count 1 -}}
{{- fail "redis: set only one of redis.url, redis.existingSecret, redis.host and redis.internal.enabled" -}}
{{- end -}}
{{- if and (or $r.cluster $r.tls) (not $r.host) -}}
{{- fail "redis.cluster and redis.tls describe redis.host; in redis.url write the scheme (rediss+cluster://...)" -}}
{{- end -}}
{{- if and $r.cluster (ne (int $r.database) 0) -}}
{{- fail "redis.database: a Redis Cluster has database 0 only" -}}
{{- end -}}
{{- $external := include "llm-gateway.redis.external" . -}}
{{- if and $r.auth.existingSecret (not $external) -}}
{{- fail "redis.auth is for an external Redis (redis.url, redis.existingSecret or redis.host); the in-chart one has no password" -}}
{{- end -}}
{{- if and (or $r.auth.username $r.auth.existingSecretUsernameKey) (not $r.auth.existingSecret) -}}
{{- fail "redis.auth.username needs redis.auth.existingSecret (the user's password)" -}}
{{- end -}}
{{- if and $r.auth.username $r.auth.existingSecretUsernameKey -}}
{{- fail "redis.auth: set redis.auth.username or redis.auth.existingSecretUsernameKey, not both" -}}
{{- end -}}
{{- if and $r.auth.existingSecret (contains "@" $r.url) -}}
{{- fail "redis: redis.url carries credentials and redis.auth.existingSecret too; keep them in one place" -}}
{{- end -}}
{{- if include "llm-gateway.redis.hasCA" . -}}
{{- if and $r.tlsCA.existingSecret $r.tlsCA.existingConfigMap -}}
{{- fail "redis.tlsCA: set existingSecret or existingConfigMap, not both" -}}
{{- end -}}
{{- if not $external -}}
{{- fail "redis.tlsCA is for an external Redis with TLS" -}}
{{- end -}}
{{- if or (and $r.host (not $r.tls)) (and $r.url (not (hasPrefix "rediss" $r.url))) -}}
{{- fail "redis.tlsCA needs TLS: redis.tls with redis.host, or a rediss:// redis.url" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The gateway container's GATEWAY_REDIS_* variables. */}}
{{- define "llm-gateway.redis.env" -}}
{{- $r := .Values.redis -}}
{{- if $r.url }}
- name: GATEWAY_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "llm-gateway.fullname" . }}
      key: GATEWAY_REDIS_URL
{{- else if $r.existingSecret }}
- name: GATEWAY_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $r.existingSecret }}
      key: {{ $r.existingSecretKey }}
{{- else if $r.host }}
- name: GATEWAY_REDIS_URL
  value: {{ include "llm-gateway.redis.hostUrl" . | quote }}
{{- else if $r.internal.enabled }}
- name: GATEWAY_REDIS_URL
  value: {{ printf "redis://%s:6379/0" (include "llm-gateway.redis.fullname" .) | quote }}
{{- end }}
{{- with $r.auth.existingSecret }}
- name: GATEWAY_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $r.auth.existingSecretPasswordKey }}
{{- if $r.auth.username }}
- name: GATEWAY_REDIS_USERNAME
  value: {{ $r.auth.username | quote }}
{{- else if $r.auth.existingSecretUsernameKey }}
- name: GATEWAY_REDIS_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $r.auth.existingSecretUsernameKey }}
{{- end }}
{{- end }}
{{- if include "llm-gateway.redis.hasCA" . }}
- name: GATEWAY_REDIS_CA_FILE
  value: /etc/llm-gateway/redis-ca/ca.crt
{{- end }}
{{- end -}}

{{/* The CA's volume (its one key as ca.crt) and mount, when redis.tlsCA names one. */}}
{{- define "llm-gateway.redis.caVolume" -}}
{{- $ca := .Values.redis.tlsCA -}}
- name: redis-ca
  {{- if $ca.existingSecret }}
  secret:
    secretName: {{ $ca.existingSecret }}
    items:
      - key: {{ $ca.key }}
        path: ca.crt
  {{- else }}
  configMap:
    name: {{ $ca.existingConfigMap }}
    items:
      - key: {{ $ca.key }}
        path: ca.crt
  {{- end }}
{{- end -}}

{{- define "llm-gateway.redis.caMount" -}}
- name: redis-ca
  mountPath: /etc/llm-gateway/redis-ca
  readOnly: true
{{- end -}}
