#!/usr/bin/env python3
"""SPDK's spdk_nvme_perf against csd-target (NVM in memory and on a file), csd-spdk-tgt and
stock nvmf_tgt (Malloc and AIO bdevs), one target at a time, in one run: IOPS, bandwidth, mean
latency and the target's CPU time per workload, with each target's ratio to stock nvmf_tgt on
a Malloc bdev. Writes JSON and a chart (gnuplot) under --out. Needs make spdk. Run on purpose,
not by make check:

    bench/spdk-perf.py [--time 5] [--repeat 3] [--queues 1] [--targets ...] [--workloads ...]

Each target gets core 0 and spdk_nvme_perf core 1 (SPDK targets poll their core, as SPDK
users run them). Like against like: csd-target-memory (--memory) against the Malloc bdev,
csd-target on a file through the page cache against the AIO bdev on one. The median of
--repeat runs is reported, with the spread. Hugepages are used when 1 GiB of them is free
(--hugepages N reserves N 2 MiB pages first, as root), else every SPDK program runs with
--no-huge.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NQN = "nqn.2026-01.io.csdlab:drive0"
SIZE = 1 << 30

WORKLOADS = {  # name: (io size, pattern, queue depth); writes first: reads then find data
    "128k-seqwrite-qd16": (131072, "write", 16),
    "4k-randwrite-qd1": (4096, "randwrite", 1),
    "4k-randwrite-qd32": (4096, "randwrite", 32),
    "4k-randread-qd1": (4096, "randread", 1),
    "4k-randread-qd32": (4096, "randread", 32),
    "128k-seqread-qd16": (131072, "read", 16),
}
TARGETS = ["csd-target-memory", "csd-target", "csd-spdk-tgt", "nvmf_tgt-malloc", "nvmf_tgt-aio"]
BASELINE = "nvmf_tgt-malloc"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listens(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def cpu_ticks(pid):
    """utime + stime of a process, all its threads, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def transport_config(nqn, port):
    return [
        {"method": "nvmf_create_transport",
         "params": {"trtype": "TCP", "max_io_size": 1048576, "io_unit_size": 131072,
                    "max_queue_depth": 256}},
    ], {"method": "nvmf_subsystem_add_listener",
        "params": {"nqn": nqn, "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                                                   "traddr": "127.0.0.1",
                                                   "trsvcid": str(port)}}}


def spdk_config(kind, work, port):
    """The JSON config of an SPDK target of this kind."""
    transport, listener = transport_config(NQN, port)
    if kind == "csd-spdk-tgt":
        return {"subsystems": [
            {"subsystem": "nvmf", "config": transport},
            {"subsystem": "csd", "config": [
                {"method": "csd_drive_create",
                 "params": {"nqn": NQN, "backing_file": f"{work}/nvm.img", "size": SIZE}},
                listener]}]}
    if kind == "nvmf_tgt-malloc":
        bdev = {"method": "bdev_malloc_create",
                "params": {"name": "Malloc0", "num_blocks": SIZE // 512, "block_size": 512}}
    else:
        with open(f"{work}/aio.img", "wb") as f:
            f.truncate(SIZE)
        bdev = {"method": "bdev_aio_create",
                "params": {"name": "Aio0", "filename": f"{work}/aio.img", "block_size": 512}}
    name = bdev["params"]["name"]
    return {"subsystems": [
        {"subsystem": "bdev", "config": [bdev]},
        {"subsystem": "nvmf", "config": transport + [
            {"method": "nvmf_create_subsystem",
             "params": {"nqn": NQN, "allow_any_host": True, "serial_number": "SPDK01",
                        "model_number": "SPDK bdev Controller"}},
            {"method": "nvmf_subsystem_add_ns",
             "params": {"nqn": NQN, "namespace": {"bdev_name": name}}},
            listener]}]}


class Target:
    def __init__(self, kind, args, work):
        self.kind, self.port = kind, free_port()
        self.log = open(f"{work}/{kind}.log", "w")
        if kind.startswith("csd-target"):
            # one core, as the SPDK targets get; its engine and I/O threads share it; in memory
            # as the Malloc bdev, or on a file through the page cache as the AIO bdev
            data = ["--memory"] if kind == "csd-target-memory" else ["--file", f"{work}/nvm.img"]
            cmd = ["taskset", "-c", "0", args.build + "/tools/csd-target", "-p", str(self.port),
                   "--size", str(SIZE)] + data
        else:
            exe = (args.build + "/spdk/csd-spdk-tgt" if kind == "csd-spdk-tgt"
                   else args.spdk + "/build/bin/nvmf_tgt")
            with open(f"{work}/{kind}.json", "w") as f:
                json.dump(spdk_config(kind, work, self.port), f)
            cmd = [exe, "-m", "0x1", "--disable-cpumask-locks", "--json", f"{work}/{kind}.json",
                   "-r", f"{work}/{kind}.sock"] + args.mem + ["-s", "2048"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=args.env)
        for _ in range(600):
            if listens(self.port):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        with open(f"{work}/{kind}.log") as f:
            sys.exit(f"spdk-perf: {kind} did not start:\n{f.read()[-3000:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def perf(args, target, workload, queues):
    size, pattern, depth = WORKLOADS[workload]
    trid = (f"trtype:tcp adrfam:IPv4 traddr:127.0.0.1 trsvcid:{target.port} subnqn:{NQN}")
    cmd = [args.spdk + "/build/bin/spdk_nvme_perf", "-c", "0x2", "-q", str(depth),
           "-o", str(size), "-w", pattern, "-t", str(args.time), "-P", str(queues),
           "-r", trid] + args.mem + ["-s", "512"]
    t0 = cpu_ticks(target.proc.pid)
    out = subprocess.run(cmd, capture_output=True, text=True, env=args.env,
                         timeout=args.time + 120)
    ticks = cpu_ticks(target.proc.pid) - t0
    for line in out.stdout.splitlines():
        if line.startswith("Total"):
            f = line.split(":")[1].split()
            return {"iops": float(f[0]), "mib_s": float(f[1]), "avg_us": float(f[2]),
                    "target_cpu_s": ticks / os.sysconf("SC_CLK_TCK")}
    sys.exit(f"spdk-perf: no result from spdk_nvme_perf against {target.kind}:\n"
             f"{out.stdout[-2000:]}{out.stderr[-2000:]}")


def progress(done, total, what):
    if sys.stderr.isatty():
        bar = "#" * (30 * done // total)
        print(f"\r[{bar:<30}] {done}/{total} {what:<40}", end="", file=sys.stderr, flush=True)


def chart(path, result):
    """IOPS of every target relative to the baseline, per workload, values on the bars: one
    panel per queue count."""
    targets, workloads, queues = result["targets"], result["workloads"], result["queues"]
    n, colors = len(targets), ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099"]
    top = 0
    for q in queues:
        with open(f"{path}.q{q}.dat", "w") as f:
            for k, w in enumerate(workloads):
                row = result["results"][f"q{q}"][w]
                base = row[BASELINE]["iops"]
                for j, t in enumerate(targets):
                    r = row[t]
                    top = max(top, r["iops_max"] / base)
                    # x, ratio, min, max, target index
                    f.write(f"{k * (n + 1) + j} {r['iops'] / base:.3f} "
                            f"{r['iops_min'] / base:.3f} {r['iops_max'] / base:.3f} {j}\n")
    xtics = ", ".join(f'"{w}" {k * (n + 1) + (n - 1) / 2}' for k, w in enumerate(workloads))
    title = (f"spdk_nvme_perf IOPS relative to stock nvmf_tgt (Malloc bdev), {result['time_s']} s "
             f"runs, median of {result['repeat']} (bars: min-max), {result['memory']}, one "
             f"core each, {result['date']}")
    panels = []
    for i, q in enumerate(queues):
        dat = f"{path}.q{q}.dat"
        plots = []
        for j, t in enumerate(targets):
            sel = f"(int($5) == {j} ? $2 : 1/0)"
            plots.append(f'"{dat}" using 1:{sel} with boxes lc rgb "{colors[j % len(colors)]}" '
                         f'title "{t}"')
            plots.append(f'"{dat}" using 1:(int($5) == {j} ? $2 : 1/0):3:4 with yerrorbars '
                         f'lc rgb "#333333" pt 7 ps 0 notitle')
        plots.append(f'"{dat}" using 1:($4 + {top:.3f} * 0.03):(sprintf("%.2f", $2)) with '
                     'labels font ",9" notitle')
        key = "set key outside bottom center horizontal" if i == len(queues) - 1 else "unset key"
        panels.append(f'{key}\nset ylabel "{q} queue{"s" if q > 1 else ""}: IOPS / Malloc"\n'
                      f'plot {", ".join(plots)}')
    height = 200 + 300 * len(queues)
    script = f"""set termoption noenhanced
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:{top * 1.18:.3f}]
set xrange [-1:{len(workloads) * (n + 1) - 1}]
set xtics ({xtics}) nomirror
set grid ytics
do for [t in "png svg"] {{
  if (t eq "png") {{ set terminal png size 1300,{height} noenhanced }} else {{ set terminal svg size 1300,{height} noenhanced }}
  set output sprintf("{path}.%s", t)
  set multiplot layout {len(queues)},1 title "{title}" font ",10"
{chr(10).join(panels)}
  unset multiplot
}}
"""
    with open(path + ".gp", "w") as f:
        f.write(script)
    if subprocess.run(["gnuplot", path + ".gp"], capture_output=True).returncode:
        print("spdk-perf: gnuplot failed: no chart", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chart", metavar="JSON", help="only draw the chart of a results file")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--time", type=int, default=5, help="seconds per run")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--queues", default="1", help="I/O queues, e.g. 1,2,4")
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--hugepages", type=int, default=0,
                   help="reserve this many 2 MiB hugepages first (root)")
    p.add_argument("--out", default=os.path.join(ROOT, "results", "spdk-perf"))
    args = p.parse_args()
    if args.chart:
        with open(args.chart) as f:
            chart(os.path.splitext(args.chart)[0], json.load(f))
        return
    spdk = subprocess.run(["bash", os.path.join(ROOT, "scripts", "spdk.sh"), "--print-dir"],
                          capture_output=True, text=True).stdout.strip()
    if not spdk:
        sys.exit("spdk-perf: SPDK is not built: make spdk")
    args.spdk = spdk
    args.env = dict(os.environ, LD_LIBRARY_PATH=spdk + "/build/lib")
    if args.hugepages:
        with open("/proc/sys/vm/nr_hugepages", "w") as f:
            f.write(str(args.hugepages))
        with open("/proc/mounts") as f:
            if not any(line.split()[2] == "hugetlbfs" for line in f):
                os.makedirs("/dev/hugepages", exist_ok=True)
                subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"], check=True)
    free = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free:"):
                free = int(line.split()[1])
    # a target takes 2 GiB (the Malloc bdev's 1 GiB in it), spdk_nvme_perf 512 MiB
    huge = free >= 1280
    args.mem = [] if huge else ["--no-huge"]
    memory = "hugepages" if huge else "no hugepages"
    targets = args.targets.split(",")
    workloads = args.workloads.split(",")
    queues = [int(q) for q in args.queues.split(",")]
    for t in targets:
        if t not in TARGETS:
            sys.exit(f"spdk-perf: --targets: {t} is not one of {', '.join(TARGETS)}")
    for w in workloads:
        if w not in WORKLOADS:
            sys.exit(f"spdk-perf: --workloads: {w} is not one of {', '.join(WORKLOADS)}")
    if BASELINE not in targets:
        targets.append(BASELINE)
    runs = {f"q{q}": {w: {t: [] for t in targets} for w in workloads} for q in queues}
    total, done = args.repeat * len(targets) * len(workloads) * len(queues), 0
    with tempfile.TemporaryDirectory(prefix="csd-spdk-perf-") as work:
        # the targets take turns within each repetition, so that drift hits them alike
        for rep in range(args.repeat):
            for t in targets:
                target = Target(t, args, work)
                try:
                    for q in queues:
                        for w in workloads:
                            progress(done, total, f"{t} {w} q{q}")
                            runs[f"q{q}"][w][t].append(perf(args, target, w, q))
                            done += 1
                finally:
                    target.stop()
    progress(total, total, "done")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    results = {}
    for qk, ws in runs.items():
        results[qk] = {}
        for w, ts in ws.items():
            results[qk][w] = {}
            for t, rs in ts.items():
                iops = [r["iops"] for r in rs]
                med = sorted(rs, key=lambda r: r["iops"])[len(rs) // 2]
                results[qk][w][t] = dict(med, iops_min=min(iops), iops_max=max(iops), runs=rs)
    now = datetime.datetime.now()
    result = {"date": now.strftime("%Y-%m-%d %H:%M"), "time_s": args.time,
              "repeat": args.repeat, "queues": queues, "memory": memory,
              "targets": targets, "workloads": workloads, "baseline": BASELINE,
              "cpus": os.cpu_count(), "spdk": os.path.basename(spdk), "results": results}
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, now.strftime("%Y%m%dT%H%M%S"))
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=1)
    shutil.copy(stem + ".json", os.path.join(args.out, "latest.json"))
    chart(stem, result)
    for qk in results:
        print(f"\n{qk[1:]} I/O queue(s); IOPS median [min-max] of {args.repeat}, ratio to "
              f"{BASELINE}, target CPU s per {args.time} s run ({memory})")
        print(f"{'workload':<20}" + "".join(f"{t:>30}" for t in targets))
        for w in workloads:
            row = results[qk][w]
            base = row[BASELINE]["iops"]
            cells = []
            for t in targets:
                r = row[t]
                cells.append(f"{r['iops']:>9.0f} [{r['iops_min']:.0f}-{r['iops_max']:.0f}] "
                             f"{r['iops'] / base:4.2f}x {r['target_cpu_s']:4.1f}s")
            print(f"{w:<20}" + "".join(f"{c:>30}" for c in cells))
    print(f"\nresults: {stem}.json, chart: {stem}.png, {stem}.svg")


if __name__ == "__main__":
    main()
