"""tier2-nfs-inline-python: a Tier-2 provider for ecs-operator, in Python.

It mounts an NFS export straight into the segment store pods (no PersistentVolume or claim to
manage). A cluster selects it with

    spec.ecs.tier2.plugin: {name: tier2-nfs-inline-python, config: {server: 10.0.0.2, path: /exports/ecs}}

An inline NFS volume needs the `volumes:nfs` capability, which the operator's administrator grants
(`--grant tier2-nfs-inline-python=volumes:nfs`); `ecs-operator plugin test` grants what the plugin declares.

`ecs-operator plugin build` makes a WebAssembly component of this module (componentize-py, against
wit/plugin.wit, world tier2-provider); `ecs-operator plugin test` runs the recorded cases in cases/.
WIT records are dataclasses of wit_world.imports.types, enums are Enums, a variant case is a class
of its own (PluginError_InvalidInput), and raising componentize_py_types.Err(...) returns the `err`
of a `result`. The host calls `describe`, `validate` and `provide` on a fresh instance each time:
keep no state, and expect no files, network, environment or clock (frozen at the Unix epoch).
"""

import json

from componentize_py_types import Err
from wit_world import WitWorld as World
from wit_world.imports import types
from wit_world.imports.logging import Level, log

NAME = "tier2-nfs-inline-python"
VERSION = "0.1.0"
# The contract version of wit/plugin.wit this plugin was written against; the host checks it.
CONTRACT = "0.2.0"
# Value of the `component` label on objects the plugin emits (it emits none).
COMPONENT = "tier2"

# Where the segment store nodes see a filesystem Tier-2.
VOLUME = "tier2"
MOUNT_PATH = "/mnt/tier2"

# The configuration's fields: (name, JSON type, required, default).
FIELDS = {"server": (str, True, None), "path": (str, True, None), "readOnly": (bool, False, False)}


def json_kind(value):
    """How serde names a JSON value's type in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


def parse_config(input):
    """The configuration as a dict, or the first problem as a FieldError at the field it concerns."""
    at = input.config_path
    config = json.loads(input.config)
    if not isinstance(config, dict):
        return None, types.FieldError(at, f"invalid type: {json_kind(config)}, expected struct Config")
    parsed = {}
    for key, value in config.items():
        if key not in FIELDS:
            expected = ", ".join(f"`{k}`" for k in FIELDS)
            return None, types.FieldError(f"{at}.{key}", f"unknown field `{key}`, expected one of {expected}")
        kind = FIELDS[key][0]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            wanted = "a string" if kind is str else "a boolean"
            return None, types.FieldError(f"{at}.{key}", f"invalid type: {json_kind(value)}, expected {wanted}")
        parsed[key] = value
    for key, (_, required, default) in FIELDS.items():
        if key not in parsed:
            if required:
                return None, types.FieldError(f"{at}.{key}", f"missing field `{key}`")
            parsed[key] = default
    return parsed, None


def check(config, at):
    """Every problem of a parsed configuration."""
    errors = []
    server = config["server"]
    if not server.strip() or any(c.isspace() for c in server):
        errors.append(types.FieldError(f"{at}.server", "must be a host name or IP address"))
    if not config["path"].startswith("/"):
        errors.append(types.FieldError(f"{at}.path", "must be an absolute path"))
    return errors


def problems(input):
    """(config, errors): the configuration when it has no problem, else every problem found."""
    config, error = parse_config(input)
    if error is not None:
        return None, [error]
    errors = check(config, input.config_path)
    return (None, errors) if errors else (config, [])


class WitWorld(World):
    def describe(self) -> types.PluginInfo:
        # An inline NFS volume is not allowed by Pod Security "restricted": the operator's admin
        # grants it to this plugin, and the namespace needs "baseline".
        return types.PluginInfo(NAME, VERSION, types.PluginKind.TIER2_PROVIDER, CONTRACT, COMPONENT, ["volumes:nfs"])

    def validate(self, input: types.Tier2Input) -> list[types.FieldError]:
        return problems(input)[1]

    def provide(self, input: types.Tier2Input) -> types.Tier2Wiring:
        config, errors = problems(input)
        if errors:
            # The host validates first; checking again keeps a bad configuration from the nodes.
            raise Err(types.PluginError_InvalidInput(errors))
        log(Level.DEBUG, f"mounting {config['server']}:{config['path']} at {MOUNT_PATH}")
        volume = {
            "name": VOLUME,
            "nfs": {"server": config["server"], "path": config["path"], "readOnly": config["readOnly"]},
        }
        mount = {"name": VOLUME, "mountPath": MOUNT_PATH}
        # Mounted at /mnt/tier2 and announced to the nodes as a FILESYSTEM Tier-2.
        return types.Tier2Wiring(
            env=[types.EnvVar("TIER2_STORAGE", "FILESYSTEM"), types.EnvVar("NFS_MOUNT", MOUNT_PATH)],
            secret_env=[],
            volumes=[json.dumps(volume)],
            mounts=[json.dumps(mount)],
            jvm_options=[],
            objects=[],
        )
