#!/usr/bin/env bash
# make demo: the Alpha experiment on an embedded default of 1 GiB. bench/alpha starts
# csd-target (a temporary backing file on 127.0.0.1), writes generated text onto the drive,
# counts "Alpha" by reading it all over NVMe/TCP, then by running programs/count_alpha.bpf.c
# inside the drive (host-driven windows, and the drive's streaming mode), and prints what
# crossed the link. Results: results/alpha/<timestamp>.json, latest.json and a chart.
set -euo pipefail
build=${1:-build}
size=${CSD_DEMO_SIZE:-1G}

echo "== csdlab demo: count \"Alpha\" in ${size} of text on an emulated NVMe/TCP drive"
"${build}/bench/alpha" --size "${size}"
