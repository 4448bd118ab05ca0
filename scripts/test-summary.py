#!/usr/bin/env python3
"""Counts the TAP cases in meson's testlog.json files and prints 'N passed, N failed, N skipped'.

A test that printed no TAP line but failed (a crash, a timeout) counts as one failure; one
skipped as a whole ("1..0 # SKIP reason") as one skip, with its reason printed.
"""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            test = json.loads(line)
            out = test.get("stdout") or ""
            ok = len(re.findall(r"^ok \d+(?! .*# SKIP)", out, re.M))
            skip = len(re.findall(r"^ok \d+.*# SKIP", out, re.M))
            bad = len(re.findall(r"^not ok \d+", out, re.M))
            whole_skip = re.search(r"^1\.\.0 # SKIP (.*)$", out, re.M)
            if whole_skip or test["result"] == "SKIP":
                reason = whole_skip.group(1) if whole_skip else "skipped"
                print(f"{test['name']}: {reason}")
                skipped += 1
                continue
            if test["result"] not in ("OK", "EXPECTEDFAIL") and bad == 0:
                bad = 1
            passed += ok
            failed += bad
            skipped += skip
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
