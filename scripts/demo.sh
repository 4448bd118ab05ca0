#!/usr/bin/env bash
# make demo: the main job on an embedded default. Until the drive lands, that is the Alpha
# count run by the eBPF runtime over generated text (the drive's offload, minus the link):
# the program is programs/count_alpha.bpf.c, built by clang and loaded from its ELF object.
set -euo pipefail
build=${1:-build}
size=${CSD_DEMO_SIZE:-256M}

echo "== csdlab demo: count \"Alpha\" in ${size} of generated text with an eBPF program"
echo "   program: programs/count_alpha.bpf.c -> ${build}/programs/count_alpha.bpf.o"
echo
"${build}/tools/csd" disasm "${build}/programs/count_alpha.bpf.o" | sed 's/^/   /'
echo
"${build}/tools/csd" run --gen "${size}" --seed 1 --rate 5 "${build}/programs/count_alpha.bpf.o"
echo
echo "== the same count in the interpreter and in native C (bench/vm, 64 MiB, best of 3)"
"${build}/bench/vm" "${build}/programs/count_alpha.bpf.o" 64M 3
