#!/usr/bin/env python3
"""Generates the hostile layer corpus in tests/cases/hostile-layers/ (deterministically).

Each case is a small tar (sometimes gzip'd, or raw bytes) plus one line in cases.txt:

    <file> TAB <options> TAB <expect> TAB <detail>

options: comma-separated; "overlay" or "apply" (whiteout mode), "diffid=<digest>",
         "digest=<digest>".
expect:  "refuse": extraction must fail; detail is '|'-separated substrings that must
                   all appear in the error text (the entry is named where there is one).
         "ok":     extraction must succeed; detail is space-separated "path" (must exist
                   in the target) or "path=content" checks.

tests/unit/test_layer_hostile.c extracts every case into <sandbox>/target next to
<sandbox>/canary/keep and proves that nothing outside the target changed.  The
generated files are committed; tests never regenerate them.  Run from anywhere:
    python3 tests/hostile/make-hostile-layers.py
"""
import gzip
import hashlib
import io
import os
import tarfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cases", "hostile-layers")
ZERO = "sha256:" + "0" * 64

cases = []


def info(name, type=tarfile.REGTYPE, size=0, mode=0o644, linkname="", pax=None):
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.size = size
    ti.mode = mode
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.linkname = linkname
    if pax:
        ti.pax_headers = dict(pax)
    return ti


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    """members: list of (TarInfo, bytes-or-None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8") as t:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return buf.getvalue()


def f(name, data=b"x", **kw):
    return (info(name, **kw), data)


def d(name, mode=0o755):
    return (info(name, tarfile.DIRTYPE, mode=mode), None)


def sym(name, target):
    return (info(name, tarfile.SYMTYPE, mode=0o777, linkname=target), None)


def hard(name, target):
    return (info(name, tarfile.LNKTYPE, linkname=target), None)


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


def add(name, data, expect, detail, options="overlay"):
    cases.append((name, data, options, expect, detail))


def pseudo_random(n, seed):
    out = b""
    h = seed.encode()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h
    return out[:n]


# ---- path traversal -------------------------------------------------------------------
add("dotdot-traversal.tar", tar_bytes([f("../canary/pwned")]), "refuse",
    "entry '../canary/pwned'|escapes the root")
add("dotdot-deep.tar", tar_bytes([d("a"), f("a/../../canary/pwned")]), "refuse",
    "entry 'a/../../canary/pwned'|escapes the root")
add("absolute-escape.tar", tar_bytes([f("/../canary/pwned")]), "refuse",
    "entry '/../canary/pwned'|escapes the root")
add("absolute-stripped.tar", tar_bytes([f("/etc/passwd-abs", b"inside")]), "ok",
    "etc/passwd-abs=inside")
add("dotdot-inside.tar", tar_bytes([d("a"), f("a/../b", b"b")]), "ok", "b=b")

# ---- symlinks ---------------------------------------------------------------------------
add("symlink-write-through.tar", tar_bytes([sym("evil", "../canary"), f("evil/pwned")]),
    "refuse", "entry 'evil/pwned'|parent 'evil' is or goes through a symlink")
add("symlink-abs-write-through.tar",
    tar_bytes([sym("evil", "/"), f("evil/canary-pwned")]), "refuse",
    "entry 'evil/canary-pwned'|symlink")
add("symlink-chain-root.tar",
    tar_bytes([sym("l1", "/"), sym("l2", "l1"), sym("l3", "l2/.."), f("l3/pwned")]), "refuse",
    "entry 'l3/pwned'|symlink")
add("symlink-dir-swap.tar",
    tar_bytes([d("d"), f("d/ok"), sym("d", "../canary"), f("d/pwned")]), "refuse",
    "entry 'd/pwned'|parent 'd' is or goes through a symlink")
add("symlink-deep-parent.tar",
    tar_bytes([d("a"), sym("a/b", "../../canary"), f("a/b/c/pwned")]), "refuse",
    "entry 'a/b/c/pwned'|parent 'a/b' is or goes through a symlink")
add("dir-over-symlink.tar",
    tar_bytes([sym("d", "../canary"), d("d"), f("d/f", b"in")]), "ok", "d/f=in")
add("file-over-symlink.tar",
    tar_bytes([sym("f", "../canary/keep"), f("f", b"replaced")]), "ok", "f=replaced")
add("symlink-outside-alone.tar",
    tar_bytes([sym("s", "/etc/passwd"), sym("t", "../../canary/keep")]), "ok", "s t")
add("duplicate-file-dir-symlink.tar",
    tar_bytes([f("x", b"file"), d("x"), f("x/y"), sym("x", "../canary"), f("x/z")]),
    "refuse", "entry 'x/z'|symlink")
add("long-symlink-target.tar", tar_bytes([sym("s", "t" * 5000)]), "refuse",
    "entry 's'|symlink target longer than 4096")

# ---- hardlinks --------------------------------------------------------------------------
add("hardlink-outside.tar", tar_bytes([hard("h", "../canary/keep")]), "refuse",
    "entry 'h'|escapes the root")
add("hardlink-etc-passwd.tar", tar_bytes([hard("passwd", "/etc/passwd")]), "refuse",
    "entry 'passwd'|hardlink target 'etc/passwd' is not an earlier entry")
add("hardlink-through-symlink.tar",
    tar_bytes([sym("s", "../canary"), hard("h", "s/keep")]), "refuse",
    "entry 'h'|not an earlier entry")
add("hardlink-through-created-symlink.tar",
    tar_bytes([sym("s", "/etc"), f("s2"), hard("h", "s/passwd")]), "refuse",
    "entry 'h'|not an earlier entry")
add("hardlink-forward.tar", tar_bytes([hard("h", "later"), f("later")]), "refuse",
    "entry 'h'|hardlink target 'later' is not an earlier entry")
add("hardlink-to-dir.tar", tar_bytes([d("d"), hard("h", "d")]), "refuse",
    "entry 'h'|is a directory")
add("hardlink-to-self.tar", tar_bytes([f("h"), hard("h", "h")]), "refuse",
    "entry 'h'|hardlink to itself")
add("hardlink-then-write.tar",
    tar_bytes([f("f", b"orig"), hard("h", "f"), f("h", b"new")]), "ok", "f=orig h=new")
add("hardlink-to-symlink.tar",
    tar_bytes([sym("s", "../canary/keep"), hard("h", "s")]), "ok", "h")

# ---- whiteouts --------------------------------------------------------------------------
add("whiteout-dotdot.tar", tar_bytes([f(".wh..", b"")]), "refuse",
    "entry '.wh..'|invalid whiteout name")
add("whiteout-dotdotdot.tar", tar_bytes([f(".wh...", b"")]), "refuse",
    "entry '.wh...'|invalid whiteout name")
add("whiteout-escape.tar", tar_bytes([f("../canary/.wh.keep", b"")]), "refuse",
    "entry '../canary/.wh.keep'|escapes the root", "apply")
add("whiteout-through-symlink.tar",
    tar_bytes([sym("evil", "../canary"), f("evil/.wh.keep", b"")]), "refuse",
    "entry 'evil/.wh.keep'|symlink", "apply")
add("opaque-traversal.tar", tar_bytes([f("../canary/.wh..wh..opq", b"")]), "refuse",
    "entry '../canary/.wh..wh..opq'|escapes the root", "apply")
add("opaque-through-symlink.tar",
    tar_bytes([sym("evil", "../canary"), f("evil/.wh..wh..opq", b"")]), "refuse",
    "entry 'evil/.wh..wh..opq'|symlink", "apply")
add("opaque-through-symlink-overlay.tar",
    tar_bytes([sym("evil", "../canary"), f("evil/.wh..wh..opq", b"")]), "refuse",
    "entry 'evil/.wh..wh..opq'|symlink", "overlay")
add("opaque-root-apply.tar", tar_bytes([f(".wh..wh..opq", b""), f("new", b"n")]), "ok",
    "new=n", "apply")
add("whiteout-aufs-meta.tar", tar_bytes([d(".wh..wh.plnk"), f("ok", b"k")]), "ok", "ok=k")

# ---- special files ----------------------------------------------------------------------
dev = info("dev/null", tarfile.CHRTYPE, mode=0o666)
dev.devmajor, dev.devminor = 1, 3
add("device-char.tar", tar_bytes([d("dev"), (dev, None)]), "refuse",
    "entry 'dev/null'|device nodes are not allowed")
blk = info("sda", tarfile.BLKTYPE, mode=0o660)
blk.devmajor, blk.devminor = 8, 0
add("device-block.tar", tar_bytes([(blk, None)]), "refuse",
    "entry 'sda'|device nodes are not allowed")
wdev = info("wh", tarfile.CHRTYPE, mode=0)
add("device-whiteout-style.tar", tar_bytes([(wdev, None)]), "refuse",
    "entry 'wh'|device nodes are not allowed")
add("fifo.tar", tar_bytes([(info("p", tarfile.FIFOTYPE, mode=0o600), None)]), "ok", "p")
add("setuid-root.tar", tar_bytes([f("suid", b"#!/bin/sh\n", mode=0o4755)]), "ok", "suid")

# ---- caps -------------------------------------------------------------------------------
add("long-component.tar", tar_bytes([f("a/" + "c" * 300)]), "refuse",
    "longer than 255")
add("huge-pax-path.tar.gz", gz(tar_bytes([f("d/" * 4000 + "x")])), "refuse",
    "is too long")
add("huge-pax-header.tar.gz", gz(tar_bytes([f("p" * (2 * 1024 * 1024))])), "refuse",
    "too large")
add("gnu-longname-huge.tar.gz",
    gz(tar_bytes([f("q" * (2 * 1024 * 1024))], fmt=tarfile.GNU_FORMAT)), "refuse",
    "too large")
add("huge-xattr.tar.gz",
    gz(tar_bytes([f("x", pax={"SCHILY.xattr.user.big": "v" * 100000})])), "refuse",
    "entry 'x'|larger than 65536")
add("many-xattrs.tar",
    tar_bytes([f("x", pax={"SCHILY.xattr.user.a%03d" % i: "v" for i in range(200)})]),
    "refuse", "entry 'x'|more than 128 xattrs")
add("uid-huge.tar", tar_bytes([f("x", pax={"uid": "99999999999"})]), "refuse",
    "entry 'x'|uid or gid out of range")

# ---- broken streams ---------------------------------------------------------------------
valid = tar_bytes([d("dir"), f("dir/file", pseudo_random(10000, "t"))])
add("truncated-tar.tar", valid[:3000], "refuse", "runcated")
add("truncated-gzip.tar.gz", gz(valid)[:2000], "refuse", "gzip: truncated stream")
add("trailing-garbage.tar.gz", gz(valid) + b"garbage!", "refuse",
    "is not a gzip member")
add("garbage.bin", pseudo_random(4096, "garbage"), "refuse", "not a tar archive")
add("garbage.gz", gz(pseudo_random(4096, "garbage-gz")), "refuse", "not a tar archive")
add("empty-file.bin", b"", "refuse", "not a tar archive")
add("gzip-of-nothing.gz", gz(b""), "refuse", "not a tar archive")
# zstd frame header asking for a 2 GiB window (RFC 8878 3.1.1.1.2, exponent 21)
add("zstd-window-bomb.zst", bytes([0x28, 0xB5, 0x2F, 0xFD, 0x00, 0xA8, 0x09, 0x00, 0x00, 0x41]),
    "refuse", "zstd:")
pax_bad = info("PaxHeaders/innocent", tarfile.XHDTYPE)
add("pax-malformed.tar",
    tar_bytes([(pax_bad, b"99 path=../canary/pwned\n"), f("innocent")], fmt=tarfile.USTAR_FORMAT),
    "refuse", "entry 'innocent'|malformed tar header")

# ---- digests ----------------------------------------------------------------------------
add("wrong-diffid.tar", valid, "refuse", "diffID mismatch", "overlay,diffid=" + ZERO)
add("wrong-digest.tar.gz", gz(valid), "refuse", "digest mismatch",
    "overlay,digest=" + ZERO)
add("right-digests.tar.gz", gz(valid), "ok", "dir/file",
    "overlay,diffid=sha256:" + hashlib.sha256(valid).hexdigest() +
    ",digest=sha256:" + hashlib.sha256(gz(valid)).hexdigest())

os.makedirs(OUT, exist_ok=True)
for name in os.listdir(OUT):
    os.unlink(os.path.join(OUT, name))
with open(os.path.join(OUT, "cases.txt"), "w") as manifest:
    manifest.write("# generated by tests/hostile/make-hostile-layers.py; see its docstring\n")
    for name, data, options, expect, detail in cases:
        with open(os.path.join(OUT, name), "wb") as out:
            out.write(data)
        manifest.write("\t".join((name, options, expect, detail)) + "\n")
print("%d cases in %s" % (len(cases), os.path.normpath(OUT)))
