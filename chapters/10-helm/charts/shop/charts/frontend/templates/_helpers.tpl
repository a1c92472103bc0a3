{{- define "shop.summary" -}}
the frontend's own summary (the parent's definition of this name wins)
{{- end }}
