{{/*
common.labels: labels for any component. Takes a dict with "name" (the
component) and "context" (the caller's top-level object).
*/}}
{{- define "common.labels" -}}
{{- $ctx := .context -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
{{- range $k, $v := $ctx.Values.global.labels }}
app.kubernetes.io/{{ $k }}: {{ $v | quote }}
{{- end }}
environment: {{ $ctx.Values.global.environment | default "dev" }}
{{- end }}

{{- define "common.fullname" -}}
{{- printf "%s-%s" .context.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* a container port block, from a port number */}}
{{- define "common.port" -}}
- name: http
  containerPort: {{ . }}
{{- end }}
