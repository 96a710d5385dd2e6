// tier2-nfs-inline-js: a Tier-2 provider for ecs-operator, in JavaScript.
//
// It mounts an NFS export straight into the segment store pods (no PersistentVolume or claim to
// manage). A cluster selects it with
//
//     spec.ecs.tier2.plugin: {name: tier2-nfs-inline-js, config: {server: 10.0.0.2, path: /exports/ecs}}
//
// An inline NFS volume needs the `volumes:nfs` capability, which the operator's administrator grants
// (`--grant tier2-nfs-inline-js=volumes:nfs`); `ecs-operator plugin test` grants what the plugin declares.
//
// `ecs-operator plugin build` makes a WebAssembly component of this module (componentize-js, against
// wit/plugin.wit, world tier2-provider); `ecs-operator plugin test` runs the recorded cases in cases/.
// WIT names become camelCase (`config-path` -> `configPath`), enums and variant tags stay kebab-case
// strings, and a thrown `{tag, val}` is the `err` of a `result`. The host calls `describe`,
// `validate` and `provide` on a fresh instance each time: keep no state, and expect no files,
// network, environment or clock (frozen at the Unix epoch).

import { log } from 'ecs:plugin/logging@0.2.0';

const NAME = 'tier2-nfs-inline-js';
const VERSION = '0.1.0';
// The contract version of wit/plugin.wit this plugin was written against; the host checks it.
const CONTRACT = '0.2.0';
// Value of the `component` label on objects the plugin emits (it emits none).
const COMPONENT = 'tier2';

// Where the segment store nodes see a filesystem Tier-2.
const VOLUME = 'tier2';
const MOUNT_PATH = '/mnt/tier2';

// The configuration's fields: JSON type, required, default.
const FIELDS = {
  server: { type: 'string', required: true },
  path: { type: 'string', required: true },
  readOnly: { type: 'boolean', required: false, default: false },
};

/** How serde names a JSON value's type in its messages. */
function jsonKind(value) {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return `boolean \`${value}\``;
  if (typeof value === 'number') return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (Array.isArray(value)) return 'sequence';
  return 'map';
}

/** The configuration, or the first problem as a field error at the field it concerns. */
function parseConfig(input) {
  const at = input.configPath;
  const config = JSON.parse(input.config);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    return { error: { path: at, message: `invalid type: ${jsonKind(config)}, expected struct Config` } };
  }
  const parsed = {};
  for (const [key, value] of Object.entries(config)) {
    const field = FIELDS[key];
    if (!Object.hasOwn(FIELDS, key)) {
      const expected = Object.keys(FIELDS).map((k) => `\`${k}\``).join(', ');
      return { error: { path: `${at}.${key}`, message: `unknown field \`${key}\`, expected one of ${expected}` } };
    }
    if (typeof value !== field.type) {
      const wanted = field.type === 'string' ? 'a string' : 'a boolean';
      return { error: { path: `${at}.${key}`, message: `invalid type: ${jsonKind(value)}, expected ${wanted}` } };
    }
    parsed[key] = value;
  }
  for (const [key, field] of Object.entries(FIELDS)) {
    if (!(key in parsed)) {
      if (field.required) return { error: { path: `${at}.${key}`, message: `missing field \`${key}\`` } };
      parsed[key] = field.default;
    }
  }
  return { config: parsed };
}

/** Every problem of a parsed configuration. */
function check(config, at) {
  const errors = [];
  if (config.server.trim() === '' || /\s/.test(config.server)) {
    errors.push({ path: `${at}.server`, message: 'must be a host name or IP address' });
  }
  if (!config.path.startsWith('/')) {
    errors.push({ path: `${at}.path`, message: 'must be an absolute path' });
  }
  return errors;
}

/** The configuration when it has no problem, else every problem found. */
function problems(input) {
  const { config, error } = parseConfig(input);
  if (error) return { errors: [error] };
  const errors = check(config, input.configPath);
  return errors.length ? { errors } : { config, errors };
}

export function describe() {
  // An inline NFS volume is not allowed by Pod Security "restricted": the operator's admin grants it
  // to this plugin, and the namespace needs "baseline".
  return {
    name: NAME,
    version: VERSION,
    kind: 'tier2-provider',
    contract: CONTRACT,
    component: COMPONENT,
    capabilities: ['volumes:nfs'],
  };
}

export function validate(input) {
  return problems(input).errors;
}

export function provide(input) {
  const { config, errors } = problems(input);
  if (errors.length) {
    // The host validates first; checking again keeps a bad configuration from the nodes.
    throw { tag: 'invalid-input', val: errors };
  }
  log('debug', `mounting ${config.server}:${config.path} at ${MOUNT_PATH}`);
  const volume = { name: VOLUME, nfs: { server: config.server, path: config.path, readOnly: config.readOnly } };
  const mount = { name: VOLUME, mountPath: MOUNT_PATH };
  // Mounted at /mnt/tier2 and announced to the nodes as a FILESYSTEM Tier-2.
  return {
    env: [
      { name: 'TIER2_STORAGE', value: 'FILESYSTEM' },
      { name: 'NFS_MOUNT', value: MOUNT_PATH },
    ],
    secretEnv: [],
    volumes: [JSON.stringify(volume)],
    mounts: [JSON.stringify(mount)],
    jvmOptions: [],
    objects: [],
  };
}
