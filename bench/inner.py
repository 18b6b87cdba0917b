#!/usr/bin/env python3
"""inner.py — the measuring and reporting halves of bench/bench_inner.sh.

  inner.py start OUT.jsonl REPS LABEL CMD [ARGS...] [--- LABEL CMD [ARGS...]]...
      Start latency: runs each command REPS times, interleaved (one of each per round, so
      load drift hits all alike).  The command must print the CLOCK_REALTIME nanoseconds at
      which its entrypoint began (tests/helpers/probe's `started`).  The child reads the
      clock just before its execve(), so "start" is from the command to the entrypoint's
      first instruction; "wall" to the command's exit; "cpu" the user+system time of the
      command and every process it reaped.  One JSON line per sample.

  inner.py report DIR
      Reads DIR/versus.json (../shared/bench/versus.py), DIR/versus-before.json (optional),
      DIR/cm.jsonl, DIR/rss.jsonl and DIR/start.jsonl; prints every row of issue 18's table
      with plate, BuildKit, their ratio, the goal and whether it is met.
"""
import json, os, statistics, sys, time


def sample(label, cmd):
    """One run of cmd; its record, or None when it failed."""
    r0, w0 = os.pipe()
    r1, w1 = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r0)
        os.close(r1)
        os.dup2(w1, 1)
        os.write(w0, str(time.time_ns()).encode())
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    os.close(w0)
    os.close(w1)
    t0 = int(os.read(r0, 64))
    os.close(r0)
    text = b""
    while chunk := os.read(r1, 4096):
        text += chunk
    os.close(r1)
    _, status, ru = os.wait4(pid, 0)
    t_end = time.time_ns()
    rc = os.waitstatus_to_exitcode(status)
    try:
        began = int(text.split()[-1])
    except (ValueError, IndexError):
        print(f"inner.py start: {label}: no clock in the output (status {rc}), again",
              file=sys.stderr)
        return None
    return {"label": label, "start_ms": round((began - t0) / 1e6, 2),
            "wall_ms": round((t_end - t0) / 1e6, 2),
            "cpu_ms": round((ru.ru_utime + ru.ru_stime) * 1e3, 1), "rc": rc}


def start(args):
    out, reps, rest = args[0], int(args[1]), args[2:]
    cmds, cur = [], []
    for a in rest + ["---"]:
        if a == "---":
            if len(cur) < 2:
                sys.exit("inner.py start: LABEL CMD... expected")
            cmds.append((cur[0], cur[1:]))
            cur = []
        else:
            cur.append(a)
    with open(out, "a") as f:
        for rep in range(reps):
            for label, cmd in cmds:
                # docker's overlay2 fails a container start now and then on a loaded
                # machine ("stat /probe: no such file"): such a sample is taken again.
                for attempt in range(3):
                    rec = sample(label, cmd)
                    if rec is not None:
                        break
                else:
                    sys.exit(f"inner.py start: {label} failed three times")
                rec["retries"] = attempt
                f.write(json.dumps(rec) + "\n")
            print(f"start latency: round {rep + 1}/{reps}", file=sys.stderr, flush=True)


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def med(xs):
    return statistics.median(xs) if xs else None


def report(args):
    d = args[0]
    vs = json.load(open(os.path.join(d, "versus.json")))
    before_path = os.path.join(d, "versus-before.json")
    vb = json.load(open(before_path)) if os.path.exists(before_path) else None
    p, b = vs["plate"], vs["buildkit"]

    def m(s, k):
        return med(s.get(k, []))

    def overhead(s, wall, runs):
        return med([w - r for w, r in zip(s.get(wall, []), s.get(runs, []))])

    cm = lines(os.path.join(d, "cm.jsonl"))
    rss = lines(os.path.join(d, "rss.jsonl"))
    st = lines(os.path.join(d, "start.jsonl"))
    rows = []  # (label, plate, buildkit, before, unit, goal text, met or None)

    def row(label, pv, bv, before, goal, met, unit="s"):
        rows.append((label, pv, bv, before, unit, goal, met))

    def cm_of(who):
        c = [r for r in cm if r["who"] == who and r["what"] == "cachemount"]
        return (med([r["wall_s"] for r in c]), med([r["process_s"] for r in c]),
                med([r["wall_s"] - r["process_s"] for r in c]))

    cw, cp, co = cm_of("plate")
    _, _, co_before = cm_of("before")
    bko = overhead(b, "cachemount", "cachemount-run-steps")
    row("main.go edit, Go cache mounts (versus.py)", m(p, "cachemount"), m(b, "cachemount"),
        m(vb["plate"], "cachemount") if vb else None, "—", None)
    if cw is not None:
        row("  the same, wall / time inside RUN (--progress json)", cw / cp, None, None,
            "≤ 1.1", cw / cp <= 1.1, unit="×")
        row("  builder overhead (wall − RUN processes)", co, bko, co_before,
            "≤ 0.050 s, ≤ 1/4 of BuildKit's", co <= 0.050 and (bko is None or co <= bko / 4))
    po, bo = overhead(p, "cold", "cold-run-steps"), overhead(b, "cold", "cold-run-steps")
    pob = overhead(vb["plate"], "cold", "cold-run-steps") if vb else None
    row("cold build (base stored)", m(p, "cold"), m(b, "cold"), m(vb["plate"], "cold") if vb else None,
        "≤ BuildKit", m(p, "cold") <= m(b, "cold"))
    for k, label in (("main", "main.go edit, no cache mounts"), ("gomod", "go.mod edit")):
        row(label, m(p, k), m(b, k), m(vb["plate"], k) if vb else None, "≤ BuildKit", m(p, k) <= m(b, k))
    row("no-op rebuild", m(p, "noop"), m(b, "noop"), m(vb["plate"], "noop") if vb else None,
        "≤ 1/5 of BuildKit's", m(p, "noop") <= m(b, "noop") / 5)
    row("export to a tar", m(p, "export"), m(b, "export"), m(vb["plate"], "export") if vb else None,
        "not worse than before" if vb else "—",
        (m(p, "export") <= m(vb["plate"], "export") * 1.1) if vb else None)
    row("builder overhead, cold (wall − RUN)", po, bo, pob, "≤ 1/5 of BuildKit's", po <= bo / 5)
    peak = {w: max((r["main_hwm_kb"] for r in rss if r["who"] == w), default=None) for w in ("plate", "before")}
    if peak["plate"] is not None:
        row("peak RSS of plate (MiB)", peak["plate"] / 1024, None,
            peak["before"] / 1024 if peak["before"] else None, "≤ 32 MiB", peak["plate"] <= 32 * 1024, unit="MiB")

    def s_of(label, k="start_ms"):
        return med([r[k] / 1e3 for r in st if r["label"] == label])

    for net in ("none", "default"):
        pl = s_of(f"plate-{net}")
        if pl is None:
            continue
        dk = s_of(f"docker-{net}")
        row(f"`run` start, --network {net} (command → entrypoint)", pl, dk, s_of(f"before-{net}"),
            "≤ 0.030 s", pl <= 0.030)

    print("| scenario | plate | BuildKit / docker | plate/BuildKit | before | goal | met |")
    print("|---|---|---|---|---|---|---|")
    for label, pv, bv, before, unit, goal, met in rows:
        f = (lambda v: "—" if v is None else (f"{v:.1f}" if unit == "MiB" else f"{v:.3f}"))
        ratio = f"{pv / bv:.2f}" if pv is not None and bv else "—"
        verdict = "—" if met is None else ("met" if met else "missed")
        print(f"| {label} | {f(pv)} | {f(bv)} | {ratio} | {f(before)} | {goal} | {verdict} |")
    if st:
        print()
        print("`run` start latency, medians (ms): start = command → entrypoint's first instruction; "
              "cpu = user+sys of the whole process tree")
        print("| command | start | wall | cpu | samples |")
        print("|---|---|---|---|---|")
        for label in dict.fromkeys(r["label"] for r in st):
            s = [r for r in st if r["label"] == label]
            print(f"| {label} | {med([r['start_ms'] for r in s]):.1f} | {med([r['wall_ms'] for r in s]):.1f} "
                  f"| {med([r['cpu_ms'] for r in s]):.1f} | {len(s)} |")
    if cm:
        print()
        print("cache-mount edit, plate --progress json (medians, s): wall, inside RUN processes, overhead")
        for who in dict.fromkeys(r["who"] for r in cm):
            w, pr, o = cm_of(who)
            print(f"  {who}: wall {w:.3f}, RUN processes {pr:.3f}, overhead {o:.3f}, "
                  f"wall/RUN {w / pr:.3f}")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("start", "report"):
        sys.exit(__doc__)
    (start if sys.argv[1] == "start" else report)(sys.argv[2:])
