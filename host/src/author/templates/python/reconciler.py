"""{{name}}: a replacement for ecs-operator's built-in `{{name}}` reconciler, in Python.

It starts as the built-in's logic: the ECS Controller's ConfigMap, Service, Deployment and
PodDisruptionBudget, and the component's status from its observed pods; the recorded case in
cases/ holds what the built-in renders, so `ecs-operator plugin test` passes until you change what
it renders (then record the new goldens with --update and review them). A reconciler runs for every
cluster, in place of the built-in of its name: the operator runs it only with
`--allow-override {{name}}`.

`ecs-operator plugin build` makes a WebAssembly component of this module (componentize-py, against
wit/plugin.wit, world reconciler); the host calls `describe`, `validate` and `reconcile` on a fresh
instance each time: keep no state, and expect no files, network, environment or clock. Objects are
JSON documents; the host stamps their namespace, labels and owner, and checks them against its
output policy (allowed kinds and fields, Pod Security "restricted", names, references).
"""

import json

from componentize_py_types import Err
from wit_world import WitWorld as World
from wit_world.imports import types

NAME = "{{name}}"
VERSION = "0.1.0"
# The contract version of wit/plugin.wit this plugin was written against; the host checks it.
CONTRACT = "{{contract}}"
# The `component` label of everything it emits (a replacement keeps the built-in's).
COMPONENT = "ecs-controller"

REST_PORT = 10080
GRPC_PORT = 9090
DEFAULT_VERSION = "0.4.0"
MAX_REPLICAS = 1000
# Container-aware heap sizing; exiting on OOM lets Kubernetes restart a wedged JVM.
JVM_DEFAULTS = [
    "-Xms512m",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:+CrashOnOutOfMemoryError",
    "-XX:+UseContainerSupport",
    "-XX:MaxRAMPercentage=50.0",
]
CLUSTER_NAME_PROPERTY = "ecsservice.clusterName"
DEFAULT_RESOURCES = {
    "requests": {"cpu": "250m", "memory": "512Mi"},
    "limits": {"cpu": "500m", "memory": "1Gi"},
}
RUN_AS_USER = 1000


def validate_spec(spec):
    """Every problem of the controller's part of spec.ecs, sorted."""
    ecs = spec["ecs"]
    errors = []
    if not ecs["image"]["repository"].strip():
        errors.append(("spec.ecs.image.repository", "must not be empty"))
    replicas = ecs["controllerReplicas"]
    if replicas < 1:
        why = "clients and segment store nodes need a controller"
        errors.append(("spec.ecs.controllerReplicas", f"must be at least 1 (got {replicas}): {why}"))
    elif replicas > MAX_REPLICAS:
        errors.append(("spec.ecs.controllerReplicas", f"must be at most {MAX_REPLICAS} (got {replicas})"))
    for key, value in sorted(ecs.get("options", {}).items()):
        if not key or any(c.isspace() or c == "=" for c in key):
            message = "option names must be non-empty, without whitespace or '=' (they become -Dname=value)"
            errors.append((f"spec.ecs.options.{key}", message))
        elif any(c.isspace() for c in value):
            message = "option values must not contain whitespace (they are passed in JAVA_OPTS)"
            errors.append((f"spec.ecs.options.{key}", message))
    jvm = ecs.get("controllerJvmOptions", {})
    for field in ("memoryOpts", "gcOpts", "extraOpts"):
        for i, flag in enumerate(jvm.get(field, [])):
            if not flag.lstrip().startswith("-"):
                message = f"JVM flags must start with '-' (got {json.dumps(flag)})"
                errors.append((f"spec.ecs.controllerJvmOptions.{field}[{i}]", message))
    return [types.FieldError(path, message) for path, message in sorted(errors)]


def jvm_flag_key(flag):
    """A flag's identity: a user's flag replaces the default with the same identity."""
    for prefix in ("-Xmx", "-Xms", "-Xss", "-Xmn"):
        if flag.startswith(prefix):
            return prefix
    if flag.startswith("-XX:"):
        return "-XX:" + flag[4:].lstrip("+-").split("=")[0]
    if flag.startswith("-D"):
        return flag.split("=")[0]
    return flag


def merge_jvm_options(defaults, user):
    out = []
    for flag in defaults + user:
        flag = flag.strip()
        if not flag:
            continue
        keys = [jvm_flag_key(f) for f in out]
        key = jvm_flag_key(flag)
        if key in keys:
            out[keys.index(key)] = flag
        else:
            out.append(flag)
    return out


def java_opts(cluster, spec):
    ecs = spec["ecs"]
    jvm = ecs.get("controllerJvmOptions", {})
    user = jvm.get("memoryOpts", []) + jvm.get("gcOpts", []) + jvm.get("extraOpts", [])
    opts = merge_jvm_options(JVM_DEFAULTS, user)
    options = ecs.get("options", {})
    opts.append(f"-D{CLUSTER_NAME_PROPERTY}={options.get(CLUSTER_NAME_PROPERTY, cluster.name)}")
    opts += [f"-D{key}={value}" for key, value in sorted(options.items()) if key != CLUSTER_NAME_PROPERTY]
    return opts


def labels(cluster):
    return {"app": "ecs-cluster", "ecs_cluster": cluster.name, "component": COMPONENT}


def meta(cluster, name):
    return {"name": name, "namespace": cluster.namespace, "labels": labels(cluster)}


def image(spec, version):
    """`<repository>:<version>`: the version the host chose (it may be rolling an upgrade)."""
    ecs_image = spec["ecs"]["image"]
    if not version:
        version = spec.get("version") or ecs_image.get("tag") or DEFAULT_VERSION
    return f"{ecs_image['repository']}:{version}"


def objects(cluster, spec, version):
    n = cluster.name
    name = f"{n}-ecs-controller"
    ecs = spec["ecs"]
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(cluster, name),
        "data": {
            "CLUSTER_NAME": n,
            "ZK_URL": spec["zookeeperUri"],
            "WAIT_FOR": spec["zookeeperUri"],
            "REST_SERVER_PORT": str(REST_PORT),
            "CONTROLLER_SERVER_PORT": str(GRPC_PORT),
            "JAVA_OPTS": " ".join(java_opts(cluster, spec)),
        },
    }
    access = spec.get("externalAccess", {})
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(cluster, name),
        "spec": {
            "type": access.get("type", "LoadBalancer") if access.get("enabled") else "ClusterIP",
            "ports": [
                {"name": "rest", "port": REST_PORT, "protocol": "TCP", "targetPort": REST_PORT},
                {"name": "grpc", "port": GRPC_PORT, "protocol": "TCP", "targetPort": GRPC_PORT},
            ],
            "selector": labels(cluster),
        },
    }
    container = {
        "name": "ecs-controller",
        "image": image(spec, version),
        "imagePullPolicy": ecs["image"].get("pullPolicy", "IfNotPresent"),
        # The ECS image runs the controller or a segment store node depending on its argument.
        "args": ["controller"],
        "ports": [
            {"name": "rest", "containerPort": REST_PORT, "protocol": "TCP"},
            {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
        ],
        "envFrom": [{"configMapRef": {"name": name}}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
        # Ready once clients can reach gRPC; alive as long as the REST server answers.
        "readinessProbe": {"tcpSocket": {"port": GRPC_PORT}, "initialDelaySeconds": 20, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": REST_PORT}, "initialDelaySeconds": 60, "periodSeconds": 15},
        "resources": ecs.get("controllerResources") or DEFAULT_RESOURCES,
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    pod_spec = {
        "containers": [container],
        # Pod Security "restricted": a non-root user whose group owns the volumes.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Spread over hosts, yet still schedulable on a cluster with fewer hosts than controllers.
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": labels(cluster)},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
    }
    if ecs.get("controllerServiceAccountName"):
        pod_spec["serviceAccountName"] = ecs["controllerServiceAccountName"]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(cluster, name),
        "spec": {
            "replicas": ecs["controllerReplicas"],
            "selector": {"matchLabels": labels(cluster)},
            "template": {"metadata": {"labels": labels(cluster)}, "spec": pod_spec},
        },
    }
    # Keeps one controller up during voluntary disruptions (node drains).
    budget = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(cluster, name),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels(cluster)}},
    }
    return [config_map, service, deployment, budget]


def component_status(cluster, desired, observed):
    """The component's status from its observed pods (those labelled with it), by pod name."""
    pods = []
    for document in observed:
        pod = json.loads(document)
        pod_labels = pod.get("metadata", {}).get("labels", {})
        if (
            pod.get("kind") == "Pod"
            and pod_labels.get("ecs_cluster") == cluster.name
            and pod_labels.get("component") == COMPONENT
            and not pod["metadata"].get("deletionTimestamp")
        ):
            pods.append(pod)
    pods.sort(key=lambda p: p["metadata"].get("name", ""))
    ready, unready, versions = [], [], []
    for pod in pods:
        conditions = pod.get("status", {}).get("conditions", [])
        is_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        (ready if is_ready else unready).append(pod["metadata"].get("name", ""))
        containers = pod.get("spec", {}).get("containers", [])
        tag = None
        if containers and ":" in containers[0].get("image", ""):
            tag = containers[0]["image"].rsplit(":", 1)[1]
            tag = None if "/" in tag else tag
        if not versions or versions[-1] != tag:
            versions.append(tag)
    current = versions[0] if len(versions) == 1 else None
    return types.ComponentStatus(COMPONENT, max(desired, 0), len(ready), ready, unready, current)


class WitWorld(World):
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(NAME, VERSION, types.PluginKind.RECONCILER, CONTRACT, COMPONENT, [])

    def validate(self, cluster: types.Cluster) -> list[types.FieldError]:
        return validate_spec(json.loads(cluster.spec))

    def reconcile(self, input: types.ReconcileInput) -> types.Plan:
        cluster = input.cluster
        spec = json.loads(cluster.spec)
        # The host validates first; checking again keeps a bad spec from the API server.
        errors = validate_spec(spec)
        if errors:
            raise Err(types.PluginError_InvalidInput(errors))
        documents = objects(cluster, spec, input.versions.controller)
        return types.Plan(
            objects=[json.dumps(d) for d in documents],
            status=component_status(cluster, spec["ecs"]["controllerReplicas"], input.observed),
            events=[],
            # Its metadata lives in the cluster's ZooKeeper tree, which goes with the cluster.
            cleanup=[types.Cleanup_ZookeeperTree(f"/ecs/{cluster.name}")],
        )
