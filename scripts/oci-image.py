#!/usr/bin/env python3
"""Builds the operator's container image as an archive, without a Docker daemon or a base image.

    scripts/oci-image.py --binary target/release/ecs-operator --name ecs/ecs-operator --tag 0.1.0 \\
        --out target/image/ecs-operator.tar

The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/...) that also carries
Docker's manifest.json, so `docker load -i`, `podman load -i` and `skopeo copy oci-archive:...`
all take it. Three layers, from the least to the most often changed:

  1. /etc/passwd and /etc/group (root, and the non-root user and group 65532 "nonroot"),
     /etc/nsswitch.conf, the CA certificates (/etc/ssl/certs/ca-certificates.crt), /tmp and the
     user's home;
  2. what the binary needs to start: its ELF interpreter and the shared libraries `ldd` resolves,
     each at the path the loader looks for it (empty for a static binary);
  3. the binary, as /ecs-operator.

Deterministic: the same inputs give the same bytes (fixed mtimes, owners and modes, sorted entries,
gzip without a timestamp, canonical JSON), so the image digest identifies the build.
Standard library only.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import tomllib

UID = GID = 65532
USER = "nonroot"
HOME = "/home/nonroot"
ENTRYPOINT = "/ecs-operator"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# ELF e_machine -> OCI architecture.
ARCHITECTURES = {0x3E: "amd64", 0xB7: "arm64", 0x28: "arm", 0xF3: "riscv64", 0x15: "ppc64le", 0x16: "s390x"}

PASSWD = f"root:x:0:0:root:/root:/sbin/nologin\n{USER}:x:{UID}:{GID}:{USER}:{HOME}:/sbin/nologin\n"
GROUP = f"root:x:0:\n{USER}:x:{GID}:\n"
# glibc's resolver reads this; without it, it would try DNS before /etc/hosts.
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"


class ImageError(Exception):
    pass


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def elf_machine(path):
    with open(path, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        raise ImageError(f"{path} is not an ELF file")
    endian = "<" if head[5] == 1 else ">"
    return struct.unpack(endian + "H", head[18:20])[0]


def elf_interpreter(path):
    """The PT_INTERP path of an ELF executable, or None for a static one."""
    with open(path, "rb") as f:
        data = f.read(1 << 16)
        if data[:4] != b"\x7fELF":
            raise ImageError(f"{path} is not an ELF file")
        is64, endian = data[4] == 2, "<" if data[5] == 1 else ">"
        if is64:
            phoff, = struct.unpack_from(endian + "Q", data, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", data, 54)
        else:
            phoff, = struct.unpack_from(endian + "I", data, 28)
            phentsize, phnum = struct.unpack_from(endian + "HH", data, 42)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            ph = f.read(phentsize)
            p_type, = struct.unpack_from(endian + "I", ph, 0)
            if p_type != 3:  # PT_INTERP
                continue
            if is64:
                offset, = struct.unpack_from(endian + "Q", ph, 8)
                size, = struct.unpack_from(endian + "Q", ph, 32)
            else:
                offset, = struct.unpack_from(endian + "I", ph, 4)
                size, = struct.unpack_from(endian + "I", ph, 16)
            f.seek(offset)
            return f.read(size).rstrip(b"\0").decode()
    return None


def shared_libraries(binary):
    """{path in the image: file on this machine} for the interpreter and every library `ldd`
    resolves. The path is the one the loader asks for (e.g. /lib/x86_64-linux-gnu/libc.so.6);
    the file is what it resolves to, so the image holds regular files, not dangling links."""
    interpreter = elf_interpreter(binary)
    if interpreter is None:
        return {}
    ldd = shutil.which("ldd")
    if ldd is None:
        raise ImageError(f"{binary} is dynamically linked ({interpreter}) and `ldd` is not installed")
    out = subprocess.run([ldd, binary], capture_output=True, text=True)
    if out.returncode != 0:
        raise ImageError(f"ldd {binary} failed: {out.stderr.strip() or out.stdout.strip()}")
    libs = {interpreter: os.path.realpath(interpreter)}
    for line in out.stdout.splitlines():
        line = line.strip()
        if "not found" in line:
            raise ImageError(f"{binary}: a shared library is missing on this machine: {line}")
        # `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or `/lib64/ld-linux-x86-64.so.2 (0x...)`;
        # the vDSO (`linux-vdso.so.1 (0x...)`) is the kernel's, not a file.
        m = re.match(r"^(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$", line)
        if m:
            libs[m.group(1)] = os.path.realpath(m.group(1))
        elif "=>" in line:
            raise ImageError(f"ldd {binary}: cannot read the line {line!r}")
    for path, real in libs.items():
        if not os.path.isfile(real):
            raise ImageError(f"{binary} needs {path}, which is not a file here ({real})")
    return libs


class Layer:
    """A layer tarball: regular files and directories only, with fixed metadata."""

    def __init__(self, mtime):
        self.mtime = mtime
        self.entries = {}  # path without leading "/" -> (TarInfo, source path or bytes)

    def _parents(self, path):
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.entries:
                self.directory("/" + d)

    def directory(self, path, mode=0o755, uid=0, gid=0):
        name = path.strip("/")
        self._parents(name)
        info = self._info(name, uid, gid, mode)
        info.type = tarfile.DIRTYPE
        self.entries[name] = (info, None)

    def file(self, path, content=None, source=None, mode=0o644):
        name = path.strip("/")
        self._parents(name)
        info = self._info(name, 0, 0, mode)
        info.size = len(content) if content is not None else os.path.getsize(source)
        self.entries[name] = (info, content if content is not None else source)

    def _info(self, name, uid, gid, mode):
        info = tarfile.TarInfo(name)
        info.mtime, info.uid, info.gid, info.mode = self.mtime, uid, gid, mode
        info.uname = info.gname = ""
        return info

    def write(self, path):
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(self.entries):
                info, data = self.entries[name]
                if info.isdir():
                    tar.addfile(info)
                elif isinstance(data, bytes):
                    tar.addfile(info, io.BytesIO(data))
                else:
                    with open(data, "rb") as f:
                        tar.addfile(info, f)


def build(args):
    binary = args.binary
    if not os.path.isfile(binary):
        raise ImageError(f"--binary {binary}: no such file (build it first)")
    machine = elf_machine(binary)
    if machine not in ARCHITECTURES:
        raise ImageError(f"{binary}: unknown ELF machine {machine:#x}")
    if not os.path.isfile(args.ca_bundle):
        raise ImageError(f"--ca-bundle {args.ca_bundle}: no such file (install ca-certificates)")
    libraries = shared_libraries(binary)
    mtime = args.mtime
    created = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    base = Layer(mtime)
    base.file("/etc/passwd", PASSWD.encode())
    base.file("/etc/group", GROUP.encode())
    base.file("/etc/nsswitch.conf", NSSWITCH.encode())
    base.file(CA_BUNDLE, source=args.ca_bundle)
    base.directory("/tmp", mode=0o1777)
    base.directory(HOME, mode=0o700, uid=UID, gid=GID)
    runtime = Layer(mtime)
    for path, real in sorted(libraries.items()):
        runtime.file(path, source=real, mode=0o755)
    app = Layer(mtime)
    app.file(ENTRYPOINT, source=binary, mode=0o755)
    layers = [
        (base, "passwd, group, nsswitch.conf, CA certificates, /tmp, home of user 65532"),
        (runtime, "ELF interpreter and shared libraries: " + (", ".join(sorted(libraries)) or "none (static binary)")),
        (app, f"the operator binary as {ENTRYPOINT}"),
    ]

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    work = tempfile.mkdtemp(prefix=".oci-image-", dir=os.path.dirname(os.path.abspath(args.out)))
    try:
        blobs = {}  # hex digest -> file
        layer_descriptors, diff_ids = [], []
        for i, (layer, _) in enumerate(layers):
            tar_path = os.path.join(work, f"layer{i}.tar")
            layer.write(tar_path)
            diff_ids.append("sha256:" + sha256_file(tar_path))
            gz_path = tar_path + ".gz"
            with open(tar_path, "rb") as src, open(gz_path, "wb") as raw:
                # No file name and mtime 0 in the gzip header: the bytes depend on the content only.
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                    shutil.copyfileobj(src, gz, 1 << 20)
            digest = sha256_file(gz_path)
            blobs[digest] = gz_path
            layer_descriptors.append({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + digest,
                "size": os.path.getsize(gz_path),
            })

        labels = {
            "org.opencontainers.image.title": args.title,
            "org.opencontainers.image.version": args.version,
            "org.opencontainers.image.source": args.source,
            "org.opencontainers.image.licenses": args.licenses,
            "org.opencontainers.image.revision": args.revision,
        }
        config = {
            "architecture": ARCHITECTURES[machine],
            "os": "linux",
            "created": created,
            "config": {
                "User": f"{UID}:{GID}",
                "Entrypoint": [ENTRYPOINT],
                "Cmd": ["run"],
                "Env": [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    f"HOME={HOME}",
                    f"SSL_CERT_FILE={CA_BUNDLE}",
                ],
                "WorkingDir": "/",
                "ExposedPorts": {"8080/tcp": {}},
                "Labels": labels,
            },
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": created, "created_by": f"scripts/oci-image.py: {what}"} for _, what in layers],
        }
        config_bytes = canonical_json(config)
        config_digest = hashlib.sha256(config_bytes).hexdigest()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + config_digest,
                "size": len(config_bytes),
            },
            "layers": layer_descriptors,
            "annotations": labels,
        }
        manifest_bytes = canonical_json(manifest)
        manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
        reference = f"{args.name}:{args.tag}"
        # A name without a registry is Docker Hub's, which is what `docker load` and Kubernetes read
        # `ecs/ecs-operator:0.1.0` as; containerd and podman want it spelled out.
        full_reference = reference if "." in args.name.split("/")[0] else f"docker.io/{reference}"
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": ARCHITECTURES[machine], "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": full_reference,
                    "org.opencontainers.image.ref.name": full_reference,
                },
            }],
        }
        # Docker's `docker save` format, pointing into the same blobs.
        docker_manifest = [{
            "Config": f"blobs/sha256/{config_digest}",
            "RepoTags": [reference],
            "Layers": [f"blobs/sha256/{d['digest'].split(':')[1]}" for d in layer_descriptors],
        }]

        out_tmp = os.path.join(work, "image.tar")
        outer = Layer(mtime)
        outer.file("/oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
        outer.file("/index.json", canonical_json(index))
        outer.file("/manifest.json", canonical_json(docker_manifest))
        outer.file(f"/blobs/sha256/{config_digest}", config_bytes)
        outer.file(f"/blobs/sha256/{manifest_digest}", manifest_bytes)
        for digest, path in blobs.items():
            outer.file(f"/blobs/sha256/{digest}", source=path)
        outer.write(out_tmp)
        os.replace(out_tmp, args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return reference, manifest_digest, len(libraries)


def git_revision(repo):
    try:
        out = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "Cargo.toml"), "rb") as f:
        package = tomllib.load(f)["workspace"]["package"]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", required=True, help="the ecs-operator executable to ship")
    p.add_argument("--out", required=True, help="the archive to write")
    p.add_argument("--name", default="ecs/ecs-operator", help="image name, without the tag")
    p.add_argument("--tag", default=package["version"], help="image tag (default: the workspace version)")
    p.add_argument("--version", default=None, help="org.opencontainers.image.version (default: the tag)")
    p.add_argument("--title", default="ecs-operator")
    p.add_argument("--source", default=package["repository"])
    p.add_argument("--licenses", default=package["license"])
    p.add_argument("--revision", default=None, help="default: git rev-parse HEAD")
    p.add_argument("--ca-bundle", default=CA_BUNDLE)
    p.add_argument("--mtime", type=int, default=int(os.environ.get("SOURCE_DATE_EPOCH", "0")),
                   help="timestamp of every file and of the image (default: $SOURCE_DATE_EPOCH or 0)")
    args = p.parse_args()
    args.version = args.version or args.tag
    args.revision = args.revision or git_revision(root)
    try:
        reference, digest, libs = build(args)
    except ImageError as e:
        print(f"oci-image: {e}", file=sys.stderr)
        return 1
    size = os.path.getsize(args.out)
    print(f"{args.out}: {reference} (manifest sha256:{digest}), {size / 2**20:.1f} MiB, "
          f"{libs} runtime file(s) from ldd; load with `docker load -i {args.out}` or `podman load -i {args.out}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
