// {{name}}: a replacement for ecs-operator's built-in `{{name}}` reconciler, in JavaScript.
//
// It starts as the built-in's logic: the ECS Controller's ConfigMap, Service, Deployment and
// PodDisruptionBudget, and the component's status from its observed pods; the recorded case in
// cases/ holds what the built-in renders, so `ecs-operator plugin test` passes until you change what
// it renders (then record the new goldens with --update and review them). A reconciler runs for
// every cluster, in place of the built-in of its name: the operator runs it only with
// `--allow-override {{name}}`.
//
// `ecs-operator plugin build` makes a WebAssembly component of this module (componentize-js, against
// wit/plugin.wit, world reconciler); the host calls `describe`, `validate` and `reconcile` on a fresh
// instance each time: keep no state, and expect no files, network, environment or clock. WIT names
// become camelCase, enums and variant tags stay kebab-case strings, and a thrown `{tag, val}` is the
// `err` of a `result`. Objects are JSON documents; the host stamps their namespace, labels and owner,
// and checks them against its output policy (allowed kinds and fields, Pod Security "restricted",
// names, references).

const NAME = '{{name}}';
const VERSION = '0.1.0';
// The contract version of wit/plugin.wit this plugin was written against; the host checks it.
const CONTRACT = '{{contract}}';
// The `component` label of everything it emits (a replacement keeps the built-in's).
const COMPONENT = 'ecs-controller';

const REST_PORT = 10080;
const GRPC_PORT = 9090;
const DEFAULT_VERSION = '0.4.0';
const MAX_REPLICAS = 1000;
// Container-aware heap sizing; exiting on OOM lets Kubernetes restart a wedged JVM.
const JVM_DEFAULTS = [
  '-Xms512m',
  '-XX:+ExitOnOutOfMemoryError',
  '-XX:+CrashOnOutOfMemoryError',
  '-XX:+UseContainerSupport',
  '-XX:MaxRAMPercentage=50.0',
];
const CLUSTER_NAME_PROPERTY = 'ecsservice.clusterName';
const DEFAULT_RESOURCES = {
  requests: { cpu: '250m', memory: '512Mi' },
  limits: { cpu: '500m', memory: '1Gi' },
};
const RUN_AS_USER = 1000;

const byKey = ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0);
const hasSpace = (s) => /\s/.test(s);

/** Every problem of the controller's part of spec.ecs, sorted by path, then message. */
function validateSpec(spec) {
  const ecs = spec.ecs;
  const errors = [];
  if (ecs.image.repository.trim() === '') {
    errors.push(['spec.ecs.image.repository', 'must not be empty']);
  }
  const replicas = ecs.controllerReplicas;
  if (replicas < 1) {
    const why = 'clients and segment store nodes need a controller';
    errors.push(['spec.ecs.controllerReplicas', `must be at least 1 (got ${replicas}): ${why}`]);
  } else if (replicas > MAX_REPLICAS) {
    errors.push(['spec.ecs.controllerReplicas', `must be at most ${MAX_REPLICAS} (got ${replicas})`]);
  }
  for (const [key, value] of Object.entries(ecs.options ?? {}).sort(byKey)) {
    if (key === '' || hasSpace(key) || key.includes('=')) {
      errors.push([
        `spec.ecs.options.${key}`,
        "option names must be non-empty, without whitespace or '=' (they become -Dname=value)",
      ]);
    } else if (hasSpace(value)) {
      errors.push([`spec.ecs.options.${key}`, 'option values must not contain whitespace (they are passed in JAVA_OPTS)']);
    }
  }
  const jvm = ecs.controllerJvmOptions ?? {};
  for (const field of ['memoryOpts', 'gcOpts', 'extraOpts']) {
    (jvm[field] ?? []).forEach((flag, i) => {
      if (!flag.trimStart().startsWith('-')) {
        errors.push([
          `spec.ecs.controllerJvmOptions.${field}[${i}]`,
          `JVM flags must start with '-' (got ${JSON.stringify(flag)})`,
        ]);
      }
    });
  }
  errors.sort((a, b) => byKey(a, b) || byKey([a[1]], [b[1]]));
  return errors.map(([path, message]) => ({ path, message }));
}

/** A flag's identity: a user's flag replaces the default with the same identity. */
function jvmFlagKey(flag) {
  for (const prefix of ['-Xmx', '-Xms', '-Xss', '-Xmn']) {
    if (flag.startsWith(prefix)) return prefix;
  }
  if (flag.startsWith('-XX:')) return '-XX:' + flag.slice(4).replace(/^[+-]+/, '').split('=')[0];
  if (flag.startsWith('-D')) return flag.split('=')[0];
  return flag;
}

function mergeJvmOptions(defaults, user) {
  const out = [];
  for (let flag of [...defaults, ...user]) {
    flag = flag.trim();
    if (flag === '') continue;
    const i = out.findIndex((f) => jvmFlagKey(f) === jvmFlagKey(flag));
    if (i >= 0) out[i] = flag;
    else out.push(flag);
  }
  return out;
}

function javaOpts(cluster, spec) {
  const ecs = spec.ecs;
  const jvm = ecs.controllerJvmOptions ?? {};
  const user = [...(jvm.memoryOpts ?? []), ...(jvm.gcOpts ?? []), ...(jvm.extraOpts ?? [])];
  const opts = mergeJvmOptions(JVM_DEFAULTS, user);
  const options = ecs.options ?? {};
  opts.push(`-D${CLUSTER_NAME_PROPERTY}=${options[CLUSTER_NAME_PROPERTY] ?? cluster.name}`);
  for (const [key, value] of Object.entries(options).sort(byKey)) {
    if (key !== CLUSTER_NAME_PROPERTY) opts.push(`-D${key}=${value}`);
  }
  return opts;
}

const labels = (cluster) => ({ app: 'ecs-cluster', ecs_cluster: cluster.name, component: COMPONENT });
const meta = (cluster, name) => ({ name, namespace: cluster.namespace, labels: labels(cluster) });

/** `<repository>:<version>`: the version the host chose (it may be rolling an upgrade). */
function image(spec, version) {
  const ecsImage = spec.ecs.image;
  return `${ecsImage.repository}:${version || spec.version || ecsImage.tag || DEFAULT_VERSION}`;
}

function objects(cluster, spec, version) {
  const name = `${cluster.name}-ecs-controller`;
  const ecs = spec.ecs;
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(cluster, name),
    data: {
      CLUSTER_NAME: cluster.name,
      ZK_URL: spec.zookeeperUri,
      WAIT_FOR: spec.zookeeperUri,
      REST_SERVER_PORT: String(REST_PORT),
      CONTROLLER_SERVER_PORT: String(GRPC_PORT),
      JAVA_OPTS: javaOpts(cluster, spec).join(' '),
    },
  };
  const access = spec.externalAccess ?? {};
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cluster, name),
    spec: {
      type: access.enabled ? access.type ?? 'LoadBalancer' : 'ClusterIP',
      ports: [
        { name: 'rest', port: REST_PORT, protocol: 'TCP', targetPort: REST_PORT },
        { name: 'grpc', port: GRPC_PORT, protocol: 'TCP', targetPort: GRPC_PORT },
      ],
      selector: labels(cluster),
    },
  };
  const container = {
    name: 'ecs-controller',
    image: image(spec, version),
    imagePullPolicy: ecs.image.pullPolicy ?? 'IfNotPresent',
    // The ECS image runs the controller or a segment store node depending on its argument.
    args: ['controller'],
    ports: [
      { name: 'rest', containerPort: REST_PORT, protocol: 'TCP' },
      { name: 'grpc', containerPort: GRPC_PORT, protocol: 'TCP' },
    ],
    envFrom: [{ configMapRef: { name } }],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ],
    // Ready once clients can reach gRPC; alive as long as the REST server answers.
    readinessProbe: { tcpSocket: { port: GRPC_PORT }, initialDelaySeconds: 20, periodSeconds: 10 },
    livenessProbe: { tcpSocket: { port: REST_PORT }, initialDelaySeconds: 60, periodSeconds: 15 },
    resources: ecs.controllerResources ?? DEFAULT_RESOURCES,
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
  const podSpec = {
    containers: [container],
    // Pod Security "restricted": a non-root user whose group owns the volumes.
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      fsGroup: RUN_AS_USER,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    },
    // Spread over hosts, yet still schedulable on a cluster with fewer hosts than controllers.
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: { labelSelector: { matchLabels: labels(cluster) }, topologyKey: 'kubernetes.io/hostname' },
          },
        ],
      },
    },
  };
  if (ecs.controllerServiceAccountName) podSpec.serviceAccountName = ecs.controllerServiceAccountName;
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(cluster, name),
    spec: {
      replicas: ecs.controllerReplicas,
      selector: { matchLabels: labels(cluster) },
      template: { metadata: { labels: labels(cluster) }, spec: podSpec },
    },
  };
  // Keeps one controller up during voluntary disruptions (node drains).
  const budget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(cluster, name),
    spec: { minAvailable: 1, selector: { matchLabels: labels(cluster) } },
  };
  return [configMap, service, deployment, budget];
}

/** The component's status from its observed pods (those labelled with it), by pod name. */
function componentStatus(cluster, desired, observed) {
  const pods = observed
    .map((d) => JSON.parse(d))
    .filter((p) => {
      const l = p.metadata?.labels ?? {};
      return p.kind === 'Pod' && l.ecs_cluster === cluster.name && l.component === COMPONENT && !p.metadata.deletionTimestamp;
    })
    .sort((a, b) => byKey([a.metadata.name ?? ''], [b.metadata.name ?? '']));
  const ready = [];
  const unready = [];
  const versions = [];
  for (const pod of pods) {
    const isReady = (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    (isReady ? ready : unready).push(pod.metadata.name ?? '');
    const image = pod.spec?.containers?.[0]?.image ?? '';
    const at = image.lastIndexOf(':');
    let tag = at >= 0 ? image.slice(at + 1) : null;
    if (tag !== null && tag.includes('/')) tag = null;
    if (versions.length === 0 || versions[versions.length - 1] !== tag) versions.push(tag);
  }
  return {
    component: COMPONENT,
    desiredReplicas: Math.max(desired, 0),
    readyReplicas: ready.length,
    readyMembers: ready,
    unreadyMembers: unready,
    currentVersion: versions.length === 1 && versions[0] !== null ? versions[0] : undefined,
  };
}

export function describe() {
  return { name: NAME, version: VERSION, kind: 'reconciler', contract: CONTRACT, component: COMPONENT, capabilities: [] };
}

export function validate(cluster) {
  return validateSpec(JSON.parse(cluster.spec));
}

export function reconcile(input) {
  const cluster = input.cluster;
  const spec = JSON.parse(cluster.spec);
  // The host validates first; checking again keeps a bad spec from the API server.
  const errors = validateSpec(spec);
  if (errors.length) throw { tag: 'invalid-input', val: errors };
  return {
    objects: objects(cluster, spec, input.versions.controller).map((d) => JSON.stringify(d)),
    status: componentStatus(cluster, spec.ecs.controllerReplicas, input.observed),
    events: [],
    // Its metadata lives in the cluster's ZooKeeper tree, which goes with the cluster.
    cleanup: [{ tag: 'zookeeper-tree', val: `/ecs/${cluster.name}` }],
  };
}
