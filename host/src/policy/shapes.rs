//! The allow-lists: every field a plugin may set, per kind. A field missing here is refused, so a
//! new Kubernetes field (or an old dangerous one: `nodeName`, `hostAliases`, `ephemeralContainers`,
//! `shareProcessNamespace`, `sysctls`, volume sources such as `hostPath`, `gitRepo`, `flexVolume`,
//! `iscsi`, `image` or `csi`, Service `externalIPs`...) stays out until someone decides it is safe
//! and lists it. Values are checked further by the rules in `pod.rs`, `objects.rs` and `tier2.rs`.

use super::shape::{BOOL, STR, Shape};

const NAME: Shape = Shape::Str(253);
/// Bounds that keep a plan reviewable; honest plans are far below them.
const PORTS: usize = 32;
const ITEMS: usize = 64;
const ENV: usize = 256;

/// Label values are at most 63 bytes; annotations may hold more.
static LABELS: Shape = Shape::StrMap(16, 63);
static SELECTOR_LABELS: Shape = Shape::StrMap(8, 63);
static ANNOTATIONS: Shape = Shape::StrMap(16, 4096);

pub static STR_LIST: Shape = Shape::List(ITEMS, &STR);
static COMMAND: Shape = Shape::List(256, &STR);

// ---- Metadata: what plugins may say about an object. Ownership, finalizers and every
// server-populated field are the host's (or the API server's).
pub static METADATA: Shape =
    Shape::Object(&[("name", &NAME), ("namespace", &NAME), ("labels", &LABELS), ("annotations", &ANNOTATIONS)]);
/// Pod templates' metadata: labels and annotations only.
pub static TEMPLATE_METADATA: Shape = Shape::Object(&[("labels", &LABELS), ("annotations", &ANNOTATIONS)]);

// ---- Selectors: exact labels only (expressions could select anything).
pub static LABEL_SELECTOR: Shape = Shape::Object(&[("matchLabels", &SELECTOR_LABELS)]);

// ---- Containers.
static PORT: Shape = Shape::Object(&[
    ("name", &Shape::Str(15)),
    ("containerPort", &Shape::Int(1, 65535)),
    ("protocol", &Shape::OneOf(&["TCP", "UDP", "SCTP"])),
]);
static KEY_REF: Shape = Shape::Object(&[("name", &NAME), ("key", &STR), ("optional", &BOOL)]);
static FIELD_REF: Shape = Shape::Object(&[("fieldPath", &STR), ("apiVersion", &Shape::OneOf(&["v1"]))]);
static RESOURCE_FIELD_REF: Shape =
    Shape::Object(&[("containerName", &STR), ("resource", &STR), ("divisor", &Shape::Quantity)]);
static ENV_SOURCE: Shape = Shape::Object(&[
    ("fieldRef", &FIELD_REF),
    ("resourceFieldRef", &RESOURCE_FIELD_REF),
    ("configMapKeyRef", &KEY_REF),
    ("secretKeyRef", &KEY_REF),
]);
static ENV_VAR: Shape = Shape::Object(&[("name", &Shape::Str(256)), ("value", &STR), ("valueFrom", &ENV_SOURCE)]);
static NAME_REF: Shape = Shape::Object(&[("name", &NAME), ("optional", &BOOL)]);
static ENV_FROM: Shape =
    Shape::Object(&[("configMapRef", &NAME_REF), ("secretRef", &NAME_REF), ("prefix", &Shape::Str(64))]);
pub static VOLUME_MOUNT: Shape =
    Shape::Object(&[("name", &NAME), ("mountPath", &STR), ("readOnly", &BOOL), ("subPath", &STR)]);
static RESOURCES: Shape = Shape::Object(&[("requests", &Shape::QuantityMap), ("limits", &Shape::QuantityMap)]);
static EXEC: Shape = Shape::Object(&[("command", &COMMAND)]);
static TCP_SOCKET: Shape = Shape::Object(&[("port", &Shape::IntOrStr(65535))]);
static HTTP_HEADER: Shape = Shape::Object(&[("name", &STR), ("value", &STR)]);
// No `host`: the kubelet would connect to it, wherever it is.
static HTTP_GET: Shape = Shape::Object(&[
    ("path", &STR),
    ("port", &Shape::IntOrStr(65535)),
    ("scheme", &Shape::OneOf(&["HTTP", "HTTPS"])),
    ("httpHeaders", &Shape::List(16, &HTTP_HEADER)),
]);
static GRPC: Shape = Shape::Object(&[("port", &Shape::Int(1, 65535)), ("service", &STR)]);
static SECONDS: Shape = Shape::Int(0, 3600);
static PROBE: Shape = Shape::Object(&[
    ("exec", &EXEC),
    ("tcpSocket", &TCP_SOCKET),
    ("httpGet", &HTTP_GET),
    ("grpc", &GRPC),
    ("initialDelaySeconds", &SECONDS),
    ("periodSeconds", &SECONDS),
    ("timeoutSeconds", &SECONDS),
    ("successThreshold", &Shape::Int(1, 100)),
    ("failureThreshold", &Shape::Int(1, 100)),
    ("terminationGracePeriodSeconds", &SECONDS),
]);
static SECCOMP: Shape =
    Shape::Object(&[("type", &Shape::OneOf(&["RuntimeDefault", "Localhost"])), ("localhostProfile", &STR)]);
static APPARMOR: Shape =
    Shape::Object(&[("type", &Shape::OneOf(&["RuntimeDefault", "Localhost"])), ("localhostProfile", &STR)]);
/// User and group ids: non-negative 32-bit integers (root is refused by Pod Security).
static ID: Shape = Shape::Int(0, i32::MAX as i64);
static CAPABILITIES: Shape =
    Shape::Object(&[("add", &Shape::List(4, &Shape::OneOf(&["NET_BIND_SERVICE"]))), ("drop", &STR_LIST)]);
static CONTAINER_SECURITY: Shape = Shape::Object(&[
    ("allowPrivilegeEscalation", &BOOL),
    ("privileged", &BOOL),
    ("capabilities", &CAPABILITIES),
    ("readOnlyRootFilesystem", &BOOL),
    ("runAsNonRoot", &BOOL),
    ("runAsUser", &ID),
    ("runAsGroup", &ID),
    ("seccompProfile", &SECCOMP),
    ("appArmorProfile", &APPARMOR),
    ("procMount", &Shape::OneOf(&["Default"])),
]);
pub static CONTAINER: Shape = Shape::Object(&[
    ("name", &Shape::Str(63)),
    ("image", &Shape::Str(512)),
    ("imagePullPolicy", &Shape::OneOf(&["Always", "IfNotPresent", "Never"])),
    ("command", &COMMAND),
    ("args", &COMMAND),
    ("workingDir", &STR),
    ("ports", &Shape::List(PORTS, &PORT)),
    ("env", &Shape::List(ENV, &ENV_VAR)),
    ("envFrom", &Shape::List(16, &ENV_FROM)),
    ("resources", &RESOURCES),
    ("volumeMounts", &Shape::List(ITEMS, &VOLUME_MOUNT)),
    ("livenessProbe", &PROBE),
    ("readinessProbe", &PROBE),
    ("startupProbe", &PROBE),
    ("securityContext", &CONTAINER_SECURITY),
    ("terminationMessagePath", &STR),
    ("terminationMessagePolicy", &Shape::OneOf(&["File", "FallbackToLogsOnError"])),
]);

// ---- Volumes. `nfs` is listed here only so that its shape is checked; whether a plugin may use it
// at all is a capability (`pod.rs`).
static KEY_TO_PATH: Shape = Shape::Object(&[("key", &STR), ("path", &STR), ("mode", &Shape::Int(0, 0o777))]);
static CONFIG_MAP_VOLUME: Shape = Shape::Object(&[
    ("name", &NAME),
    ("items", &Shape::List(ITEMS, &KEY_TO_PATH)),
    ("defaultMode", &Shape::Int(0, 0o777)),
    ("optional", &BOOL),
]);
static SECRET_VOLUME: Shape = Shape::Object(&[
    ("secretName", &NAME),
    ("items", &Shape::List(ITEMS, &KEY_TO_PATH)),
    ("defaultMode", &Shape::Int(0, 0o777)),
    ("optional", &BOOL),
]);
pub static CLAIM_VOLUME: Shape = Shape::Object(&[("claimName", &NAME), ("readOnly", &BOOL)]);
static EMPTY_DIR: Shape = Shape::Object(&[("medium", &Shape::OneOf(&["", "Memory"])), ("sizeLimit", &Shape::Quantity)]);
static DOWNWARD_FILE: Shape = Shape::Object(&[
    ("path", &STR),
    ("fieldRef", &FIELD_REF),
    ("resourceFieldRef", &RESOURCE_FIELD_REF),
    ("mode", &Shape::Int(0, 0o777)),
]);
static DOWNWARD_API: Shape =
    Shape::Object(&[("items", &Shape::List(ITEMS, &DOWNWARD_FILE)), ("defaultMode", &Shape::Int(0, 0o777))]);
static PROJECTED_CONFIG_MAP: Shape =
    Shape::Object(&[("name", &NAME), ("items", &Shape::List(ITEMS, &KEY_TO_PATH)), ("optional", &BOOL)]);
static PROJECTED_DOWNWARD: Shape = Shape::Object(&[("items", &Shape::List(ITEMS, &DOWNWARD_FILE))]);
// No `serviceAccountToken`, `clusterTrustBundle` or `podCertificate`: credentials come from the
// pod's own service account, which the spec names.
static PROJECTION: Shape = Shape::Object(&[
    ("configMap", &PROJECTED_CONFIG_MAP),
    ("secret", &PROJECTED_CONFIG_MAP),
    ("downwardAPI", &PROJECTED_DOWNWARD),
]);
static PROJECTED: Shape =
    Shape::Object(&[("sources", &Shape::List(16, &PROJECTION)), ("defaultMode", &Shape::Int(0, 0o777))]);
static CLAIM_TEMPLATE_METADATA: Shape = Shape::Object(&[("labels", &LABELS)]);
static EPHEMERAL_TEMPLATE: Shape = Shape::Object(&[("metadata", &CLAIM_TEMPLATE_METADATA), ("spec", &CLAIM_SPEC)]);
static EPHEMERAL: Shape = Shape::Object(&[("volumeClaimTemplate", &EPHEMERAL_TEMPLATE)]);
pub static NFS: Shape = Shape::Object(&[("server", &Shape::Str(253)), ("path", &STR), ("readOnly", &BOOL)]);
pub static VOLUME: Shape = Shape::Object(&[
    ("name", &Shape::Str(63)),
    ("configMap", &CONFIG_MAP_VOLUME),
    ("secret", &SECRET_VOLUME),
    ("persistentVolumeClaim", &CLAIM_VOLUME),
    ("emptyDir", &EMPTY_DIR),
    ("downwardAPI", &DOWNWARD_API),
    ("projected", &PROJECTED),
    ("ephemeral", &EPHEMERAL),
    ("nfs", &NFS),
]);
// ---- Pod spec.
static POD_SECURITY: Shape = Shape::Object(&[
    ("runAsNonRoot", &BOOL),
    ("runAsUser", &ID),
    ("runAsGroup", &ID),
    ("fsGroup", &ID),
    ("fsGroupChangePolicy", &Shape::OneOf(&["OnRootMismatch", "Always"])),
    ("supplementalGroups", &Shape::List(16, &ID)),
    ("supplementalGroupsPolicy", &Shape::OneOf(&["Merge", "Strict"])),
    ("seccompProfile", &SECCOMP),
    ("appArmorProfile", &APPARMOR),
]);
static AFFINITY_TERM: Shape = Shape::Object(&[("labelSelector", &LABEL_SELECTOR), ("topologyKey", &Shape::Str(316))]);
static WEIGHTED_TERM: Shape = Shape::Object(&[("weight", &Shape::Int(1, 100)), ("podAffinityTerm", &AFFINITY_TERM)]);
static POD_AFFINITY: Shape = Shape::Object(&[
    ("requiredDuringSchedulingIgnoredDuringExecution", &Shape::List(8, &AFFINITY_TERM)),
    ("preferredDuringSchedulingIgnoredDuringExecution", &Shape::List(8, &WEIGHTED_TERM)),
]);
// No node affinity: placing pods on chosen nodes is the cluster admin's business, like `nodeName`.
static AFFINITY: Shape = Shape::Object(&[("podAffinity", &POD_AFFINITY), ("podAntiAffinity", &POD_AFFINITY)]);
static TOLERATION: Shape = Shape::Object(&[
    ("key", &Shape::Str(316)),
    ("operator", &Shape::OneOf(&["Equal", "Exists"])),
    ("value", &Shape::Str(63)),
    ("effect", &Shape::OneOf(&["NoSchedule", "PreferNoSchedule", "NoExecute"])),
    ("tolerationSeconds", &Shape::Int(0, 86400)),
]);
static SPREAD: Shape = Shape::Object(&[
    ("maxSkew", &Shape::Int(1, 1000)),
    ("topologyKey", &Shape::Str(316)),
    ("whenUnsatisfiable", &Shape::OneOf(&["DoNotSchedule", "ScheduleAnyway"])),
    ("labelSelector", &LABEL_SELECTOR),
    ("minDomains", &Shape::Int(1, 1000)),
]);
static LOCAL_REF: Shape = Shape::Object(&[("name", &NAME)]);
pub static POD_SPEC: Shape = Shape::Object(&[
    ("containers", &Shape::List(8, &CONTAINER)),
    ("initContainers", &Shape::List(8, &CONTAINER)),
    ("volumes", &Shape::List(ITEMS, &VOLUME)),
    ("serviceAccountName", &NAME),
    ("automountServiceAccountToken", &BOOL),
    ("securityContext", &POD_SECURITY),
    ("affinity", &AFFINITY),
    ("tolerations", &Shape::List(16, &TOLERATION)),
    ("topologySpreadConstraints", &Shape::List(8, &SPREAD)),
    ("priorityClassName", &NAME),
    ("terminationGracePeriodSeconds", &SECONDS),
    ("activeDeadlineSeconds", &Shape::Int(1, 7 * 86400)),
    ("restartPolicy", &Shape::OneOf(&["Always", "OnFailure", "Never"])),
    ("dnsPolicy", &Shape::OneOf(&["ClusterFirst", "Default"])),
    ("enableServiceLinks", &BOOL),
    ("imagePullSecrets", &Shape::List(8, &LOCAL_REF)),
]);
pub static POD_TEMPLATE: Shape = Shape::Object(&[("metadata", &TEMPLATE_METADATA), ("spec", &POD_SPEC)]);

// ---- Claims: size, class and access, never a binding to an existing volume (`volumeName`,
// `selector`, `dataSource`, `dataSourceRef` are listed so that their shape is known; `references.rs`
// allows them only where the plan or the spec provides the volume).
static CLAIM_RESOURCES: Shape = Shape::Object(&[("requests", &Shape::QuantityMap), ("limits", &Shape::QuantityMap)]);
static TYPED_REF: Shape = Shape::Object(&[("apiGroup", &STR), ("kind", &STR), ("name", &NAME), ("namespace", &NAME)]);
pub static CLAIM_SPEC: Shape = Shape::Object(&[
    (
        "accessModes",
        &Shape::List(4, &Shape::OneOf(&["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"])),
    ),
    ("resources", &CLAIM_RESOURCES),
    ("storageClassName", &Shape::Str(253)),
    ("volumeMode", &Shape::OneOf(&["Filesystem", "Block"])),
    ("volumeName", &NAME),
    ("selector", &LABEL_SELECTOR),
    ("dataSource", &TYPED_REF),
    ("dataSourceRef", &TYPED_REF),
]);
static CLAIM_TEMPLATE: Shape = Shape::Object(&[
    ("apiVersion", &Shape::OneOf(&["v1"])),
    ("kind", &Shape::OneOf(&["PersistentVolumeClaim"])),
    ("metadata", &Shape::Object(&[("name", &Shape::Str(63)), ("labels", &LABELS)])),
    ("spec", &CLAIM_SPEC),
]);

// ---- Kinds. (ConfigMap values may be whole files, e.g. a CA bundle: up to 1 MiB here, and the
// runtime bounds each object's size as a whole.)
const REPLICAS: Shape = Shape::Int(0, ecs_plugin_sdk::spec::MAX_REPLICAS as i64);

pub static CONFIG_MAP: Shape = Shape::Object(&[
    ("apiVersion", &STR),
    ("kind", &STR),
    ("metadata", &METADATA),
    ("data", &Shape::StrMap(256, 1 << 20)),
]);

static SERVICE_PORT: Shape = Shape::Object(&[
    ("name", &Shape::Str(63)),
    ("port", &Shape::Int(1, 65535)),
    ("targetPort", &Shape::IntOrStr(65535)),
    ("protocol", &Shape::OneOf(&["TCP", "UDP", "SCTP"])),
    ("appProtocol", &STR),
]);
static SERVICE_SPEC: Shape = Shape::Object(&[
    ("type", &Shape::OneOf(&["ClusterIP", "NodePort", "LoadBalancer"])),
    // Only "None" (headless): a chosen address could take one another Service wants.
    ("clusterIP", &Shape::OneOf(&["None"])),
    ("ports", &Shape::List(PORTS, &SERVICE_PORT)),
    ("selector", &SELECTOR_LABELS),
    ("publishNotReadyAddresses", &BOOL),
    ("sessionAffinity", &Shape::OneOf(&["None", "ClientIP"])),
    ("externalTrafficPolicy", &Shape::OneOf(&["Cluster", "Local"])),
    ("internalTrafficPolicy", &Shape::OneOf(&["Cluster", "Local"])),
    ("ipFamilyPolicy", &Shape::OneOf(&["SingleStack", "PreferDualStack", "RequireDualStack"])),
    ("ipFamilies", &Shape::List(2, &Shape::OneOf(&["IPv4", "IPv6"]))),
]);
pub static SERVICE: Shape =
    Shape::Object(&[("apiVersion", &STR), ("kind", &STR), ("metadata", &METADATA), ("spec", &SERVICE_SPEC)]);

static ROLLING_STS: Shape = Shape::Object(&[("partition", &REPLICAS), ("maxUnavailable", &Shape::IntOrStr(1000))]);
static STS_STRATEGY: Shape =
    Shape::Object(&[("type", &Shape::OneOf(&["RollingUpdate", "OnDelete"])), ("rollingUpdate", &ROLLING_STS)]);
static RETENTION: Shape = Shape::Object(&[
    ("whenDeleted", &Shape::OneOf(&["Retain", "Delete"])),
    ("whenScaled", &Shape::OneOf(&["Retain", "Delete"])),
]);
static STS_SPEC: Shape = Shape::Object(&[
    ("replicas", &REPLICAS),
    ("selector", &LABEL_SELECTOR),
    ("serviceName", &Shape::Str(63)),
    ("template", &POD_TEMPLATE),
    ("volumeClaimTemplates", &Shape::List(8, &CLAIM_TEMPLATE)),
    ("podManagementPolicy", &Shape::OneOf(&["OrderedReady", "Parallel"])),
    ("updateStrategy", &STS_STRATEGY),
    ("revisionHistoryLimit", &Shape::Int(0, 100)),
    ("minReadySeconds", &SECONDS),
    ("persistentVolumeClaimRetentionPolicy", &RETENTION),
]);
pub static STATEFUL_SET: Shape =
    Shape::Object(&[("apiVersion", &STR), ("kind", &STR), ("metadata", &METADATA), ("spec", &STS_SPEC)]);

static ROLLING_DEPLOY: Shape =
    Shape::Object(&[("maxSurge", &Shape::IntOrStr(1000)), ("maxUnavailable", &Shape::IntOrStr(1000))]);
static DEPLOY_STRATEGY: Shape =
    Shape::Object(&[("type", &Shape::OneOf(&["RollingUpdate", "Recreate"])), ("rollingUpdate", &ROLLING_DEPLOY)]);
static DEPLOY_SPEC: Shape = Shape::Object(&[
    ("replicas", &REPLICAS),
    ("selector", &LABEL_SELECTOR),
    ("template", &POD_TEMPLATE),
    ("strategy", &DEPLOY_STRATEGY),
    ("revisionHistoryLimit", &Shape::Int(0, 100)),
    ("minReadySeconds", &SECONDS),
    ("progressDeadlineSeconds", &Shape::Int(1, 86400)),
]);
pub static DEPLOYMENT: Shape =
    Shape::Object(&[("apiVersion", &STR), ("kind", &STR), ("metadata", &METADATA), ("spec", &DEPLOY_SPEC)]);

// A Job runs its pod once, as first planned (the host never updates a Job); no selector of its own.
static JOB_SPEC: Shape = Shape::Object(&[
    ("backoffLimit", &Shape::Int(0, 10)),
    ("activeDeadlineSeconds", &Shape::Int(1, 7 * 86400)),
    ("template", &POD_TEMPLATE),
]);
pub static JOB: Shape =
    Shape::Object(&[("apiVersion", &STR), ("kind", &STR), ("metadata", &METADATA), ("spec", &JOB_SPEC)]);

static PDB_SPEC: Shape = Shape::Object(&[
    ("minAvailable", &Shape::IntOrStr(1000)),
    ("maxUnavailable", &Shape::IntOrStr(1000)),
    ("selector", &LABEL_SELECTOR),
    ("unhealthyPodEvictionPolicy", &Shape::OneOf(&["IfHealthyBudget", "AlwaysAllow"])),
]);
pub static PDB: Shape =
    Shape::Object(&[("apiVersion", &STR), ("kind", &STR), ("metadata", &METADATA), ("spec", &PDB_SPEC)]);

pub static CLAIM: Shape =
    Shape::Object(&[("apiVersion", &STR), ("kind", &STR), ("metadata", &METADATA), ("spec", &CLAIM_SPEC)]);

// A PersistentVolume's only source is NFS: network storage, never the node's disks or a CSI driver
// of the plugin's choosing.
static PV_CLAIM_REF: Shape = Shape::Object(&[
    ("apiVersion", &Shape::OneOf(&["v1"])),
    ("kind", &Shape::OneOf(&["PersistentVolumeClaim"])),
    ("namespace", &NAME),
    ("name", &NAME),
]);
static PV_SPEC: Shape = Shape::Object(&[
    ("capacity", &Shape::QuantityMap),
    (
        "accessModes",
        &Shape::List(4, &Shape::OneOf(&["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"])),
    ),
    ("persistentVolumeReclaimPolicy", &Shape::OneOf(&["Retain", "Delete"])),
    ("storageClassName", &Shape::Str(253)),
    ("claimRef", &PV_CLAIM_REF),
    ("mountOptions", &Shape::List(16, &Shape::Str(256))),
    ("volumeMode", &Shape::OneOf(&["Filesystem", "Block"])),
    ("nfs", &NFS),
]);
pub static PERSISTENT_VOLUME: Shape =
    Shape::Object(&[("apiVersion", &STR), ("kind", &STR), ("metadata", &METADATA), ("spec", &PV_SPEC)]);

/// The allow-list of a kind.
pub fn of_kind(kind: &str) -> Option<&'static Shape> {
    Some(match kind {
        "ConfigMap" => &CONFIG_MAP,
        "Service" => &SERVICE,
        "StatefulSet" => &STATEFUL_SET,
        "Deployment" => &DEPLOYMENT,
        "Job" => &JOB,
        "PodDisruptionBudget" => &PDB,
        "PersistentVolumeClaim" => &CLAIM,
        "PersistentVolume" => &PERSISTENT_VOLUME,
        _ => return None,
    })
}
