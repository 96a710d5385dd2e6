{{/* The release's full name: the release name if it contains the chart's, else release-chart. */}}
{{- define "ecs-operator.fullname" -}}
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

{{/* Cluster-scoped objects carry the namespace too: releases in two namespaces must not share them. */}}
{{- define "ecs-operator.clusterName" -}}
{{- printf "%s-%s" (include "ecs-operator.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "ecs-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ecs-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ecs-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Not app.kubernetes.io/managed-by=ecs-operator: that label marks the objects the operator manages. */}}
{{- define "ecs-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ecs-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
The operator's rules in the namespaces it watches: the same as deploy/role.yaml's Role, rule for
rule (host/tests/helm.rs compares them).
*/}}
{{- define "ecs-operator.namespacedRules" -}}
# Watch ECSClusters; patch is for the finalizer that cleans up Tier-2 PersistentVolumes.
- apiGroups: ["ecs.ecs.io"]
  resources: ["ecsclusters"]
  verbs: ["get", "list", "watch", "patch"]
# Write conditions, members and versions.
- apiGroups: ["ecs.ecs.io"]
  resources: ["ecsclusters/status"]
  verbs: ["get", "patch", "update"]
# The objects the plugins render: server-side apply needs create + patch; delete prunes objects a
# spec edit made unnecessary. PersistentVolumeClaims are created (Tier-2) and watched (the bookies'),
# and deleted only for a bookie whose decommission succeeded, by UID.
- apiGroups: [""]
  resources: ["configmaps", "services", "persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["statefulsets", "deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# A bookie removed by a scale-down is decommissioned by a Job.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Pod readiness becomes status.members and the Ready condition; rolling upgrades delete one pod
# at a time (its StatefulSet recreates it on the new template).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "delete"]
# Events on the ECSCluster (created/updated objects, invalid specs, plugin faults, readiness).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# Leader election: the ecs-operator-leader Lease.
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update", "patch"]
{{- end -}}

{{/*
PersistentVolumes are cluster-scoped: only the Google Filestore Tier-2 (and plugins granted
emits:PersistentVolume) create them; the operator deletes them when their cluster is deleted.
The same as deploy/role.yaml's ClusterRole.
*/}}
{{- define "ecs-operator.clusterRules" -}}
- apiGroups: [""]
  resources: ["persistentvolumes"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
{{- end -}}

{{- define "ecs-operator.subjects" -}}
- kind: ServiceAccount
  name: {{ include "ecs-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}
