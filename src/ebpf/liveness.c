/* SPDX-License-Identifier: MIT */
/*
 * Which registers each instruction's entry has live, syntactically: a register is live
 * where some path from there reads it before writing it, whatever the values, so a dead one
 * cannot be read by any run (the JIT leaves dead values unwritten; reduction.c finds the
 * registers a loop carries).
 */
#include "ebpf_internal.h"

static size_t insn_slots(const struct csd_ebpf_insn *insn)
{
	return insn->code == BPF_OP_LDDW ? 2 : 1;
}

/* Registers an instruction reads and writes, calls with their arguments and clobbers. */
static void uses(const struct csd_ebpf_insn *insn, unsigned *reads, unsigned *writes)
{
	uint32_t r, w;

	ebpf_insn_regs(insn, &r, &w);
	if (insn->code == (BPF_JMP | BPF_CALL) || insn->code == BPF_OP_CALLX) {
		/* a lookup reads its map and key only; the other helpers, r1-r5 */
		r |= insn->code == (BPF_JMP | BPF_CALL) && !insn->src_reg &&
		     insn->imm == CSD_EBPF_HELPER_MAP_LOOKUP_ELEM ? 0x06u : 0x3eu;
		w |= 0x3fu;	/* r0-r5 */
	}
	*reads = r;
	*writes = w;
}

void ebpf_liveness(const struct csd_ebpf_prog *prog, uint16_t *live)
{
	const struct csd_ebpf_insn *insns = prog->insns;
	size_t cnt = prog->insn_cnt;
	bool changed = true;

	while (changed) {
		changed = false;
		for (size_t pc = cnt; pc-- > 0;) {
			const struct csd_ebpf_insn *insn = &insns[pc];
			unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);
			unsigned reads, writes, out = 0;
			uint16_t in;

			if (pc > 0 && insns[pc - 1].code == BPF_OP_LDDW)
				continue;	/* the second slot of a 64-bit load */
			uses(insn, &reads, &writes);
			if (cls == BPF_JMP || cls == BPF_JMP32) {
				if (op != BPF_EXIT && op != BPF_JA && pc + 1 < cnt)
					out |= live[pc + 1];
				if (op == BPF_JA || (op != BPF_EXIT && op != BPF_CALL))
					out |= live[pc + 1 + (size_t)(ptrdiff_t)(cls == BPF_JMP32 &&
						op == BPF_JA ? insn->imm : insn->off)];
			} else if (pc + insn_slots(insn) < cnt) {
				out = live[pc + insn_slots(insn)];
			}
			in = (uint16_t)((out & ~writes) | reads);
			if (in != live[pc])
				live[pc] = in, changed = true;
		}
	}
}

