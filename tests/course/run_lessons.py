#!/usr/bin/env python3
"""Runs every ```sh test block of course/*.md, in order, and checks its output where the
lesson shows one (an ```output block right after it: each of its lines must appear in the
command's output, in order). Blocks marked ```sh test root are skipped, with the reason,
when not root. TAP output, one line per block.

The blocks run in a scratch directory where build/ points at the build being tested (and
course/, programs/, kernel/ at the sources), so the lessons can say build/tools/csd as from
the repository's root, whatever the build directory is called. The lessons' fixed ports
(4520-4529) and /tmp/lessonN directories, which a reader types, are replaced in the blocks
and their expected output by free ports and directories in the scratch directory, so that the
test runs beside a reader's course, another make check, or itself.
"""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(.*)$")


def blocks(path):
    """(info, text, expected-output-or-None) for each test block of a lesson."""
    found, lines, i = [], open(path).read().split("\n"), 0
    fences = []
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        info, body = m.group(1).strip(), []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        fences.append((info, "\n".join(body)))
    for k, (info, body) in enumerate(fences):
        if info.startswith("sh test"):
            expected = None
            if k + 1 < len(fences) and fences[k + 1][0] == "output":
                expected = fences[k + 1][1]
            found.append((info, body, expected))
    return found


def check_output(out, expected):
    """Each expected line appears in out, in order; returns the first missing one."""
    pos = 0
    for want in expected.split("\n"):
        if not want.strip():
            continue
        at = out.find(want, pos)
        if at < 0:
            return want
        pos = at + len(want)
    return None


LESSON_PORT = re.compile(r"\b(452[0-9])\b")


def free_ports(n):
    """n ports nothing listens on now (the kernel's choice for port 0)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def localize(text, ports, scratch):
    """The lesson's ports and /tmp/lessonN directories, as this run has them."""
    text = LESSON_PORT.sub(lambda m: str(ports[int(m.group(1)) - 4520]), text)
    return text.replace("/tmp/lesson", os.path.join(scratch, "tmp", "lesson"))


def cleanup(lesson_dir):
    for pidfile in glob.glob(os.path.join(lesson_dir, "*.pid")):
        try:
            os.kill(int(open(pidfile).read().strip()), signal.SIGKILL)
        except (ValueError, OSError):
            pass


def main():
    source, build = sys.argv[1], sys.argv[2]
    scratch = tempfile.mkdtemp(prefix="csd-course-")
    os.symlink(os.path.abspath(build), os.path.join(scratch, "build"))
    for d in ("course", "programs", "kernel"):
        os.symlink(os.path.join(os.path.abspath(source), d), os.path.join(scratch, d))
    os.mkdir(os.path.join(scratch, "tmp"))
    ports = free_ports(10)
    n = failed = 0
    root = os.geteuid() == 0
    for lesson in sorted(glob.glob(os.path.join(source, "course", "[0-9]*.md"))):
        name = os.path.basename(lesson)
        tmp = os.path.join(scratch, "tmp", "lesson" + str(int(name[:2])))
        for k, (info, body, expected) in enumerate(blocks(lesson), 1):
            body = localize(body, ports, scratch)
            expected = localize(expected, ports, scratch) if expected else expected
            n += 1
            what = f"{name} block {k}"
            if "root" in info.split() and not root:
                print(f"ok {n} - {what} # SKIP skipped: needs root")
                continue
            try:
                r = subprocess.run(["bash", "-ec", body], cwd=scratch, capture_output=True,
                                   text=True, timeout=300)
                out, code = r.stdout + r.stderr, r.returncode
            except subprocess.TimeoutExpired:
                out, code = "timed out after 300 s", -1
            missing = check_output(out, expected) if expected and code == 0 else None
            if code == 0 and missing is None:
                print(f"ok {n} - {what}")
                continue
            failed += 1
            print(f"not ok {n} - {what}")
            why = f"exit status {code}" if code else f"output lacks: {missing}"
            print(f"# {why}")
            for line in out.splitlines()[-15:]:
                print(f"# {line}")
        cleanup(tmp)
    print(f"1..{n}")
    shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
