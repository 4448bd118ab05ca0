#!/bin/sh
echo "1..0 # SKIP skipped: no bpftool or no kernel BTF at configure time: lesson programs not built"
