#!/usr/bin/env python3
"""flatten.py ARCHIVE: the canonical listing of a docker-archive's first image.

Prints the config fields a Dockerfile sets, then the final file tree: the layers applied in
order with their whiteouts, one line per path with its type, mode, owner, size, content
digest, link target and hardlink group (the smallest path sharing the inode). Mtimes are left
out: plate clamps them to SOURCE_DATE_EPOCH, BuildKit keeps the context's.
"""
import hashlib
import json
import posixpath
import sys
import tarfile

FIELDS = ("Env", "Entrypoint", "Cmd", "WorkingDir", "User", "ExposedPorts", "Volumes",
          "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild")
TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
         tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block",
         tarfile.FIFOTYPE: "fifo"}


class Inode:
    def __init__(self, m, digest):
        self.type = TYPES.get(m.type, "other")
        self.mode, self.uid, self.gid = m.mode & 0o7777, m.uid, m.gid
        self.size = m.size if self.type == "file" else 0
        self.digest = digest
        self.link = m.linkname if m.issym() else ""
        self.dev = f"{m.devmajor},{m.devminor}" if m.ischr() or m.isblk() else ""


def norm(name):
    p = posixpath.normpath("/" + name)
    return p if p != "//" else "/"


def remove_tree(tree, path):
    for k in [k for k in tree if k == path or k.startswith(path.rstrip("/") + "/")]:
        del tree[k]


def apply_layer(tree, layer):
    members = list(layer)
    for m in members:  # whiteouts hide what the lower layers have
        d, base = posixpath.split(norm(m.name))
        if base == ".wh..wh..opq":
            for k in [k for k in tree if k.startswith(d.rstrip("/") + "/")]:
                del tree[k]
        elif base.startswith(".wh."):
            remove_tree(tree, posixpath.join(d, base[4:]))
    for m in members:
        p = norm(m.name)
        if posixpath.basename(p).startswith(".wh."):
            continue
        if m.islnk():
            target = tree.get(norm(m.linkname))
            if target is None:
                raise SystemExit(f"flatten: hardlink {p} to missing {m.linkname}")
            remove_tree(tree, p)
            tree[p] = target
            continue
        if not m.isdir():
            remove_tree(tree, p)
        digest = ""
        if m.isreg():
            digest = hashlib.sha256(layer.extractfile(m).read()).hexdigest()
        tree[p] = Inode(m, digest)


def main():
    arch = tarfile.open(sys.argv[1])
    manifest = json.load(arch.extractfile("manifest.json"))[0]
    config = json.load(arch.extractfile(manifest["Config"]))
    cfg = config.get("config") or {}
    for f in FIELDS:
        v = cfg.get(f)
        if v is not None:
            print(f"config {f} {json.dumps(v, sort_keys=True)}")
    tree = {}
    for name in manifest["Layers"]:
        with tarfile.open(fileobj=arch.extractfile(name), mode="r:*") as layer:
            apply_layer(tree, layer)
    groups = {}
    for p, ino in tree.items():
        groups.setdefault(id(ino), []).append(p)
    for p in sorted(tree):
        if p == "/":
            continue
        ino = tree[p]
        members = groups[id(ino)]
        hl = min(members) if len(members) > 1 else ""
        print(f"{p} {ino.type} {ino.mode:04o} {ino.uid}:{ino.gid} {ino.size} "
              f"{ino.digest or '-'} {ino.link or '-'} {ino.dev or '-'} {hl or '-'}")


main()
