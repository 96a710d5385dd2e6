#!/usr/bin/env python3
"""Inspects the operator image archive that scripts/oci-image.py writes (`make image-test`).

    tests/image/test-image.py target/image/ecs-operator.tar [--binary target/release/ecs-operator]

Checks, without a container runtime: the OCI layout (oci-layout, index.json, every blob's digest and
size, the manifest, the config and its diff_ids) and Docker's manifest.json pointing at the same
blobs; entrypoint, command, non-root user (with its passwd and group entries), OCI labels; that
every file the binary needs to start is in a layer (its ELF interpreter and its DT_NEEDED
libraries, transitively, read by the small ELF parser below, cross-checked with `readelf -d`); and
that the image's name and tag are the ones deploy/operator.yaml and the Helm chart run.
With --binary, also that the image holds exactly that binary and that rebuilding gives the same
bytes. As root (or with `unshare`), it runs the binary inside the image's files with chroot as user
65532, which proves the shipped loader and libraries work.
Standard library only; exits 1 naming every problem.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPECTED_USER = "65532:65532"
EXPECTED_ENTRYPOINT = ["/ecs-operator"]
EXPECTED_CMD = ["run"]
LABELS = ["title", "version", "source", "licenses", "revision"]
LAYER_TYPES = {"application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar"}

problems = []


def problem(message):
    problems.append(message)


def check(condition, message):
    if not condition:
        problem(message)
    return condition


# ----------------------------------------------------------------------------------------------
# ELF: the interpreter (PT_INTERP) and the dynamic section (DT_NEEDED, DT_RUNPATH, DT_RPATH).

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 15, 29


class Elf:
    def __init__(self, data, name):
        if data[:4] != b"\x7fELF":
            raise ValueError(f"{name} is not an ELF file")
        self.name = name
        self.is64 = data[4] == 2
        self.endian = "<" if data[5] == 1 else ">"
        self.machine = self._u(data, "H", 18)
        if self.is64:
            phoff, phentsize, phnum = self._u(data, "Q", 32), self._u(data, "H", 54), self._u(data, "H", 56)
        else:
            phoff, phentsize, phnum = self._u(data, "I", 28), self._u(data, "H", 42), self._u(data, "H", 44)
        self.segments = []  # (type, offset, vaddr, filesz)
        for i in range(phnum):
            at = phoff + i * phentsize
            if self.is64:
                p_type, offset, vaddr, filesz = (self._u(data, "I", at), self._u(data, "Q", at + 8),
                                                 self._u(data, "Q", at + 16), self._u(data, "Q", at + 32))
            else:
                p_type, offset, vaddr, filesz = (self._u(data, "I", at), self._u(data, "I", at + 4),
                                                 self._u(data, "I", at + 8), self._u(data, "I", at + 16))
            self.segments.append((p_type, offset, vaddr, filesz))
        self.interpreter = None
        for p_type, offset, _, filesz in self.segments:
            if p_type == PT_INTERP:
                self.interpreter = data[offset:offset + filesz].rstrip(b"\0").decode()
        self.needed, self.runpath = [], []
        dynamic = [s for s in self.segments if s[0] == PT_DYNAMIC]
        if not dynamic:
            return
        _, offset, _, filesz = dynamic[0]
        width = 16 if self.is64 else 8
        entries = []
        for at in range(offset, offset + filesz, width):
            tag = self._u(data, "q" if self.is64 else "i", at)
            value = self._u(data, "Q" if self.is64 else "I", at + width // 2)
            if tag == DT_NULL:
                break
            entries.append((tag, value))
        strtab = self._file_offset(next(v for t, v in entries if t == DT_STRTAB))

        def string(off):
            end = data.index(b"\0", strtab + off)
            return data[strtab + off:end].decode()

        self.needed = [string(v) for t, v in entries if t == DT_NEEDED]
        for t, v in entries:
            if t in (DT_RUNPATH, DT_RPATH):
                self.runpath += string(v).split(":")

    def _u(self, data, fmt, at):
        return struct.unpack_from(self.endian + fmt, data, at)[0]

    def _file_offset(self, vaddr):
        for p_type, offset, seg_vaddr, filesz in self.segments:
            if p_type == PT_LOAD and seg_vaddr <= vaddr < seg_vaddr + filesz:
                return vaddr - seg_vaddr + offset
        raise ValueError(f"{self.name}: address {vaddr:#x} is in no loaded segment")


def readelf_needed(path):
    """DT_NEEDED as `readelf -d` reports it, to check the parser (None without readelf)."""
    readelf = shutil.which("readelf")
    if readelf is None:
        return None
    out = subprocess.run([readelf, "-d", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


# ----------------------------------------------------------------------------------------------
# The archive.


# Digests of the blobs seen, by object: the self-test inspects many variants sharing most blobs.
# The value keeps the object alive, so that its id is not reused.
_digests = {}


def sha256(data):
    key = id(data)
    if key not in _digests or _digests[key][0] is not data:
        _digests[key] = (data, hashlib.sha256(data).hexdigest())
    return _digests[key][1]


def blob(blobs, descriptor, what):
    """The bytes a descriptor points at, after checking its digest and size."""
    digest = descriptor.get("digest", "")
    if not check(re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{what}: bad digest {digest!r}"):
        return None
    data = blobs.get(digest.split(":")[1])
    if not check(data is not None, f"{what}: blob {digest} is not in the archive"):
        return None
    check(len(data) == descriptor.get("size"), f"{what}: size {descriptor.get('size')} but the blob has {len(data)} bytes")
    return data


_layers = {}


def read_layer(data, media_type):
    """The layer's uncompressed digest (its diff_id) and files: path -> (TarInfo, bytes or None)."""
    key = (sha256(data), media_type)
    if key not in _layers:
        raw = gzip.decompress(data) if media_type.endswith("+gzip") else data
        files, found = {}, []
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for member in tar.getmembers():
                name = posixpath.normpath("/" + member.name)
                if member.name.startswith("/") or ".." in member.name.split("/"):
                    found.append(f"layer entry {member.name!r} is not a plain relative path")
                if not (member.isfile() or member.isdir() or member.issym()):
                    found.append(f"layer entry {name} is neither a file, a directory nor a symlink")
                content = tar.extractfile(member).read() if member.isfile() else None
                files[name] = (member, content)
        _layers[key] = (hashlib.sha256(raw).hexdigest(), files, found)
    diff_id, files, found = _layers[key]
    problems.extend(found)
    return diff_id, files


def image_references():
    """The operator image as deploy/*.yaml and the Helm chart's default values name it."""
    refs = {}
    deploy = os.path.join(ROOT, "deploy")
    for name in sorted(os.listdir(deploy)):
        if name.endswith(".yaml"):
            with open(os.path.join(deploy, name)) as f:
                for line in f:
                    m = re.match(r"^\s*image:\s*[\"']?([^\"'\s#]+)", line)
                    if m and "ecs-operator" in m.group(1):
                        refs[f"deploy/{name}"] = m.group(1)
    chart_dir = os.path.join(deploy, "helm", "ecs-operator")
    if os.path.isdir(chart_dir):
        # Flat reads of the two keys, so that this test needs no YAML library.
        with open(os.path.join(chart_dir, "Chart.yaml")) as f:
            app_version = re.search(r"(?m)^appVersion:\s*[\"']?([^\"'\s]+)", f.read())
        with open(os.path.join(chart_dir, "values.yaml")) as f:
            image = re.search(r"(?ms)^image:\n((?:[ \t]+.*\n|[ \t]*\n)*)", f.read())
        block = image.group(1) if image else ""
        repository = re.search(r"(?m)^\s+repository:\s*[\"']?([^\"'\s]+)", block)
        tag = re.search(r"(?m)^\s+tag:\s*[\"']?([^\"'\s]*)[\"']?", block)
        if not (repository and app_version):
            problem("deploy/helm/ecs-operator: cannot find image.repository in values.yaml or appVersion in Chart.yaml")
        else:
            refs["the Helm chart (values.yaml image, Chart.yaml appVersion)"] = (
                f"{repository.group(1)}:{(tag.group(1) if tag else '') or app_version.group(1)}")
    return refs


def run_inside(root, argv):
    """Runs argv in the image's files as user 65532 (chroot), or returns None when this machine
    cannot chroot (not root and no user namespaces)."""
    chroot, unshare = shutil.which("chroot") or "/usr/sbin/chroot", shutil.which("unshare")
    if os.geteuid() == 0 and os.path.exists(chroot):
        command = [chroot, "--userspec=" + EXPECTED_USER, root] + argv
    elif unshare and subprocess.run([unshare, "-r", "true"], capture_output=True).returncode == 0:
        # As the namespace's root, which maps to us; 65532 does not exist there.
        command = [unshare, "-r", chroot, root] + argv
    else:
        return None
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={"HOME": "/home/nonroot"})


def load(archive):
    """The archive's files (name -> bytes), after checking its own entries are reproducible."""
    with tarfile.open(archive) as outer:
        members = outer.getmembers()
        names = [m.name for m in members]
        check(len(names) == len(set(names)), "the archive has duplicate entries")
        check(names == sorted(names), "the archive's entries are not sorted (not reproducible)")
        check(len({m.mtime for m in members}) == 1 and all(m.uid == 0 and m.gid == 0 for m in members),
              "the archive's entries differ in mtime or owner (not reproducible)")
        return {m.name: outer.extractfile(m).read() for m in members if m.isfile()}


def inspect(files, package, binary_path=None):
    """Checks the image; returns what the later steps need (None if it is too broken to go on)."""
    for name in files:
        check(name in ("oci-layout", "index.json", "manifest.json") or re.fullmatch(r"blobs/sha256/[0-9a-f]{64}", name),
              f"unexpected file {name} in the archive")
    blobs = {}
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            digest = name.rsplit("/", 1)[1]
            if check(sha256(data) == digest, f"{name}: its content hashes to {sha256(data)}"):
                blobs[digest] = data

    layout = json.loads(files.get("oci-layout", b"{}"))
    check(layout.get("imageLayoutVersion") == "1.0.0", f"oci-layout: {layout}")
    index = json.loads(files.get("index.json", b"{}"))
    check(index.get("schemaVersion") == 2 and index.get("mediaType") == "application/vnd.oci.image.index.v1+json",
          "index.json: not an OCI image index")
    manifests = index.get("manifests", [])
    if not check(len(manifests) == 1, f"index.json: {len(manifests)} manifests, expected 1"):
        return None
    descriptor = manifests[0]
    annotations = descriptor.get("annotations", {})
    index_ref = annotations.get("org.opencontainers.image.ref.name")
    check(annotations.get("io.containerd.image.name") == index_ref, "index.json: the two name annotations differ")
    manifest = json.loads(blob(blobs, descriptor, "index.json manifests[0]") or b"{}")
    check(manifest.get("mediaType") == "application/vnd.oci.image.manifest.v1+json", "manifest: wrong mediaType")
    config = json.loads(blob(blobs, manifest.get("config", {}), "manifest config") or b"{}")
    check(manifest.get("config", {}).get("mediaType") == "application/vnd.oci.image.config.v1+json",
          "manifest config: wrong mediaType")

    # Docker's manifest.json: the same config and layers, and the name.
    docker = json.loads(files.get("manifest.json", b"[]"))
    reference = None
    if check(len(docker) == 1, "manifest.json: expected one image"):
        d = docker[0]
        check(d.get("Config") == "blobs/sha256/" + manifest.get("config", {}).get("digest", ":").split(":")[1],
              "manifest.json Config is not the OCI manifest's config")
        check(d.get("Layers") == ["blobs/sha256/" + l["digest"].split(":")[1] for l in manifest.get("layers", [])],
              "manifest.json Layers are not the OCI manifest's layers")
        tags = d.get("RepoTags", [])
        if check(len(tags) == 1, f"manifest.json RepoTags: {tags}"):
            reference = tags[0]
            check(index_ref in (reference, "docker.io/" + reference),
                  f"index.json names {index_ref}, manifest.json {reference}")

    # Config.
    c = config.get("config", {})
    check(c.get("Entrypoint") == EXPECTED_ENTRYPOINT, f"Entrypoint {c.get('Entrypoint')}, expected {EXPECTED_ENTRYPOINT}")
    check(c.get("Cmd") == EXPECTED_CMD, f"Cmd {c.get('Cmd')}, expected {EXPECTED_CMD}")
    check(c.get("User") == EXPECTED_USER, f"User {c.get('User')!r}, expected {EXPECTED_USER!r} (non-root)")
    labels = c.get("Labels", {})
    for label in LABELS:
        check(labels.get(f"org.opencontainers.image.{label}"), f"label org.opencontainers.image.{label} is missing")
    check(labels.get("org.opencontainers.image.licenses") == package["license"], "licenses label is not Cargo.toml's")
    check(labels.get("org.opencontainers.image.source") == package["repository"], "source label is not Cargo.toml's")
    check(re.fullmatch(r"[0-9a-f]{40}|unknown", labels.get("org.opencontainers.image.revision", "")),
          f"revision label {labels.get('org.opencontainers.image.revision')!r} is not a commit")
    check(manifest.get("annotations", {}) == labels, "the manifest's annotations are not the config's labels")
    if reference:
        check(reference.rsplit(":", 1)[1] == labels.get("org.opencontainers.image.version") == package["version"],
              f"tag {reference}, version label {labels.get('org.opencontainers.image.version')} and "
              f"Cargo.toml version {package['version']} differ")

    # Layers: digests, diff_ids, and the files they hold (later layers override earlier ones).
    layers = manifest.get("layers", [])
    check(len(layers) == 3, f"{len(layers)} layers, expected 3 (base files, runtime libraries, binary)")
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    check(len(diff_ids) == len(layers), "config rootfs.diff_ids and manifest layers differ in number")
    check(len(config.get("history", [])) == len(layers), "config history and layers differ in number")
    fs, sizes = {}, []
    for i, layer in enumerate(layers):
        check(layer.get("mediaType") in LAYER_TYPES, f"layer {i}: mediaType {layer.get('mediaType')}")
        data = blob(blobs, layer, f"layer {i}")
        if data is None:
            continue
        diff_id, layer_files = read_layer(data, layer.get("mediaType", ""))
        check(i < len(diff_ids) and diff_ids[i] == "sha256:" + diff_id, f"layer {i}: diff_id does not match")
        for name in layer_files:
            check(name not in fs or layer_files[name][0].isdir(), f"{name} is in more than one layer")
        fs.update(layer_files)
        sizes.append(len(data))

    def file(path):
        entry = fs.get(path)
        return entry[1] if entry and entry[0].isfile() else None

    # The user.
    uid, gid = EXPECTED_USER.split(":")
    passwd = (file("/etc/passwd") or b"").decode()
    group = (file("/etc/group") or b"").decode()
    users = [l.split(":") for l in passwd.splitlines() if l.count(":") == 6]
    check(any(u[2] == uid and u[3] == gid for u in users), f"/etc/passwd has no user {uid} with group {gid}")
    check(any(g.split(":")[2] == gid for g in group.splitlines() if g.count(":") == 3), f"/etc/group has no group {gid}")
    home = next((u[5] for u in users if u[2] == uid), None)
    if home and check(home in fs and fs[home][0].isdir(), f"the user's home {home} is not in the image"):
        check(fs[home][0].uid == int(uid), f"{home} is not owned by {uid}")
    check("/tmp" in fs and fs["/tmp"][0].mode & 0o1777 == 0o1777, "/tmp is missing or not mode 1777")
    ca = (file("/etc/ssl/certs/ca-certificates.crt") or b"").decode(errors="replace")
    certificates = ca.count("-----BEGIN CERTIFICATE-----")
    check(certificates > 0, "/etc/ssl/certs/ca-certificates.crt is missing or holds no certificate")

    # The binary and what it needs to start.
    entry = fs.get(EXPECTED_ENTRYPOINT[0])
    binary = file(EXPECTED_ENTRYPOINT[0])
    needed_files = []
    if check(binary is not None and entry[0].mode & 0o111, f"{EXPECTED_ENTRYPOINT[0]} is missing or not executable"):
        elf = Elf(binary, EXPECTED_ENTRYPOINT[0])
        if binary_path:
            with open(binary_path, "rb") as f:
                check(sha256(f.read()) == sha256(binary), f"{EXPECTED_ENTRYPOINT[0]} is not {binary_path}")
            expected = readelf_needed(binary_path)
            if expected is not None:
                check(elf.needed == expected, f"the ELF parser reads DT_NEEDED {elf.needed}, readelf -d {expected}")
        needed_files = closure(fs, file, elf)
        arch = {0x3E: "amd64", 0xB7: "arm64"}.get(elf.machine)
        check(config.get("architecture") == arch and config.get("os") == "linux",
              f"config says {config.get('os')}/{config.get('architecture')}, the binary is linux/{arch}")

    # The name the manifests run.
    if reference:
        refs = image_references()
        check(refs, "no deploy/*.yaml names an ecs-operator image")
        for where, ref in refs.items():
            check(ref == reference, f"{where} runs {ref}, the image is {reference}")
    return {"reference": reference, "labels": labels, "created": config.get("created"), "fs": fs, "sizes": sizes,
            "certificates": certificates, "needed": needed_files}


# ----------------------------------------------------------------------------------------------
# Self-test: broken variants of the image must each be reported.


def repack(files, mutate):
    """The archive's files with the image changed by mutate(config, layers, reference) -> reference,
    where layers are lists of (TarInfo, bytes); digests, sizes and names are made consistent again,
    so that only the mutation is wrong."""
    files = dict(files)
    index = json.loads(files["index.json"])
    manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    reference = json.loads(files["manifest.json"])[0]["RepoTags"][0]
    old_blobs = {n: files.pop(n) for n in [n for n in files if n.startswith("blobs/")]}
    layers, before = [], []
    for layer in manifest["layers"]:
        _, layer_files = read_layer(old_blobs["blobs/sha256/" + layer["digest"].split(":")[1]], layer["mediaType"])
        layers.append(list(layer_files.values()))
        before.append([id(m) for m, _ in layers[-1]])
    reference = mutate(config, layers, reference)

    def put(data):
        files["blobs/sha256/" + sha256(data)] = data
        return {"digest": "sha256:" + sha256(data), "size": len(data)}

    for i, layer_files in enumerate(layers):
        if [id(m) for m, _ in layer_files] == before[i]:
            # Unchanged: the same blob (so no recompression of a large binary).
            files["blobs/sha256/" + manifest["layers"][i]["digest"].split(":")[1]] = \
                old_blobs["blobs/sha256/" + manifest["layers"][i]["digest"].split(":")[1]]
            continue
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for member, content in layer_files:
                tar.addfile(member, io.BytesIO(content) if content is not None else None)
        manifest["layers"][i] = {"mediaType": "application/vnd.oci.image.layer.v1.tar", **put(out.getvalue())}
        config["rootfs"]["diff_ids"][i] = "sha256:" + sha256(out.getvalue())
    manifest["config"].update(put(json.dumps(config).encode()))
    index["manifests"][0].update(put(json.dumps(manifest).encode()))
    full = reference if "." in reference.split("/")[0] else "docker.io/" + reference
    index["manifests"][0]["annotations"] = {"io.containerd.image.name": full, "org.opencontainers.image.ref.name": full}
    files["index.json"] = json.dumps(index).encode()
    files["manifest.json"] = json.dumps([{"Config": "blobs/sha256/" + manifest["config"]["digest"].split(":")[1],
                                          "RepoTags": [reference],
                                          "Layers": ["blobs/sha256/" + l["digest"].split(":")[1] for l in manifest["layers"]]}]).encode()
    return files


def without(suffix):
    def mutate(config, layers, reference):
        for layer in layers:
            layer[:] = [(m, c) for m, c in layer if not m.name.endswith(suffix)]
        return reference
    return mutate


def self_test(files, package, fs):
    """Each mutation breaks one thing the test checks; the test must report it. Returns the count."""
    global problems
    binary = Elf(fs[EXPECTED_ENTRYPOINT[0]][1], "binary")

    def set_config(key, value):
        def mutate(config, layers, reference):
            config["config"][key] = value
            return reference
        return mutate

    def corrupt(files):
        name = max((n for n in files if n.startswith("blobs/")), key=lambda n: len(files[n]))
        data = bytearray(files[name])
        data[len(data) // 2] ^= 0xFF
        return {**files, name: bytes(data)}

    mutations = [
        ("a flipped bit in a blob", lambda: corrupt(files), "hashes to"),
        ("the root user", lambda: repack(files, set_config("User", "0:0")), "(non-root)"),
        ("another entrypoint", lambda: repack(files, set_config("Entrypoint", ["/bin/sh"])), "Entrypoint"),
        ("no version label", lambda: repack(files, set_config("Labels", {})), "org.opencontainers.image.version"),
        ("another tag", lambda: repack(files, lambda c, l, ref: ref.rsplit(":", 1)[0] + ":9.9.9"), "runs "),
        ("no passwd", lambda: repack(files, without("etc/passwd")), "/etc/passwd has no user"),
        ("no binary", lambda: repack(files, without("ecs-operator")), "is missing or not executable"),
    ]
    if binary.interpreter:
        mutations.append(("no ELF interpreter", lambda: repack(files, without(binary.interpreter.lstrip("/"))),
                          "ELF interpreter"))
    for lib in binary.needed:
        mutations.append((f"no {lib}", lambda lib=lib: repack(files, without("/" + lib)), f"needs {lib}, which is in none"))
    # The repacking alone must not break anything, or a mutation could be "reported" for it.
    saved, problems = problems, []
    inspect(repack(files, lambda config, layers, reference: reference), package)
    failed = [f"self-test: the image repacked unchanged has problems: {problems}"] if problems else []
    problems = saved
    for what, make, expected in mutations:
        saved, problems = problems, []
        inspect(make(), package)
        reported, problems = problems, saved
        if not any(expected in p for p in reported):
            failed.append(f"self-test: an image with {what} was not reported (expected {expected!r}, got {reported})")
    problems.extend(failed)
    return len(mutations)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("archive")
    p.add_argument("--binary", help="the binary the image was built from: checks it is the one inside, and rebuilds")
    args = p.parse_args()
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        package = tomllib.load(f)["workspace"]["package"]

    files = load(args.archive)
    info = inspect(files, package, args.binary)
    if info is None or problems:
        return report()
    if args.binary:
        rebuild(args, info["reference"], info["labels"], info["created"])
    run_binary(info["fs"], package["version"])
    mutations = self_test(files, package, info["fs"])
    if problems:
        return report()
    sizes = ", ".join(f"{s / 2**20:.1f} MiB" for s in info["sizes"])
    print(f"{args.archive}: {info['reference']}, {len(info['sizes'])} layers ({sizes}), user {EXPECTED_USER}, "
          f"entrypoint {EXPECTED_ENTRYPOINT + EXPECTED_CMD}, {info['certificates']} CA certificates; the binary needs "
          f"{len(info['needed'])} file(s), all in the image: {', '.join(info['needed']) or 'none (static)'}; "
          f"{mutations} broken variants each reported")
    print("image test passed")
    return 0


def closure(fs, file, root):
    """Checks that the interpreter and every DT_NEEDED library (transitively) of the ELF `root`
    is in the image; returns their paths."""
    found = []
    if root.interpreter:
        if check(file(root.interpreter) is not None, f"the ELF interpreter {root.interpreter} is not in the image"):
            found.append(root.interpreter)
    elif root.needed:
        problem(f"{EXPECTED_ENTRYPOINT[0]} needs {root.needed} but has no ELF interpreter")
    # The loader's default directories, and the multiarch ones in the image (x86_64-linux-gnu...).
    default_dirs = ["/lib", "/usr/lib", "/lib64", "/usr/lib64"]
    default_dirs += sorted({posixpath.dirname(p) for p in fs if re.match(r"^/(usr/)?lib/[^/]+-linux-gnu[^/]*/", p)})
    queue, seen = [(root, EXPECTED_ENTRYPOINT[0])], set()
    while queue:
        elf, path = queue.pop()
        origin = posixpath.dirname(path)
        dirs = [d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for d in elf.runpath] + default_dirs
        for lib in elf.needed:
            if lib in seen:
                continue
            seen.add(lib)
            where = next((posixpath.join(d, lib) for d in dirs if file(posixpath.join(d, lib)) is not None), None)
            if not check(where, f"{path} needs {lib}, which is in none of {dirs} in the image"):
                continue
            found.append(where)
            dep = Elf(file(where), where)
            check(dep.machine == root.machine and dep.is64 == root.is64, f"{where} is for another machine")
            queue.append((dep, where))
    return list(dict.fromkeys(found))


def rebuild(args, reference, labels, created):
    """Builds the image again from the same inputs: it must be the same bytes."""
    name, tag = reference.rsplit(":", 1)
    mtime = int(datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp())
    with tempfile.TemporaryDirectory() as tmp:
        again = os.path.join(tmp, "again.tar")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "oci-image.py"), "--binary", args.binary,
                        "--out", again, "--name", name, "--tag", tag, "--mtime", str(mtime),
                        "--revision", labels["org.opencontainers.image.revision"]],
                       check=True, stdout=subprocess.DEVNULL)
        with open(args.archive, "rb") as a, open(again, "rb") as b:
            check(sha256(a.read()) == sha256(b.read()), "building the image again gave different bytes (not reproducible)")


def run_binary(fs, version):
    """Runs `ecs-operator --version` and `ecs-operator crd` in the image's files, as the image's
    user: only the image's loader and libraries are there."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # the image's "/", which user 65532 must be able to enter
        for path, (member, content) in sorted(fs.items()):
            target = os.path.join(tmp, path.lstrip("/"))
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                os.chmod(target, member.mode)
            elif member.issym():
                os.symlink(member.linkname, target)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as f:
                    f.write(content)
                os.chmod(target, member.mode)
            if os.geteuid() == 0:
                os.lchown(target, member.uid, member.gid)
        out = run_inside(tmp, [EXPECTED_ENTRYPOINT[0], "--version"])
        if out is None:
            print("note: not root and no user namespaces here: the binary was not run inside the image's files")
            return
        check(out.returncode == 0 and version in out.stdout,
              f"{EXPECTED_ENTRYPOINT[0]} --version in the image: exit {out.returncode}: {out.stdout}{out.stderr}")
        out = run_inside(tmp, [EXPECTED_ENTRYPOINT[0], "crd"])
        if check(out.returncode == 0 and "kind: CustomResourceDefinition" in out.stdout,
                 f"{EXPECTED_ENTRYPOINT[0]} crd in the image: exit {out.returncode}: {out.stderr[-2000:]}"):
                print(f"ran {EXPECTED_ENTRYPOINT[0]} --version and crd in the image's files as {EXPECTED_USER}: "
                  f"{out.stdout.count(chr(10))} lines of CRD")


def report():
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    print(f"image test failed: {len(problems)} problem(s)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
