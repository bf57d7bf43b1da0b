{{/* Names and labels shared by every template. */}}
{{- define "live-migration.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "live-migration.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains (include "live-migration.name" .) .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "live-migration.name" .) | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "live-migration.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "live-migration.labels" -}}
helm.sh/chart: {{ include "live-migration.chart" . }}
app.kubernetes.io/name: {{ include "live-migration.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: live-migration
{{- end -}}

{{/* Labels of one component: (dict "root" $ "component" "webhook") */}}
{{- define "live-migration.componentLabels" -}}
{{ include "live-migration.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "live-migration.selectorLabels" -}}
app.kubernetes.io/name: {{ include "live-migration.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "live-migration.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Cluster-scoped objects carry the namespace too, so two releases of one name never collide. */}}
{{- define "live-migration.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "live-migration.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "live-migration.webhookService" -}}
{{ include "live-migration.fullname" . }}-webhook
{{- end -}}

{{/* The webhook name suffix: unique per release (webhook names must be unique within a configuration). */}}
{{- define "live-migration.webhookDomain" -}}
{{ include "live-migration.fullname" . }}.{{ .Release.Namespace }}.live-migration.io
{{- end -}}

{{- define "live-migration.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "live-migration.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Pod placement and pull secrets of one component's values: (dict "root" $ "values" .Values.webhook) */}}
{{- define "live-migration.podPlacement" -}}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* DNS names of the webhook Service, for its serving certificate. */}}
{{- define "live-migration.webhookDnsNames" -}}
{{- $svc := include "live-migration.webhookService" . -}}
{{- list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) | toJson -}}
{{- end -}}

{{/*
The nodes that run an agent, as a JSON list: agent.nodes when set, else the cluster's Nodes (lookup,
those matching agent.nodeSelector). Each gets its own certificate naming it and its own DaemonSet
mounting only that certificate: one identity per node. A node added later gets an agent on the
next `helm upgrade`. `helm template` (no cluster) renders agents for agent.nodes only.
*/}}
{{- define "live-migration.agentNodes" -}}
{{- $nodes := list -}}
{{- if .Values.agent.nodes -}}
{{- $nodes = .Values.agent.nodes -}}
{{- else -}}
{{- range $node := (lookup "v1" "Node" "" "").items | default list -}}
{{- $labels := $node.metadata.labels | default dict -}}
{{- $match := true -}}
{{- range $key, $value := $.Values.agent.nodeSelector -}}
{{- if ne (index $labels $key | default "") $value -}}{{- $match = false -}}{{- end -}}
{{- end -}}
{{- if $match -}}{{- $nodes = append $nodes $node.metadata.name -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $nodes | toJson -}}
{{- end -}}

{{/* The name a node's agent certificate carries; the reconciler accepts no other from that node. */}}
{{- define "live-migration.agentServerName" -}}
{{- printf "%s.agent.live-migration.io" . -}}
{{- end -}}

{{/*
The three webhooks, given the caBundle (generated certificates) or none (cert-manager's cainjector
fills it in from the annotation): (dict "root" $ "caBundle" "...")
*/}}
{{- define "live-migration.webhookConfigurations" -}}
{{- $root := .root -}}
{{- $fullname := include "live-migration.fullname" $root -}}
{{- $domain := include "live-migration.webhookDomain" $root -}}
{{- $namespaceSelector := $root.Values.webhook.namespaceSelector -}}
{{- if not $namespaceSelector -}}
{{- $namespaceSelector = dict "matchExpressions" (list (dict "key" "kubernetes.io/metadata.name" "operator" "NotIn" "values" (list "kube-system" $root.Release.Namespace))) -}}
{{- end -}}
{{- $vmimRule := dict "apiGroups" (list "kubevirt.io") "apiVersions" (list "v1" "v1alpha3") "resources" (list "virtualmachineinstancemigrations") "scope" "Namespaced" -}}
{{- $clientConfig := dict "service" (dict "name" (include "live-migration.webhookService" $root) "namespace" $root.Release.Namespace "port" (int $root.Values.webhook.service.port)) -}}
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {{ include "live-migration.clusterName" $root }}
  labels:
    {{- include "live-migration.componentLabels" (dict "root" $root "component" "webhook") | nindent 4 }}
  {{- if $root.Values.certManager.enabled }}
  annotations:
    cert-manager.io/inject-ca-from: {{ $root.Release.Namespace }}/{{ $fullname }}-webhook
  {{- end }}
webhooks:
  - name: mutate.vmim.{{ $domain }}
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: {{ $root.Values.webhook.failurePolicy }}
    timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
    namespaceSelector:
      {{- toYaml $namespaceSelector | nindent 6 }}
    clientConfig:
      {{- toYaml (merge (dict "service" (merge (dict "path" "/mutate-migration") $clientConfig.service)) (ternary (dict "caBundle" .caBundle) dict (ne .caBundle ""))) | nindent 6 }}
    {{- /* UPDATE: puts back spec.migrationConfiguration a client that does not know it dropped. The reconciler's own updates are left out, as below. */}}
    matchConditions:
      - name: not-reconciler-updates
        expression: {{ printf "!(request.operation == 'UPDATE' && request.userInfo.username == 'system:serviceaccount:%s:%s-reconciler')" $root.Release.Namespace $fullname | quote }}
    rules:
      - {{- toYaml (merge (dict "operations" (list "CREATE" "UPDATE")) $vmimRule) | nindent 8 }}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {{ include "live-migration.clusterName" $root }}
  labels:
    {{- include "live-migration.componentLabels" (dict "root" $root "component" "webhook") | nindent 4 }}
  {{- if $root.Values.certManager.enabled }}
  annotations:
    cert-manager.io/inject-ca-from: {{ $root.Release.Namespace }}/{{ $fullname }}-webhook
  {{- end }}
webhooks:
  - name: validate.vmim.{{ $domain }}
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: {{ $root.Values.webhook.failurePolicy }}
    timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
    namespaceSelector:
      {{- toYaml $namespaceSelector | nindent 6 }}
    {{- /* The reconciler's own updates (finalizer removal) never wait on the webhook; its status writes go to a subresource the rules leave out. */}}
    matchConditions:
      - name: not-reconciler-updates
        expression: {{ printf "!(request.operation == 'UPDATE' && request.userInfo.username == 'system:serviceaccount:%s:%s-reconciler')" $root.Release.Namespace $fullname | quote }}
    clientConfig:
      {{- toYaml (merge (dict "service" (merge (dict "path" "/validate-migration") $clientConfig.service)) (ternary (dict "caBundle" .caBundle) dict (ne .caBundle ""))) | nindent 6 }}
    rules:
      - {{- toYaml (merge (dict "operations" (list "CREATE" "UPDATE")) $vmimRule) | nindent 8 }}
  - name: validate.vmi.{{ $domain }}
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: {{ $root.Values.webhook.failurePolicy }}
    timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
    namespaceSelector:
      {{- toYaml $namespaceSelector | nindent 6 }}
    {{- /* The subset this system runs, checked when a VMI is created; a VMI run by someone else (placement: external) is left out. */}}
    matchConditions:
      - name: not-external-vmis
        expression: {{ "!has(object.metadata.annotations) || !('live-migration.io/placement' in object.metadata.annotations) || object.metadata.annotations['live-migration.io/placement'] != 'external'" | quote }}
    clientConfig:
      {{- toYaml (merge (dict "service" (merge (dict "path" "/validate-vmi") $clientConfig.service)) (ternary (dict "caBundle" .caBundle) dict (ne .caBundle ""))) | nindent 6 }}
    rules:
      - apiGroups: [kubevirt.io]
        apiVersions: [v1, v1alpha3]
        resources: [virtualmachineinstances]
        operations: [CREATE]
        scope: Namespaced
  - name: validate.config.{{ $domain }}
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: {{ $root.Values.webhook.failurePolicy }}
    timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: {{ $root.Values.kubevirtConfig.namespace }}
    matchConditions:
      - name: only-kubevirt-config
        expression: {{ printf "object.metadata.name == '%s'" $root.Values.kubevirtConfig.name | quote }}
    clientConfig:
      {{- toYaml (merge (dict "service" (merge (dict "path" "/validate-config") $clientConfig.service)) (ternary (dict "caBundle" .caBundle) dict (ne .caBundle ""))) | nindent 6 }}
    rules:
      - apiGroups: [""]
        apiVersions: [v1]
        resources: [configmaps]
        operations: [CREATE, UPDATE]
        scope: Namespaced
{{- end -}}
