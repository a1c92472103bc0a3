{{- define "shop.summary" -}}
{{ .Release.Name }}: {{ len .Chart.Dependencies }} dependencies, environment {{ .Values.global.environment }}
{{- end }}
