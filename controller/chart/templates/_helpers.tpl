{{/* Name of the chart. */}}
{{- define "benchflow.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's objects. */}}
{{- define "benchflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "benchflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "benchflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels that select the controller pods. */}}
{{- define "benchflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "benchflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The controller's service account. */}}
{{- define "benchflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "benchflow.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The admin service's objects' name. */}}
{{- define "benchflow.adminName" -}}
{{- printf "%s-admin" (include "benchflow.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the admin service's pods. */}}
{{- define "benchflow.adminSelectorLabels" -}}
app.kubernetes.io/name: {{ include "benchflow.name" . }}-admin
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The config file, as the controller loads it. An admin event sink
     without a URL reports to this release's admin Service. */}}
{{- define "benchflow.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- if and (eq (toString $cfg.events.sink) "admin") (not $cfg.events.admin.url) .Values.admin.enabled -}}
{{- $_ := set $cfg.events.admin "url" (printf "http://%s.%s.svc:%v" (include "benchflow.adminName" .) .Release.Namespace .Values.admin.port) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
