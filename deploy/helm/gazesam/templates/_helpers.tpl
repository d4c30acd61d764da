{{/* Names and labels shared by every object of the chart. */}}

{{- define "gazesam.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 55 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 55 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gazesam.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component (triton | proxy): call with (list . "triton"). */}}
{{- define "gazesam.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The headless Service of the Triton pods: the proxy resolves every ready replica through it. */}}
{{- define "gazesam.tritonService" -}}
{{- printf "%s-triton" (include "gazesam.fullname" .) -}}
{{- end -}}

{{- define "gazesam.tritonServiceHost" -}}
{{- printf "%s.%s.svc.%s" (include "gazesam.tritonService" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* Refuse values that would cut in-flight requests off or break the routing. */}}
{{- define "gazesam.checkValues" -}}
{{- $needed := add .Values.termination.preStopSleepSeconds .Values.triton.exitTimeoutSeconds -}}
{{- if le (int .Values.termination.gracePeriodSeconds) (int $needed) -}}
{{- fail (printf "termination.gracePeriodSeconds (%v) must exceed termination.preStopSleepSeconds + triton.exitTimeoutSeconds (%v): Kubernetes would kill Triton before its in-flight requests finish" .Values.termination.gracePeriodSeconds $needed) -}}
{{- end -}}
{{- if not (regexMatch "^[a-z0-9-]+$" .Values.proxy.streamIdHeader) -}}
{{- fail (printf "proxy.streamIdHeader %q must be a lower-case header name (gRPC metadata keys are lower case)" .Values.proxy.streamIdHeader) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" -}}
{{- end -}}
{{- end -}}
