/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 JIT: one pass over the program emits machine code, jumps as rel32 so that every
 * instruction's size is known before its targets are (targets are patched at the end), and the
 * rare paths (a memory access outside the fast checks, a budget refill, a fault) go to stubs
 * after the body so the hot code stays straight.
 *
 * Registers, as in Linux's JIT so that helper calls need no spilling of r6-r10:
 *   r0 rax  r1 rdi  r2 rsi  r3 rdx  r4 rcx  r5 r8  r6 rbx  r7 r13  r8 r14  r9 r15  r10 rbp
 *   r12: the run's context; r9: the budget countdown; r10, r11: scratch.
 * bpf-to-bpf calls are native calls: the caller saves r6-r10 on the machine stack and moves
 * r10 down a frame. Checked code (a program the verifier did not prove) tests every access
 * against the input and the stack inline and asks C about maps; verified code accesses memory
 * directly. Both count down the budget at every loop head (a backward jump's target) and call,
 * so that a run can always be stopped (budget, Abort, the watchdog).
 *
 * The code lives in its own mapping, written while read-write and then made read-execute: it
 * is never writable and executable at once.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "jit_x86_64.h"

#define KEY_IN_FRAME	(-1)	/* emit_inline_array_lookup()'s key_reg */
#define KEY_VIA_R2	(-2)

/* CSD_JIT_NO_BMI2 set: the code for CPUs without it, so that a test runs that code anywhere */
static bool has_bmi2(void)
{
	return __builtin_cpu_supports("bmi2") && !getenv("CSD_JIT_NO_BMI2");
}

/* A rel32 to an eBPF pc (patched at the end). */
static void rel_to_pc(struct jit *j, size_t pc)
{
	if (j->nfix == j->capfix) {
		j->capfix = j->capfix ? j->capfix * 2 : 256;
		j->fix = realloc(j->fix, j->capfix * sizeof(*j->fix));
		if (!j->fix) {
			j->oom = true;
			j->nfix = j->capfix = 0;
			return;
		}
	}
	j->fix[j->nfix++] = (struct fixup){ j->len, pc, j->cur_pc };
	emit4(j, 0);
}

/* A backward jump whose target is near gets the 2-byte form: small loops fit a fetch block. */
static bool short_back(struct jit *j, size_t pc, size_t *target)
{
	if (pc > j->cur_pc || j->moved[pc])
		return false;
	*target = jit_code_of(j, pc, j->cur_pc);
	return (int64_t)*target - (int64_t)(j->len + 2) >= -128;
}

static void jcc_pc(struct jit *j, uint8_t cc, size_t pc)
{
	size_t target;

	if (short_back(j, pc, &target)) {
		emit1(j, (uint8_t)(0x70 | cc));
		emit1(j, (uint8_t)(int8_t)((int64_t)target - (int64_t)(j->len + 1)));
		return;
	}
	emit1(j, 0x0f);
	emit1(j, (uint8_t)(0x80 | cc));
	rel_to_pc(j, pc);
}

static void jmp_pc(struct jit *j, size_t pc)
{
	size_t target;

	if (short_back(j, pc, &target)) {
		emit1(j, 0xeb);
		emit1(j, (uint8_t)(int8_t)((int64_t)target - (int64_t)(j->len + 1)));
		return;
	}
	emit1(j, 0xe9);
	rel_to_pc(j, pc);
}

/* A jcc (cc < 16) or jmp (cc == 16) to a stub, returning to where the code goes on. */
static void to_stub(struct jit *j, int cc, enum stub_kind kind, uint32_t pc, uint32_t arg)
{
	struct stub s = { kind, pc, 0, 0, arg, 0 };

	if (cc < 16) {
		emit1(j, 0x0f);
		emit1(j, (uint8_t)(0x80 | cc));
	} else {
		emit1(j, 0xe9);
	}
	s.site = j->len;
	emit4(j, 0);
	s.resume = j->len;
	if (j->nstubs == j->capstubs) {
		j->capstubs = j->capstubs ? j->capstubs * 2 : 64;
		j->stubs = realloc(j->stubs, j->capstubs * sizeof(*j->stubs));
		if (!j->stubs) {
			j->oom = true;
			j->nstubs = j->capstubs = 0;
			return;
		}
	}
	j->stubs[j->nstubs++] = s;
}

/*
 * Calls to C from the body: every caller-saved register is pushed (so eBPF r0-r5 survive),
 * then the stack is aligned. Arguments come from the saved copies, so a register that is both
 * an argument register and an eBPF register is read before it is overwritten.
 */
static const uint8_t saved_regs[] = { RAX, RDI, RSI, RDX, RCX, R8, R9, R10, R11 };
#define NSAVED	(sizeof(saved_regs) / sizeof(saved_regs[0]))

static void save_all(struct jit *j)
{
	for (size_t i = 0; i < NSAVED; i++)
		push(j, saved_regs[i]);
	/* lea rsp, [rsp - 8]: 9 pushes + 8 keep 16-byte alignment (lea leaves the flags) */
	emit1(j, 0x48); emit1(j, 0x8d); emit1(j, 0x64); emit1(j, 0x24); emit1(j, 0xf8);
}

static void restore_all(struct jit *j)
{
	emit1(j, 0x48); emit1(j, 0x8d); emit1(j, 0x64); emit1(j, 0x24); emit1(j, 0x08);
	for (size_t i = NSAVED; i-- > 0;)
		pop(j, saved_regs[i]);
}

/* Where the saved copy of x86 register r is after save_all(), or -1 if it is not saved. */
static int saved_slot(unsigned r)
{
	for (size_t i = 0; i < NSAVED; i++)
		if (saved_regs[i] == r)
			return 8 + 8 * (int)(NSAVED - 1 - i);
	return -1;
}

/* After save_all(): dst := the value x86 register r had before it. */
static void load_saved(struct jit *j, unsigned dst, unsigned r)
{
	int slot = saved_slot(r);

	if (slot < 0) {
		mov_rr(j, true, r, dst);
		return;
	}
	rex(j, true, dst, RSP, false);
	emit1(j, 0x8b);
	modrm_mem(j, dst, RSP, slot);
}

/* After save_all(): make x86 register r hold rax once restore_all() runs. */
static void set_saved_from_rax(struct jit *j, unsigned r)
{
	int slot = saved_slot(r);

	if (slot < 0) {
		mov_rr(j, true, RAX, r);
		return;
	}
	rex(j, true, RAX, RSP, false);
	emit1(j, 0x89);
	modrm_mem(j, RAX, RSP, slot);
}

static void call_abs(struct jit *j, const void *fn)
{
	mov_ri64(j, RAX, (uint64_t)(uintptr_t)fn);
	emit1(j, 0xff);
	emit1(j, 0xd0);		/* call rax */
}

/* ---- memory ----------------------------------------------------------------------------- */

/* Where the jump or bpf-to-bpf call at pc goes; SIZE_MAX for any other instruction. */
static size_t jump_target(const struct csd_ebpf_insn *insn, size_t pc)
{
	unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

	if ((cls != BPF_JMP && cls != BPF_JMP32) || op == BPF_EXIT ||
	    (op == BPF_CALL && insn->src_reg != BPF_PSEUDO_CALL))
		return SIZE_MAX;
	return pc + 1 + (size_t)(ptrdiff_t)(op == BPF_CALL || (cls == BPF_JMP32 && op == BPF_JA) ?
					     insn->imm : insn->off);
}

static const unsigned size_of[4] = { 4, 2, 1, 8 };	/* by BPF_SIZE >> 3 */

static unsigned size_index(unsigned size)
{
	return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
}

/* r10 := r11 - [r12 + field]; cmp r10, [r12 + lim] (an offset into the input or stack) */
static void rel_to_ctx(struct jit *j, int32_t start_field)
{
	mov_rr(j, true, R11, R10);
	rex(j, true, R10, CTX, false);
	emit1(j, 0x2b);		/* sub r10, [r12 + field] */
	modrm_mem(j, R10, CTX, start_field);
}

static void check_input(struct jit *j, unsigned size, bool write)
{
	rel_to_ctx(j, CTX_OFF(mem_start));
	rex(j, true, R10, CTX, false);
	emit1(j, 0x3b);		/* cmp r10, [r12 + lim] */
	modrm_mem(j, R10, CTX, write ? CTX_OFF(in_wlim[size_index(size)]) :
				       CTX_OFF(in_lim[size_index(size)]));
}

static void check_stack(struct jit *j, unsigned size)
{
	rel_to_ctx(j, CTX_OFF(stack_start));
	alu_ri(j, true, 7, R10, (int32_t)(j->prog->stack_bytes - size + 1));
}

/*
 * Verified code keeps one check per access, of the one region the verifier proved it reaches
 * (prog->guard): a wrong proof then ends in the memory stub, which faults unless the address
 * is in some other region of the program's, never in a read or write of other memory. Only
 * [r10 + off] within the frame goes unchecked: r10 is never written, so that needs no proof.
 * Returns false when the access may use [base + off] as it is.
 */
static bool verified_guard(struct jit *j, unsigned base, int16_t off, unsigned size, bool write,
			   uint32_t pc, uint8_t guard)
{
	if (base == RBP && off >= -CSD_EBPF_STACK_SIZE && off + (int)size <= 0)
		return false;
	/* lea r11, [base + off] */
	rex(j, true, R11, base, false);
	emit1(j, 0x8d);
	modrm_mem(j, R11, base, off);
	if (guard == EBPF_GUARD_INPUT) {
		check_input(j, size, write);
	} else if (guard == EBPF_GUARD_STACK) {
		check_stack(j, size);
	} else {
		const struct ebpf_map *m = &j->prog->maps[guard - EBPF_GUARD_MAP];
		uint64_t bytes = (uint64_t)m->max_entries * m->value_size;

		if (bytes < size || bytes - size + 1 > INT32_MAX || (write && m->readonly)) {
			to_stub(j, JMP, STUB_MEM, pc, size | (unsigned)write << 8);
			j->last_check.valid = false;
			return true;
		}
		/* r10 := r11 - values; cmp r10, bytes - size + 1 */
		if ((uintptr_t)m->values + bytes <= INT32_MAX) {	/* below 2 GiB (maps.c) */
			rex(j, true, R10, R11, false);
			emit1(j, 0x8d);			/* lea r10, [r11 - values] */
			modrm_mem(j, R10, R11, -(int32_t)(uintptr_t)m->values);
		} else {
			mov_ri64(j, R10, (uint64_t)0 - (uint64_t)(uintptr_t)m->values);
			alu_rr(j, true, 0x01, R11, R10);	/* add r10, r11 */
		}
		alu_ri(j, true, 7, R10, (int32_t)(bytes - size + 1));
	}
	to_stub(j, CC_AE, STUB_MEM, pc, size | (unsigned)write << 8);
	j->last_check = (struct checked_address){ .valid = true, .write = write,
		.base = (uint8_t)base, .guard = guard, .off = off, .size = size };
	return true;
}

/*
 * Whether register base (that of the last checked address) stays as it was through insn:
 * loads and stores (address() keeps or replaces the check; a load into that register drops
 * it, emit_load), and ALU operations that use no scratch register and write another one. Not
 * across anything that may jump in: the caller drops it at every jump target.
 */
static bool keeps_register(const struct csd_ebpf_insn *insn, unsigned base)
{
	unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

	if (cls == BPF_LDX || cls == BPF_ST)
		return true;
	if (cls == BPF_STX)
		return BPF_MODE(insn->code) != BPF_ATOMIC;
	if (cls != BPF_ALU && cls != BPF_ALU64)
		return false;
	return (op == BPF_ADD || op == BPF_SUB || op == BPF_AND || op == BPF_OR ||
		op == BPF_XOR || op == BPF_MOV) && reg_map[insn->dst_reg] != base;
}

/*
 * The last check covers this access too: the same register (nothing wrote it since, see
 * keeps_register()), bytes inside the ones checked, the same region, and a limit at least as
 * strict (a write to the input has its own; a read-only map never takes a write, which
 * verified_guard() compiles as a fault).
 */
static bool reuse_checked_address(const struct jit *j, unsigned base, int16_t off,
				  unsigned size, bool write, uint8_t guard)
{
	return j->last_check.valid && j->last_check.base == base && off >= j->last_check.off &&
	       off + (int)size <= j->last_check.off + (int)j->last_check.size &&
	       j->last_check.guard == guard && (!write || j->last_check.write);
}

/*
 * A load from the stack or a writable map whose address a store reuses (`counts[b]++`): its
 * check is made as the store's. The limit is the same; what differs is the memory stub's, when
 * a wrong proof sends the load there: it lets the access go on only inside memory the run may
 * write, since the store after it is not checked again.
 */
static bool store_follows(const struct jit *j, uint32_t pc, unsigned base, int16_t off,
			  unsigned size, uint8_t guard)
{
	const struct csd_ebpf_insn *insns = j->prog->insns;
	const struct csd_ebpf_insn *load = &insns[pc];

	if (BPF_CLASS(load->code) != BPF_LDX || reg_map[load->dst_reg] == base ||
	    (guard != EBPF_GUARD_STACK && (guard < EBPF_GUARD_MAP ||
					   j->prog->maps[guard - EBPF_GUARD_MAP].readonly)))
		return false;
	for (size_t k = pc + 1; k < j->prog->insn_cnt && k <= pc + 8; k++) {
		const struct csd_ebpf_insn *i = &insns[k];
		unsigned cls = BPF_CLASS(i->code);

		if (j->target[k] || j->loop_head[k])
			return false;
		if ((cls == BPF_ST || (cls == BPF_STX && BPF_MODE(i->code) != BPF_ATOMIC)) &&
		    reg_map[i->dst_reg] == base && i->off == off &&
		    size_of[BPF_SIZE(i->code) >> 3] <= size)
			return true;
		if (!keeps_register(i, base) ||
		    (cls == BPF_LDX && reg_map[i->dst_reg] == base))
			return false;
	}
	return false;
}

/*
 * r11 := base + off and its check, or nothing (verified_guard). Checked code (a program the
 * verifier did not prove) tests the input, then the stack, and sends anything else to a stub
 * that asks C (maps) and faults if it says no. Sets j->via_r11: the access uses [r11].
 */
/*
 * Sandboxed code through GS, an access the verifier proved to be in the stack through a
 * register other than r10: at [r9 + ((base + off - r9) mod stack_bytes)], r9 the stack's
 * start. Whatever a wrong proof lets base hold, the access stays in the run's own frames
 * (and the 7 bytes past them that jit_run.c keeps for an 8-byte access at the last byte,
 * cleared as the frames are): the stack's check, its branch and its memory operand gone.
 */
_Static_assert(!(CSD_EBPF_STACK_SIZE & (CSD_EBPF_STACK_SIZE - 1)) &&
	       !(CSD_EBPF_MAX_FRAMES & (CSD_EBPF_MAX_FRAMES - 1)),
	       "prog->stack_bytes is a power of 2: a mask confines an offset to it");

static void confine_to_stack(struct jit *j, unsigned base, int16_t off)
{
	rex(j, true, R11, base, false);
	emit1(j, 0x8d);				/* lea r11, [base + off] */
	modrm_mem(j, R11, base, off);
	alu_rr(j, true, 0x29, BUDGET, R11);	/* sub r11, r9 */
	alu_ri(j, false, 4, R11, (int32_t)j->prog->stack_bytes - 1);
	j->last_check.valid = false;
	j->via_r11 = false;
	j->via_sib = true;			/* [r9 + r11] */
}

static void address(struct jit *j, unsigned base, int16_t off, unsigned size, bool write,
		    bool atomic, uint32_t pc)
{
	uint8_t guard = j->prog->guard ? j->prog->guard[pc] : EBPF_GUARD_ANY;

	if (j->address_ready) {
		j->address_ready = false;
		j->last_check.valid = false;
		return;
	}
	j->r11_off = 0;
	j->via_sib = false;
	if (atomic)
		j->last_check.valid = false;
	if (j->sandboxed && guard == EBPF_GUARD_INPUT && !atomic) {
		j->last_check.valid = false;
		if (j->gs) {
			/*
			 * gs:[base + off] with a 32-bit address: the sum taken mod 2^32, and GS's
			 * base the sandbox's, the same confinement as the lea below, in the access
			 */
			j->via_gs = true;
			j->gs_base = (uint8_t)base;
			j->gs_index = NO_INDEX;
			return;
		}
		/*
		 * The access goes to [r9 + r11], r11 := (base + off) mod 2^32: inside the sandbox
		 * or its guard, whatever base holds. The offset is added before the cut: a
		 * pointer may lie before its input and an offset bring it back in (base - 5,
		 * off 110).
		 */
		rex(j, false, R11, base, false);
		emit1(j, 0x8d);				/* lea r11d, [base + off] */
		modrm_mem(j, R11, base, off);
		j->via_r11 = true;
		j->via_sib = true;
		return;
	}
	if (j->gs && guard == EBPF_GUARD_STACK && !atomic &&
	    !(base == RBP && off >= -CSD_EBPF_STACK_SIZE && off + (int)size <= 0)) {
		confine_to_stack(j, base, off);
		return;
	}
	if (!j->checked && guard != EBPF_GUARD_ANY) {
		if (reuse_checked_address(j, base, off, size, write, guard)) {
			j->via_r11 = false;	/* [base + off], as checked */
			return;
		}
		write = write || store_follows(j, pc, base, off, size, guard);
		j->via_r11 = verified_guard(j, base, off, size, write, pc, guard);
		return;
	}
	j->last_check.valid = false;
	j->via_r11 = true;
	if (!j->checked && base == RBP && off >= -CSD_EBPF_STACK_SIZE && off + (int)size <= 0) {
		j->via_r11 = false;
		return;
	}
	/* lea r11, [base + off] */
	rex(j, true, R11, base, false);
	emit1(j, 0x8d);
	modrm_mem(j, R11, base, off);
	check_input(j, size, write);
	emit1(j, 0x72);		/* jb ok (rel8, patched below) */
	emit1(j, 0);
	{
		size_t jb1 = j->len;

		check_stack(j, size);
		emit1(j, 0x72);
		emit1(j, 0);
		{
			size_t jb2 = j->len;

			to_stub(j, JMP, STUB_MEM, pc, size | (unsigned)write << 8);
			if (!j->oom) {
				j->buf[jb1 - 1] = (uint8_t)(j->len - jb1);
				j->buf[jb2 - 1] = (uint8_t)(j->len - jb2);
			}
		}
	}
}

/* The memory operand of an access: [r9 + r11] sandboxed, [r11] after a check, [base + off]. */
static void mem_operand(struct jit *j, unsigned reg, unsigned base, int16_t off)
{
	if (j->via_gs) {
		j->via_gs = j->sib_rex = false;
		if (j->gs_index == NO_INDEX) {
			modrm_mem(j, reg, j->gs_base, off);
			return;
		}
		/* [base + index + off]: SIB, and a displacement always (rbp/r13 as a base need one) */
		emit1(j, (uint8_t)((off >= -128 && off <= 127 ? 0x40 : 0x80) | ((reg & 7) << 3) | 4));
		emit1(j, (uint8_t)(((j->gs_index & 7) << 3) | (j->gs_base & 7)));
		if (off >= -128 && off <= 127)
			emit1(j, (uint8_t)off);
		else
			emit4(j, (uint32_t)(int32_t)off);
	} else if (j->via_map) {
		modrm_mem(j, reg, j->map_base, j->map_off);
		j->via_map = false;
	} else if (j->via_sib) {
		emit1(j, (uint8_t)(0x04 | ((reg & 7) << 3)));		/* mod 00, rm: SIB */
		emit1(j, (uint8_t)(((R11 & 7) << 3) | (BUDGET & 7)));	/* [r9 + r11 * 1] */
		j->sib_rex = j->via_sib = false;
	} else if (j->via_r11) {
		modrm_mem(j, reg, R11, j->r11_off);
	} else {
		modrm_mem(j, reg, base, off);
	}
}

/*
 * The register for the access's REX.B; a sandboxed access's REX.X follows from sib_rex. An
 * access through GS gets its prefixes here, before any other (GS, 32-bit address).
 */
static unsigned mem_base(struct jit *j, unsigned base)
{
	if (j->via_gs) {
		emit1(j, 0x65);
		emit1(j, 0x67);
		j->sib_rex = j->gs_index != NO_INDEX && j->gs_index >= 8;
		return j->gs_base;
	}
	if (j->via_map)
		return j->map_base;
	if (j->via_sib) {
		j->sib_rex = true;
		return BUDGET;
	}
	return j->via_r11 ? R11 : base;
}

static void emit_load(struct jit *j, const struct csd_ebpf_insn *insn, uint32_t pc)
{
	unsigned size = size_of[BPF_SIZE(insn->code) >> 3];
	unsigned dst = reg_map[insn->dst_reg], base = reg_map[insn->src_reg];
	bool sx = BPF_MODE(insn->code) == BPF_MEMSX;

	address(j, base, insn->off, size, false, false, pc);
	base = mem_base(j, base);
	switch (size) {
	case 1:		/* movzx r32, byte / movsx r64, byte */
	case 2:
		rex(j, sx, dst, base, false);
		emit1(j, 0x0f);
		emit1(j, (uint8_t)((sx ? 0xbe : 0xb6) + (size == 2)));
		break;
	case 4:
		rex(j, sx, dst, base, false);
		emit1(j, sx ? 0x63 : 0x8b);	/* movsxd / mov r32 (zero-extends) */
		break;
	default:
		rex(j, true, dst, base, false);
		emit1(j, 0x8b);
	}
	mem_operand(j, dst, reg_map[insn->src_reg], insn->off);
	if (dst == j->last_check.base)
		j->last_check.valid = false;
}

static void emit_store(struct jit *j, const struct csd_ebpf_insn *insn, uint32_t pc, bool imm)
{
	unsigned size = size_of[BPF_SIZE(insn->code) >> 3];
	unsigned base = reg_map[insn->dst_reg], src = reg_map[insn->src_reg];

	address(j, base, insn->off, size, true, false, pc);
	base = mem_base(j, base);
	if (size == 2)
		emit1(j, 0x66);
	if (imm) {
		rex(j, size == 8, 0, base, false);
		emit1(j, size == 1 ? 0xc6 : 0xc7);
		mem_operand(j, 0, reg_map[insn->dst_reg], insn->off);
		if (size == 1)
			emit1(j, (uint8_t)insn->imm);
		else if (size == 2)
			emit1(j, (uint8_t)insn->imm), emit1(j, (uint8_t)(insn->imm >> 8));
		else
			emit4(j, (uint32_t)insn->imm);
		return;
	}
	rex(j, size == 8, src, base, size == 1 && byte_reg_needs_rex(src));
	emit1(j, size == 1 ? 0x88 : 0x89);
	mem_operand(j, src, reg_map[insn->dst_reg], insn->off);
}

static void emit_atomic(struct jit *j, const struct csd_ebpf_insn *insn, uint32_t pc)
{
	unsigned size = BPF_SIZE(insn->code) == BPF_DW ? 8 : 4;
	unsigned src = reg_map[insn->src_reg];
	bool w = size == 8;
	int32_t op = insn->imm;

	/* r11 holds the address in checked and verified code alike: the alignment test needs it */
	address(j, reg_map[insn->dst_reg], insn->off, size, true, true, pc);
	if (!j->via_r11) {
		rex(j, true, R11, reg_map[insn->dst_reg], false);
		emit1(j, 0x8d);
		modrm_mem(j, R11, reg_map[insn->dst_reg], insn->off);
		j->via_r11 = true;
	}
	/* test r11, size - 1; jnz misaligned */
	rex(j, true, 0, R11, false);
	emit1(j, 0xf7);
	modrm_rr(j, 0, R11);
	emit4(j, size - 1);
	to_stub(j, CC_NE, STUB_MISALIGNED, pc, 0);

	switch (op) {
	case BPF_ADD:
	case BPF_OR:
	case BPF_AND:
	case BPF_XOR:
		emit1(j, 0xf0);		/* lock */
		rex(j, w, src, R11, false);
		emit1(j, op == BPF_ADD ? 0x01 : op == BPF_OR ? 0x09 : op == BPF_AND ? 0x21 : 0x31);
		modrm_mem(j, src, R11, 0);
		break;
	case BPF_ADD | BPF_FETCH:
		emit1(j, 0xf0);		/* lock xadd */
		rex(j, w, src, R11, false);
		emit1(j, 0x0f);
		emit1(j, 0xc1);
		modrm_mem(j, src, R11, 0);
		break;
	case BPF_XCHG:
		rex(j, w, src, R11, false);
		emit1(j, 0x87);
		modrm_mem(j, src, R11, 0);
		break;
	case BPF_CMPXCHG:
		emit1(j, 0xf0);		/* lock cmpxchg: compares with rax = r0, old value to rax */
		rex(j, w, src, R11, false);
		emit1(j, 0x0f);
		emit1(j, 0xb1);
		modrm_mem(j, src, R11, 0);
		if (!w)
			mov_rr(j, false, RAX, RAX);	/* r0 is the zero-extended old value */
		break;
	default:	/* fetch or/and/xor: a compare-exchange loop, in C */
		save_all(j);
		load_saved(j, RDI, R11);
		load_saved(j, RSI, src);
		mov_ri64(j, RDX, (uint64_t)(uint32_t)op | (uint64_t)size << 32);
		call_abs(j, jit_atomic_fetch);
		set_saved_from_rax(j, src);
		restore_all(j);
	}
}

/* ---- ALU -------------------------------------------------------------------------------- */

/*
 * x / k or x % k by a constant k that is not a power of 2, as compilers divide: the high half
 * of x times a magic number m (2^N * (2^l - k) / k + 1, l = ceil(log2 k)), t, and then
 * q = (((x - t) >> 1) + t) >> (l - 1), exact for every N-bit x (Granlund and Montgomery, the
 * "add" variant); x % k as x - q * k. A multiply and four one-cycle steps where div takes tens
 * of cycles. 64 bits need the 128-bit product: mulx (BMI2; rdx, eBPF r3, kept in r10). false
 * for k above 2^63 (64 bits) and without BMI2 in 64 bits: div then.
 */
/*
 * For dividends below 2^32, a multiplier m below 2^32 (x * m fits 64 bits) and a shift p
 * with x / k = (x * m) >> p for every such x: m = ceil(2^p / k) is exact when
 * e = m * k - 2^p <= 2^(p - 32), as x * m / 2^p = x / k + x * e / (k * 2^p) then exceeds
 * x / k by less than 1/k, which no quotient's fraction reaches. Not every k has one (7 has
 * not: its multiplier needs 33 bits); 65521 has m = 0x80078071, p = 47, as clang uses.
 */
static bool magic32(uint64_t k, uint64_t *m, unsigned *p)
{
	unsigned l = 64 - (unsigned)__builtin_clzll(k - 1);

	if (k >> 32)
		return false;
	for (unsigned s = 32; s <= 32 + l; s++) {
		unsigned __int128 two = (unsigned __int128)1 << s, mm = (two + k - 1) / k;

		if (mm >> 32)
			return false;		/* a larger p only makes m larger */
		if (mm * k - two <= (unsigned __int128)1 << (s - 32)) {
			*m = (uint64_t)mm;
			*p = s;
			return true;
		}
	}
	return false;
}

/* x / k or x % k for x, dst's low 32 bits, by magic32()'s m and p: a multiply and a shift */
static void emit_divmod_magic32(struct jit *j, bool mod, unsigned dst, uint64_t k, uint64_t m,
				unsigned p)
{
	mov_rr(j, false, dst, R10);			/* x, zero-extended */
	if (m <= INT32_MAX) {
		imul_ri(j, true, R10, R10, (int32_t)m);
	} else {
		mov_ri64(j, R11, m);
		rex(j, true, R10, R11, false);
		emit1(j, 0x0f);				/* imul r10, r11 */
		emit1(j, 0xaf);
		modrm_rr(j, R10, R11);
	}
	shift_ri(j, true, 5, R10, p);			/* q, below 2^32 */
	if (!mod) {
		mov_rr(j, true, R10, dst);
		return;
	}
	imul_ri(j, false, R10, R10, (int32_t)(uint32_t)k);	/* the low 32 bits of q * k */
	alu_rr(j, false, 0x29, R10, dst);		/* x - q * k, zero-extended */
}

static bool emit_divmod_magic(struct jit *j, bool is64, bool mod, unsigned dst, uint64_t k)
{
	unsigned l = is64 ? 64 - (unsigned)__builtin_clzll(k - 1) :
			    32 - (unsigned)__builtin_clz((uint32_t)k - 1);
	const unsigned q = R10;
	size_t wide = 0, done = 0;
	uint64_t m32;
	unsigned p32;

	if (magic32(k, &m32, &p32)) {
		if (!is64) {
			emit_divmod_magic32(j, mod, dst, k, m32, p32);
			return true;
		}
		if (l <= 63 && j->bmi2) {
			/*
			 * 64 bits, where x is mostly small (adler32's sums, below 2^17): below
			 * 2^32, a multiply and a shift; above, the 128-bit product below
			 */
			mov_rr(j, true, dst, R10);
			shift_ri(j, true, 5, R10, 32);
			wide = jcc_forward(j, CC_NE);
			emit_divmod_magic32(j, mod, dst, k, m32, p32);
			done = jmp_forward(j);
			patch_to(j, wide, j->len);
		}
	}
	if (is64) {
		unsigned __int128 m;

		if (l > 63 || !j->bmi2)
			return false;
		m = (((unsigned __int128)1 << 64) * ((UINT64_C(1) << l) - k)) / k + 1;
		mov_rr(j, true, RDX, R10);
		mov_ri64(j, RDX, (uint64_t)m);
		/* mulx r11, r11, x: r11 := the high half of rdx * x (x: r10 if it was rdx) */
		vex_0f38(j, R11, dst == RDX ? R10 : dst, R11, true, 3);
		emit1(j, 0xf6);
		modrm_rr(j, R11, dst == RDX ? R10 : dst);
		mov_rr(j, true, R10, RDX);		/* rdx as it was */
		mov_rr(j, true, dst, R10);		/* x */
	} else {
		uint64_t m = ((UINT64_C(1) << 32) * ((UINT64_C(1) << l) - k)) / k + 1;

		mov_rr(j, false, dst, R10);		/* x, zero-extended */
		mov_ri64(j, R11, m);
		rex(j, true, R11, R10, false);
		emit1(j, 0x0f);				/* imul r11, r10 */
		emit1(j, 0xaf);
		modrm_rr(j, R11, R10);
		shift_ri(j, true, 5, R11, 32);		/* t */
	}
	/* r10: x, r11: t; q := (((x - t) >> 1) + t) >> (l - 1) in r10 */
	alu_rr(j, is64, 0x29, R11, R10);		/* sub r10, r11 */
	rex(j, is64, 0, R10, false);
	emit1(j, 0xd1);					/* shr r10, 1 */
	modrm_rr(j, 5, R10);
	alu_rr(j, is64, 0x01, R11, R10);		/* add r10, r11 */
	if (l > 1)
		shift_ri(j, is64, 5, R10, l - 1);
	if (!mod) {
		mov_rr(j, is64, q, dst);		/* 32 bits: zero-extends */
	} else {
		/* x % k = x - q * k (k fits imul's immediate: eBPF's is 32 bits, sign-extended) */
		imul_ri(j, is64, q, q, (int32_t)(uint32_t)k);
		alu_rr(j, is64, 0x29, q, dst);		/* sub dst, r10 (32 bits: of x's low half) */
	}
	if (done)
		patch_to(j, done, j->len);
	return true;
}

/*
 * Unsigned division or modulo by a constant other than 0 (adler32's % 65521): a shift or a
 * mask for a power of 2, a multiply by the inverse for most others (emit_divmod_magic()),
 * else x86's div in line, rax and rdx (eBPF r0 and r3) kept around it. The rest, signed or by
 * a register that may be 0 (eBPF's answers for those), go to C.
 */
static bool emit_divmod_const(struct jit *j, const struct csd_ebpf_insn *insn)
{
	bool is64 = BPF_CLASS(insn->code) == BPF_ALU64, mod = BPF_OP(insn->code) == BPF_MOD;
	unsigned dst = reg_map[insn->dst_reg];
	uint64_t k = is64 ? (uint64_t)(int64_t)insn->imm : (uint32_t)insn->imm;

	if (BPF_SRC(insn->code) != BPF_K || insn->off || !k)
		return false;
	if ((k & (k - 1)) == 0) {
		if (!mod && k > 1) {
			shift_ri(j, is64, 5, dst, (unsigned)__builtin_ctzll(k));	/* log2 k */
		} else if (!mod) {
			mov_rr(j, is64, dst, dst);	/* x / 1: 32 bits zero-extend */
		} else if (k - 1 <= INT32_MAX) {
			alu_ri(j, is64, 4, dst, (int32_t)(k - 1));	/* and dst, k - 1 */
		} else {
			mov_ri64(j, R11, k - 1);
			alu_rr(j, is64, 0x21, R11, dst);
		}
		return true;
	}
	if (emit_divmod_magic(j, is64, mod, dst, k))
		return true;
	mov_ri64(j, R11, k);
	if (dst != RDX)
		push(j, RDX);
	if (dst != RAX) {
		push(j, RAX);
		mov_rr(j, is64, dst, RAX);
	} else if (!is64) {
		mov_rr(j, false, RAX, RAX);		/* the low half: mov eax, eax */
	}
	alu_rr(j, false, 0x31, RDX, RDX);		/* xor edx, edx */
	rex(j, is64, 0, R11, false);
	emit1(j, 0xf7);					/* div r11 */
	modrm_rr(j, 6, R11);
	mov_rr(j, is64, mod ? RDX : RAX, dst);		/* 32-bit: zero-extends */
	if (dst != RAX)
		pop(j, RAX);
	if (dst != RDX)
		pop(j, RDX);
	return true;
}

static void emit_divmod(struct jit *j, const struct csd_ebpf_insn *insn)
{
	bool is64 = BPF_CLASS(insn->code) == BPF_ALU64, x = BPF_SRC(insn->code) == BPF_X;
	unsigned dst = reg_map[insn->dst_reg];
	unsigned kind = (BPF_OP(insn->code) == BPF_MOD) | (insn->off ? 2 : 0) | (is64 ? 4 : 0);

	if (emit_divmod_const(j, insn))
		return;

	save_all(j);
	load_saved(j, RDI, dst);
	if (x)
		load_saved(j, RSI, reg_map[insn->src_reg]);
	else
		mov_ri64(j, RSI, (uint64_t)(int64_t)insn->imm);
	mov_ri64(j, RDX, kind);
	call_abs(j, jit_divmod);
	set_saved_from_rax(j, dst);
	restore_all(j);
}

static void emit_shift(struct jit *j, bool w, unsigned ext, const struct csd_ebpf_insn *insn)
{
	unsigned dst = reg_map[insn->dst_reg];

	if (BPF_SRC(insn->code) == BPF_K) {
		shift_ri(j, w, ext, dst, (unsigned)insn->imm & (w ? 63 : 31));
		return;
	}
	if (j->bmi2) {
		/*
		 * shlx, shrx, sarx dst, dst, src: the count in any register, so no moves through
		 * rcx (eBPF r4); VEX.LZ.0F38 F7 /r with the count in vvvv, W for 64 bits; the
		 * count masked to 5 or 6 bits, as with cl
		 */
		unsigned src = reg_map[insn->src_reg];
		uint8_t pp = ext == 4 ? 1 : ext == 5 ? 3 : 2;	/* 66 shl, F2 shr, F3 sar */

		vex_0f38(j, dst, dst, src, w, pp);
		emit1(j, 0xf7);
		modrm_rr(j, dst, dst);
		return;
	}
	/* the count must be in cl, and rcx is eBPF r4 */
	{
		unsigned src = reg_map[insn->src_reg], target = dst == RCX ? R10 : dst;

		mov_rr(j, true, RCX, R11);		/* keep rcx */
		if (dst == RCX)
			mov_rr(j, true, RCX, R10);	/* shift a copy of r4 */
		if (src != RCX)
			mov_rr(j, true, src == RCX ? R11 : src, RCX);
		rex(j, w, 0, target, false);
		emit1(j, 0xd3);
		modrm_rr(j, ext, target);
		if (dst == RCX)
			mov_rr(j, true, R10, RCX);
		else
			mov_rr(j, true, R11, RCX);	/* give rcx back */
	}
}

/* dst := the low `bits` (16, 32, 64) of dst with their bytes reversed, zero-extended. */
static void emit_bswap(struct jit *j, unsigned dst, unsigned bits)
{
	if (bits == 16) {		/* ror r16, 8; movzx r32, r16 */
		emit1(j, 0x66);
		rex(j, false, 0, dst, false);
		emit1(j, 0xc1);
		modrm_rr(j, 1, dst);
		emit1(j, 8);
		rex(j, false, dst, dst, false);
		emit1(j, 0x0f);
		emit1(j, 0xb7);
		modrm_rr(j, dst, dst);
	} else {
		rex(j, bits == 64, 0, dst, false);
		emit1(j, 0x0f);
		emit1(j, (uint8_t)(0xc8 + (dst & 7)));
	}
}

/*
 * dst *= imm for the constants parsers and hashes multiply by, as compilers write them:
 * imul takes 3 cycles where lea and shl take 1, and a `value = value * 10 + digit` or
 * `h = h * 33 + c` loop waits for each. Positive imm only (a shift and lea give the low 32 or
 * 64 bits of the product, which is all eBPF keeps); false (nothing emitted) for the others.
 */
static bool emit_mul_by_constant(struct jit *j, bool w, unsigned dst, int32_t imm)
{
	static const uint8_t lea_scale[10] = { [3] = 1, [5] = 2, [9] = 3 };
	uint32_t m = (uint32_t)imm;
	unsigned k = 0;

	if (imm <= 1)
		return false;
	while (!(m & 1)) {
		m >>= 1;
		k++;
	}
	if (m == 1) {				/* 2^k */
		shift_ri(j, w, 4, dst, k);
		return true;
	}
	if (m < 10 && lea_scale[m]) {		/* 3, 5 or 9 times 2^k */
		lea_sib(j, w, dst, dst, dst, lea_scale[m], 0);
		if (k)
			shift_ri(j, w, 4, dst, k);
		return true;
	}
	if (k == 0 && ((m - 1) & (m - 2)) == 0) {	/* 2^n + 1: dst + (dst << n) */
		unsigned n = (unsigned)__builtin_ctz(m - 1);

		mov_rr(j, w, dst, R10);
		shift_ri(j, w, 4, R10, n);
		alu_rr(j, w, 0x01, R10, dst);
		return true;
	}
	return false;
}

static void emit_alu(struct jit *j, const struct csd_ebpf_insn *insn)
{
	bool w = BPF_CLASS(insn->code) == BPF_ALU64, x = BPF_SRC(insn->code) == BPF_X;
	unsigned op = BPF_OP(insn->code), dst = reg_map[insn->dst_reg], src = reg_map[insn->src_reg];
	static const struct { uint8_t rr; uint8_t ext; } simple[16] = {
		[BPF_ADD >> 4] = { 0x01, 0 }, [BPF_SUB >> 4] = { 0x29, 5 },
		[BPF_OR >> 4] = { 0x09, 1 }, [BPF_AND >> 4] = { 0x21, 4 },
		[BPF_XOR >> 4] = { 0x31, 6 },
	};

	switch (op) {
	case BPF_ADD: case BPF_SUB: case BPF_OR: case BPF_AND: case BPF_XOR:
		if (x)
			alu_rr(j, w, simple[op >> 4].rr, src, dst);
		else
			alu_ri(j, w, simple[op >> 4].ext, dst, insn->imm);
		return;
	case BPF_MUL:
		if (x) {
			rex(j, w, dst, src, false);
			emit1(j, 0x0f);
			emit1(j, 0xaf);
			modrm_rr(j, dst, src);
		} else if (!emit_mul_by_constant(j, w, dst, insn->imm)) {
			imul_ri(j, w, dst, dst, insn->imm);
		}
		return;
	case BPF_DIV:
	case BPF_MOD:
		emit_divmod(j, insn);
		return;
	case BPF_LSH: emit_shift(j, w, 4, insn); return;
	case BPF_RSH: emit_shift(j, w, 5, insn); return;
	case BPF_ARSH: emit_shift(j, w, 7, insn); return;
	case BPF_NEG:
		rex(j, w, 0, dst, false);
		emit1(j, 0xf7);
		modrm_rr(j, 3, dst);
		return;
	case BPF_MOV:
		if (!x) {
			/*
			 * xor is a zeroing idiom the CPU resolves at rename; it writes the flags,
			 * which no eBPF instruction reads across a mov (fusions that keep flags
			 * live across one, as cmov selects, use mov_value())
			 */
			if (!insn->imm)
				alu_rr(j, false, 0x31, dst, dst);
			else if (w)
				mov_ri64(j, dst, (uint64_t)(int64_t)insn->imm);
			else
				mov_ri64(j, dst, (uint32_t)insn->imm);
		} else if (insn->off == 32) {	/* movsxd */
			rex(j, true, dst, src, false);
			emit1(j, 0x63);
			modrm_rr(j, dst, src);
		} else if (insn->off) {		/* movsx from 8 or 16 bits */
			rex(j, w, dst, src, insn->off == 8 && byte_reg_needs_rex(src));
			emit1(j, 0x0f);
			emit1(j, insn->off == 8 ? 0xbe : 0xbf);
			modrm_rr(j, dst, src);
		} else {
			mov_rr(j, w, src, dst);
		}
		return;
	case BPF_END:
		if (BPF_CLASS(insn->code) == BPF_ALU && BPF_SRC(insn->code) == BPF_TO_LE) {
			if (insn->imm == 16) {		/* movzx r32, r16 */
				rex(j, false, dst, dst, false);
				emit1(j, 0x0f);
				emit1(j, 0xb7);
				modrm_rr(j, dst, dst);
			} else if (insn->imm == 32) {
				mov_rr(j, false, dst, dst);
			}
			return;
		}
		emit_bswap(j, dst, (unsigned)insn->imm);
		return;
	}
}

/* ---- jumps and calls -------------------------------------------------------------------- */

/* A conditional jump: JMP or JMP32, not ja, call or exit. */
static bool is_cond_jump(const struct csd_ebpf_insn *insn)
{
	unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

	return (cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_JA && op != BPF_CALL &&
	       op != BPF_EXIT;
}

static uint8_t jcc_of(unsigned op)
{
	switch (op) {
	case BPF_JEQ: return CC_E;
	case BPF_JNE: return CC_NE;
	case BPF_JGT: return CC_A;
	case BPF_JGE: return CC_AE;
	case BPF_JLT: return CC_B;
	case BPF_JLE: return CC_BE;
	case BPF_JSGT: return CC_G;
	case BPF_JSGE: return CC_GE;
	case BPF_JSLT: return CC_L;
	case BPF_JSLE: return CC_LE;
	default: return CC_NE;	/* JSET: test, then jump on non-zero */
	}
}

/* The flags a conditional jump tests: cmp, test, or none when an ALU result's are there. */
static void emit_compare(struct jit *j, const struct csd_ebpf_insn *insn)
{
	bool w = BPF_CLASS(insn->code) == BPF_JMP, x = BPF_SRC(insn->code) == BPF_X;
	unsigned op = BPF_OP(insn->code), dst = reg_map[insn->dst_reg];

	if (op == BPF_JSET) {
		if (x) {
			alu_rr(j, w, 0x85, reg_map[insn->src_reg], dst);
		} else {
			rex(j, w, 0, dst, false);
			emit1(j, 0xf7);
			modrm_rr(j, 0, dst);
			emit4(j, (uint32_t)insn->imm);
		}
	} else if (x) {
		alu_rr(j, w, 0x39, reg_map[insn->src_reg], dst);
	} else if (insn->imm == 0 && j->flags_from && (op == BPF_JEQ || op == BPF_JNE)) {
		/* the ALU instruction just before set ZF from this very register */
	} else if (insn->imm == 0) {
		alu_rr(j, w, 0x85, dst, dst);	/* test: the same flags as cmp with 0 */
	} else {
		alu_ri(j, w, 7, dst, insn->imm);
	}
}

static size_t latch_cond(const struct jit *j, size_t latch, bool any_head);

/* The jump of the conditional jump at pc, its flags set (by emit_compare() or a fusion). */
static void emit_branch(struct jit *j, const struct csd_ebpf_insn *insn, size_t pc)
{
	unsigned op = BPF_OP(insn->code);

	/*
	 * `if (cond) goto +1; exit (or ja)`, as compilers close a loop: jump on the opposite
	 * condition straight to the exit (or the ja's target), so the loop's path falls through.
	 */
	if (insn->off == 1 && !j->loop_head[pc + 1]) {
		const struct csd_ebpf_insn *next = insn + 1;
		size_t to = pc + 2 + (size_t)(ptrdiff_t)next->off;

		/*
		 * ... unless the ja goes back to a latch that is copied in its place: a trip then
		 * takes one jump, the copy's, where it took two
		 */
		if (next->code == (BPF_JMP | BPF_JA) && to <= pc &&
		    latch_cond(j, to, false) != SIZE_MAX) {
			jcc_pc(j, jcc_of(op), pc + 2);
			return;
		}
		if (next->code == (BPF_JMP | BPF_JA)) {
			jcc_pc(j, jcc_of(op) ^ 1, to);
			j->moved[pc + 1] = true;
			return;
		}
		if (next->code == (BPF_JMP | BPF_EXIT)) {
			to_stub(j, jcc_of(op) ^ 1, STUB_EXIT, (uint32_t)pc + 1, 0);
			j->moved[pc + 1] = true;
			return;
		}
	}
	jcc_pc(j, jcc_of(op), pc + 1 + (size_t)(ptrdiff_t)insn->off);
}

static void emit_cond_jump(struct jit *j, const struct csd_ebpf_insn *insn, size_t pc)
{
	emit_compare(j, insn);
	emit_branch(j, insn, pc);
}

/* Loop heads and calls count down the budget; at zero a stub refills it or stops the run. */
static void budget_tick(struct jit *j, uint32_t pc)
{
	rex(j, true, 0, BUDGET, false);
	emit1(j, 0xff);
	modrm_rr(j, 1, BUDGET);		/* dec r9 */
	to_stub(j, CC_E, STUB_BUDGET, pc, 0);
}

static void emit_helper_call(struct jit *j, const void *fn, uint32_t pc)
{
	/* run.pc for the helper's fault messages */
	rex(j, false, 0, CTX, false);
	emit1(j, 0xc7);
	modrm_mem(j, 0, CTX, CTX_OFF(run.pc));
	emit4(j, pc);
	push(j, BUDGET);
	alu_ri(j, true, 5, RSP, 8);	/* sub rsp, 8: aligned at the call */
	/* helper(run, r1..r5): shift the argument registers up by one */
	mov_rr(j, true, R8, R9);
	mov_rr(j, true, RCX, R8);
	mov_rr(j, true, RDX, RCX);
	mov_rr(j, true, RSI, RDX);
	mov_rr(j, true, RDI, RSI);
	mov_rr(j, true, CTX, RDI);	/* the run is the context's first member */
	call_abs(j, fn);
	alu_ri(j, true, 0, RSP, 8);
	pop(j, BUDGET);
	/* cmp byte [r12 + run.faulted], 0; jne fault */
	rex(j, false, 0, CTX, false);
	emit1(j, 0x80);
	modrm_mem(j, 7, CTX, CTX_OFF(run.faulted));
	emit1(j, 0);
	emit1(j, 0x0f);
	emit1(j, 0x80 | CC_NE);
	rel_to(j, j->fault_common);
	/* r1-r5 are dead after a call: leave nothing in them */
	alu_rr(j, false, 0x31, RDI, RDI);
	alu_rr(j, false, 0x31, RSI, RSI);
	alu_rr(j, false, 0x31, RDX, RDX);
	alu_rr(j, false, 0x31, RCX, RCX);
	alu_rr(j, false, 0x31, R8, R8);
}

/*
 * The array map a bpf_map_lookup_elem() at pc looks up, when the JIT computes the lookup in
 * line: verified code where every path here looks up the same array (prog->guard of the
 * call) with a 4-byte key. NULL for the rest, which call the helper.
 */
static const struct ebpf_map *inline_lookup_map(const struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *insn = &j->prog->insns[pc];
	uint8_t g = j->prog->guard ? j->prog->guard[pc] : EBPF_GUARD_ANY;
	const struct ebpf_map *m;

	if (j->checked || insn->code != (BPF_JMP | BPF_CALL) || insn->src_reg ||
	    insn->imm != CSD_EBPF_HELPER_MAP_LOOKUP_ELEM || g < EBPF_GUARD_MAP ||
	    (size_t)(g - EBPF_GUARD_MAP) >= j->prog->map_cnt)
		return NULL;
	m = &j->prog->maps[g - EBPF_GUARD_MAP];
	if (m->kind != EBPF_MAP_KIND_ARRAY || m->key_size != 4 || m->value_size > INT32_MAX ||
	    m->max_entries > INT32_MAX)
		return NULL;
	return m;
}

/*
 * The lookup's arguments as clang sets them up right before the call: `r2 = r10; r2 += off`
 * (the key in the frame) and `r1 = map` (that map), in either order, with no jump into
 * them. Returns the pc of the first, or SIZE_MAX when the call's arguments come otherwise;
 * *key_off: the key's offset from r10.
 */
static size_t lookup_setup(const struct jit *j, size_t call, int16_t *key_off)
{
	const struct csd_ebpf_insn *i = j->prog->insns;
	const struct ebpf_map *m = inline_lookup_map(j, call);
	size_t first = call - 4, key = call - 2, map = call - 4;

	if (!m || call < 4)
		return SIZE_MAX;
	if (i[first].code != BPF_OP_LDDW) {	/* the key first */
		key = first;
		map = call - 2;
	}
	if (i[key].code != (BPF_ALU64 | BPF_MOV | BPF_X) || i[key].dst_reg != 2 ||
	    i[key].src_reg != 10 || i[key].off ||
	    i[key + 1].code != (BPF_ALU64 | BPF_ADD | BPF_K) || i[key + 1].dst_reg != 2 ||
	    i[key + 1].imm < -CSD_EBPF_STACK_SIZE || i[key + 1].imm > -4 ||
	    i[map].code != BPF_OP_LDDW || i[map].dst_reg != 1 ||
	    i[map].src_reg != BPF_PSEUDO_MAP_FD || i[map].imm < 0 ||
	    (size_t)i[map].imm >= j->prog->map_cnt || &j->prog->maps[i[map].imm] != m)
		return SIZE_MAX;
	for (size_t k = first + 1; k <= call; k++)
		if (j->target[k] || j->loop_head[k])
			return SIZE_MAX;
	*key_off = (int16_t)i[key + 1].imm;
	return first;
}

/* rax (r0) holds the address of one of m's values, computed by the JIT: its bytes are checked */
static void value_checked(struct jit *j, const struct ebpf_map *m)
{
	if (m->value_size > INT16_MAX)
		return;
	j->last_check = (struct checked_address){ .valid = true, .write = !m->readonly,
		.base = RAX, .guard = (uint8_t)(EBPF_GUARD_MAP + (m - j->prog->maps)), .off = 0,
		.size = m->value_size };
}

#define LOCAL_BOUND_DEPTH	4

static uint64_t local_bound(const struct jit *j, size_t at, unsigned x, unsigned depth);

/*
 * bpf_map_lookup_elem() on an array map (inline_lookup_map()) without the call: the key read,
 * then values + key * value_size or NULL, as ebpf_map_lookup() computes it, without a branch
 * (a cmov), or, when `if r0 == 0 goto T` follows with r0 dead at T, with the key's compare
 * jumping to T itself (then r0 counts as checked on the way on: note_lookup_result()). The
 * key: key_reg's low half when the instruction before the setup stored it to the slot
 * (lookup_setup()), else a key in the frame at a constant offset (KEY_IN_FRAME: the setup
 * then emits nothing) read there as any frame slot is, unchecked, or a key elsewhere
 * (KEY_VIA_R2) with the stack's check. Of r1-r5, what a later instruction may read is
 * cleared, as after any helper (the rest no instruction reads before it writes it). A key
 * the code itself keeps below max_entries (`key_below_max`: a byte loaded, local_bound())
 * needs no compare, and the lookup no NULL: `counts[data[i]]++` is a lea and an add.
 * Returns true when it compiled the `if r0 == 0` too.
 */
static bool emit_inline_array_lookup(struct jit *j, uint32_t pc, const struct ebpf_map *m,
				     int key_reg, int16_t key_off, bool key_below_max)
{
	static const uint8_t scale_of[9] = { [1] = 0, [2] = 1, [4] = 2, [8] = 3 };
	static const unsigned cleared[] = { RDI, RSI, RDX, RCX, R8 };
	bool pow2 = m->value_size <= 8 && (m->value_size & (m->value_size - 1)) == 0;
	/* `if r0 == 0 goto T` next, r0 dead at T: the key's compare jumps there itself */
	const struct csd_ebpf_insn *test = pc + 1 < j->prog->insn_cnt ? &j->prog->insns[pc + 1] :
					   NULL;
	size_t null_pc = test ? pc + 2 + (size_t)(ptrdiff_t)test->off : 0;
	bool to_null = test && test->code == (BPF_JMP | BPF_JEQ | BPF_K) && test->dst_reg == 0 &&
		       !test->imm && !j->target[pc + 1] && !(j->live[null_pc] & 1);

	if (key_reg >= 0) {				/* mov eax, the key's register */
		mov_rr(j, false, reg_map[key_reg], RAX);
	} else if (key_reg == KEY_IN_FRAME) {
		rex(j, false, RAX, RBP, false);
		emit1(j, 0x8b);				/* mov eax, dword [rbp + key_off] */
		modrm_mem(j, RAX, RBP, key_off);
	} else {
		j->via_r11 = verified_guard(j, RSI, 0, 4, false, pc, EBPF_GUARD_STACK);
		rex(j, false, RAX, mem_base(j, RSI), false);
		emit1(j, 0x8b);				/* mov eax, dword [key] */
		mem_operand(j, RAX, RSI, 0);
	}
	j->via_r11 = false;
	j->last_check.valid = false;
	for (unsigned r = 1; r <= 5; r++)
		if (j->live[pc + 1] >> r & 1)
			alu_rr(j, false, 0x31, cleared[r - 1], cleared[r - 1]);
	if (!pow2) {
		mov_rr(j, false, RAX, R11);		/* the key, for the compare */
		imul_ri(j, true, RAX, RAX, (int32_t)m->value_size);	/* key * value_size */
	}
	if (!key_below_max) {
		alu_ri(j, false, 7, pow2 ? RAX : R11, (int32_t)m->max_entries);	/* cmp key, max */
		if (to_null)
			jcc_pc(j, CC_AE, null_pc);
	}
	/* values + key * value_size (rax holds key * value_size when not a power of 2); movs
	 * and lea keep the flags */
	if ((uintptr_t)m->values + (uint64_t)m->max_entries * m->value_size <= INT32_MAX) {
		rex(j, true, RAX, 0, false);		/* lea rax, [rax * scale + values] */
		emit1(j, 0x8d);
		emit1(j, 0x04);
		emit1(j, (uint8_t)((pow2 ? scale_of[m->value_size] : 0) << 6 | (RAX << 3) | RBP));
		emit4(j, (uint32_t)(uintptr_t)m->values);
	} else {
		mov_ri64(j, R10, (uint64_t)(uintptr_t)m->values);
		lea_sib(j, true, RAX, R10, RAX, pow2 ? scale_of[m->value_size] : 0, 0);
	}
	if (!to_null) {
		if (!key_below_max) {
			mov_ri64(j, R11, 0);
			cmovcc(j, true, CC_AE, RAX, R11);	/* NULL */
		}
		return false;
	}
	j->pc_off[pc + 1] = j->len;
	value_checked(j, m);
	return true;
}

/*
 * `if r0 == 0 goto` right after an inlined lookup (nothing else jumps in): on the way on, r0
 * is the address of a value, as the JIT computed it, so the value's bytes count as checked
 * for r0 (until r0 changes or a jump lands): `*slot += 1` then takes no check at all.
 */
static void note_lookup_result(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *insn = &j->prog->insns[pc];
	const struct ebpf_map *m;

	if (pc == 0 || insn->code != (BPF_JMP | BPF_JEQ | BPF_K) || insn->dst_reg != 0 ||
	    insn->imm != 0 || j->target[pc] || j->loop_head[pc] ||
	    !(m = inline_lookup_map(j, pc - 1)))
		return;
	value_checked(j, m);
}

/*
 * At pc, the first instruction of an inlined lookup's setup (lookup_setup()): the lookup,
 * the setup's instructions compiled as nothing. Returns true with *pc at the call.
 */
static bool fold_lookup_setup(struct jit *j, size_t *pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[*pc];
	int16_t key_off = 0;
	int key_reg = KEY_IN_FRAME;
	size_t call = *pc + 4;
	const struct ebpf_map *m;
	bool below_max;

	if (j->checked || call >= j->prog->insn_cnt ||
	    !((i->code == (BPF_ALU64 | BPF_MOV | BPF_X) && i->dst_reg == 2) ||
	      (i->code == BPF_OP_LDDW && i->dst_reg == 1)) ||
	    lookup_setup(j, call, &key_off) != *pc)
		return false;
	for (size_t k = *pc + 1; k <= call; k++)
		j->pc_off[k] = j->len;
	/* the key stored to its slot just before (nothing jumps in between): from its register */
	if (*pc > 0 && !j->target[*pc] &&
	    i[-1].code == (BPF_STX | BPF_MEM | BPF_W) && i[-1].dst_reg == 10 && i[-1].off == key_off)
		key_reg = i[-1].src_reg;
	m = inline_lookup_map(j, call);
	below_max = key_reg >= 0 &&
		    local_bound(j, *pc - 1, (unsigned)key_reg, LOCAL_BOUND_DEPTH) < m->max_entries;
	*pc = call;
	j->cur_pc = call;
	if (emit_inline_array_lookup(j, (uint32_t)call, m, key_reg, key_off, below_max))
		(*pc)++;			/* and its `if r0 == 0` */
	return true;
}

static void emit_local_call(struct jit *j, size_t target, uint32_t pc)
{
	if (j->checked)		/* verified programs have no recursion and bounded loops */
		budget_tick(j, pc);
	/*
	 * The callee's frame must lie inside the run's stack, or the run stops: its bottom,
	 * r10 - 2 frames, at or above stack_start. r10 itself is the depth (it moves a frame per
	 * call and nothing else writes it), so no count in memory waits on the last call's.
	 */
	rex(j, true, R10, RBP, false);
	emit1(j, 0x8d);				/* lea r10, [rbp - 2 frames] */
	modrm_mem(j, R10, RBP, -2 * CSD_EBPF_STACK_SIZE);
	rex(j, true, R10, CTX, false);
	emit1(j, 0x3b);				/* cmp r10, [r12 + stack_start] */
	modrm_mem(j, R10, CTX, CTX_OFF(stack_start));
	to_stub(j, CC_B, STUB_DEPTH, pc, 0);
	push(j, RBX);
	push(j, R13);
	push(j, R14);
	push(j, R15);
	push(j, RBP);
	alu_ri(j, true, 5, RBP, CSD_EBPF_STACK_SIZE);
	emit1(j, 0xe8);			/* call: 5 pushes + return address keep the alignment */
	rel_to_pc(j, target);
	pop(j, RBP);
	pop(j, R15);
	pop(j, R14);
	pop(j, R13);
	pop(j, RBX);
}

static void emit_exit(struct jit *j)
{
	/* the first frame (r10 at the stack's top): leave the run; deeper: return to the caller */
	rex(j, true, RBP, CTX, false);
	emit1(j, 0x3b);				/* cmp rbp, [r12 + stack_top] */
	modrm_mem(j, RBP, CTX, CTX_OFF(stack_top));
	emit1(j, 0x0f);
	emit1(j, 0x80 | CC_E);
	rel_to(j, j->epilogue);
	emit1(j, 0xc3);
}

/* ---- the whole program ------------------------------------------------------------------ */

static void emit_prologue(struct jit *j)
{
	push(j, RBP);
	push(j, RBX);
	push(j, R12);
	push(j, R13);
	push(j, R14);
	push(j, R15);
	alu_ri(j, true, 5, RSP, 8);
	mov_rr(j, true, RDI, CTX);
	store_ctx(j, RSP, CTX_OFF(saved_rsp));
	load_ctx(j, RDI, CTX_OFF(r1));
	load_ctx(j, RSI, CTX_OFF(r2));
	load_ctx(j, RDX, CTX_OFF(r3));
	load_ctx(j, RCX, CTX_OFF(r4));
	load_ctx(j, R8, CTX_OFF(r5));
	load_ctx(j, RBP, CTX_OFF(stack_top));
	/* GS holds the sandbox's base: r9 the stack's start (confine_to_stack()) */
	load_ctx(j, BUDGET, j->gs ? CTX_OFF(stack_start) : j->sandboxed ? CTX_OFF(sandbox_base) :
					       CTX_OFF(chunk));
	alu_rr(j, false, 0x31, RAX, RAX);
	alu_rr(j, false, 0x31, RBX, RBX);
	alu_rr(j, false, 0x31, R13, R13);
	alu_rr(j, false, 0x31, R14, R14);
	alu_rr(j, false, 0x31, R15, R15);
}

/* The epilogue and the common fault exit, before the body so that their offsets are known. */
static void emit_exits(struct jit *j)
{
	emit1(j, 0xe9);		/* jump over them to the body */
	emit4(j, 0);
	{
		size_t over = j->len;

		j->fault_common = j->len;
		load_ctx(j, RSP, CTX_OFF(saved_rsp));
		alu_rr(j, false, 0x31, RAX, RAX);
		j->epilogue = j->len;
		store_ctx(j, BUDGET, CTX_OFF(chunk));
		alu_ri(j, true, 0, RSP, 8);
		pop(j, R15);
		pop(j, R14);
		pop(j, R13);
		pop(j, R12);
		pop(j, RBX);
		pop(j, RBP);
		emit1(j, 0xc3);
		/* where an interrupted run resumes (jit_run.c's signal handler puts rip here) */
		j->abort_entry = j->len;
		mov_rr(j, true, CTX, RDI);
		alu_ri(j, true, 4, RSP, -16);
		call_abs(j, jit_interrupted);
		emit1(j, 0xe9);
		rel_to(j, j->fault_common);
		if (j->nvloops) {	/* read by address: no place to run */
			align_code(j, 32);
			j->mask_table = j->len;
			for (int i = 0; i < 64; i++)
				emit1(j, i < 32 ? 0 : 0xff);
		}
		patch4(j, over - 4, (uint32_t)(j->len - over));
	}
}

static void emit_stubs(struct jit *j)
{
	for (size_t i = 0; i < j->nstubs && !j->oom; i++) {
		const struct stub *s = &j->stubs[i];

		patch4(j, s->site, (uint32_t)(j->len - (s->site + 4)));
		switch (s->kind) {
		case STUB_MEM_R10:
			rex(j, true, R11, R10, false);
			emit1(j, 0x8d);			/* lea r11, [r10 + disp] */
			modrm_mem(j, R11, R10, s->disp);
			/* fall through */
		case STUB_MEM:
			save_all(j);
			mov_rr(j, true, CTX, RDI);
			load_saved(j, RSI, R11);
			mov_ri64(j, RDX, s->arg);
			mov_ri64(j, RCX, s->pc);
			call_abs(j, jit_mem_slow);
			alu_rr(j, false, 0x85, RAX, RAX);	/* test eax, eax */
			restore_all(j);				/* pops and lea keep the flags */
			emit1(j, 0x0f);
			emit1(j, 0x80 | CC_E);
			rel_to(j, j->fault_common);
			break;
		case STUB_BUDGET:
			save_all(j);
			mov_rr(j, true, CTX, RDI);
			mov_ri64(j, RSI, s->pc);
			call_abs(j, jit_refill);
			restore_all(j);
			load_ctx(j, BUDGET, CTX_OFF(chunk));
			alu_rr(j, true, 0x85, BUDGET, BUDGET);
			emit1(j, 0x0f);
			emit1(j, 0x80 | CC_E);
			rel_to(j, j->fault_common);
			break;
		case STUB_EXIT:
			j->pc_off[s->pc] = j->len;	/* other jumps to this exit come here too */
			emit_exit(j);
			continue;
		case STUB_DEPTH:
		case STUB_MISALIGNED:
			mov_rr(j, true, CTX, RDI);
			mov_rr(j, true, R11, RSI);
			mov_ri64(j, RDX, s->pc);
			alu_ri(j, true, 4, RSP, -16);	/* and rsp, -16: the run ends here anyway */
			call_abs(j, s->kind == STUB_DEPTH ? (const void *)jit_fault_depth :
							    (const void *)jit_fault_misaligned);
			emit1(j, 0xe9);
			rel_to(j, j->fault_common);
			continue;
		}
		emit1(j, 0xe9);
		rel_to(j, s->resume);
	}
}

/* Backward liveness over the program, to know when a loaded value need not be kept. */
static void liveness(struct jit *j)
{
	ebpf_liveness(j->prog, j->live);
}

/*
 * cmp byte/word [m], imm: the flags of comparing what the 1- or 2-byte load at pc would load
 * (zero-extended) with imm, which fits that size, without loading it.
 */
static void compare_loaded(struct jit *j, size_t pc, uint32_t imm)
{
	const struct csd_ebpf_insn *ld = &j->prog->insns[pc];
	unsigned size = size_of[BPF_SIZE(ld->code) >> 3], base;

	address(j, reg_map[ld->src_reg], ld->off, size, false, false, (uint32_t)pc);
	base = mem_base(j, reg_map[ld->src_reg]);
	if (size == 2)
		emit1(j, 0x66);
	rex(j, false, 0, base, false);
	emit1(j, size == 1 ? 0x80 : 0x81);
	mem_operand(j, 7, reg_map[ld->src_reg], ld->off);
	emit1(j, (uint8_t)imm);
	if (size == 2)
		emit1(j, (uint8_t)(imm >> 8));
}

/*
 * `ldxb rX, [m]; jne rX, imm, T` with rX dead at T: compare memory directly (cmp byte [m], imm)
 * and, on the way on, give rX the value it must have had (imm): one instruction where two were.
 */
static bool fuse_load_compare(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *ld = &j->prog->insns[pc], *jmp = ld + 1;
	unsigned size = size_of[BPF_SIZE(ld->code) >> 3];
	size_t target;

	if (pc + 1 >= j->prog->insn_cnt || BPF_MODE(ld->code) != BPF_MEM || size > 2 ||
	    jmp->code != (BPF_JMP | BPF_JNE | BPF_K) || jmp->dst_reg != ld->dst_reg ||
	    j->target[pc + 1] || jmp->imm < 0 || jmp->imm >= (1 << (8 * size)))
		return false;
	target = pc + 2 + (size_t)(ptrdiff_t)jmp->off;
	if (j->live[target] & (1u << ld->dst_reg))
		return false;
	compare_loaded(j, pc, (uint32_t)jmp->imm);
	jcc_pc(j, CC_NE, target);
	mov_ri64(j, reg_map[ld->dst_reg], (uint32_t)jmp->imm);
	return true;
}

static bool is_mov_imm(const struct csd_ebpf_insn *insn)
{
	return insn->code == (BPF_ALU64 | BPF_MOV | BPF_K) || insn->code == (BPF_ALU | BPF_MOV | BPF_K);
}

/* `a = K` (either width) or `a = b` (64 bits): a value a cmov can take from r11. */
static bool is_plain_mov(const struct csd_ebpf_insn *insn)
{
	return is_mov_imm(insn) || (insn->code == (BPF_ALU64 | BPF_MOV | BPF_X) && !insn->off);
}

static uint64_t mov_imm_value(const struct csd_ebpf_insn *insn);

/* dst := what the plain mov `insn` would write (mov keeps the flags) */
static void mov_value(struct jit *j, unsigned dst, const struct csd_ebpf_insn *insn)
{
	if (is_mov_imm(insn))
		mov_ri64(j, dst, mov_imm_value(insn));
	else
		mov_rr(j, true, reg_map[insn->src_reg], dst);
}

/* What mov K leaves in the register: imm sign-extended (64-bit) or zero-extended (32-bit). */
static uint64_t mov_imm_value(const struct csd_ebpf_insn *insn)
{
	return BPF_CLASS(insn->code) == BPF_ALU64 ? (uint64_t)(int64_t)insn->imm : (uint32_t)insn->imm;
}

/*
 * `d = s; d += K` or `d += t`, as clang computes an address or a character class (`c - 'a'`)
 * into a fresh register: one lea, which leaves the flags as they were (the fused add's are
 * not used: flags_from is false after it). 32-bit adds too, as lea r32 zero-extends as they
 * do; not a 32-bit mov before a 64-bit add (lea cannot zero-extend s first).
 */
static bool fuse_mov_add(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];
	unsigned d, s, t;
	bool w;

	if (pc + 1 >= j->prog->insn_cnt || j->target[pc + 1] ||
	    (i[0].code != (BPF_ALU64 | BPF_MOV | BPF_X) && i[0].code != (BPF_ALU | BPF_MOV | BPF_X)) ||
	    i[0].off || i[0].src_reg == i[0].dst_reg || BPF_OP(i[1].code) != BPF_ADD ||
	    (BPF_CLASS(i[1].code) != BPF_ALU64 && BPF_CLASS(i[1].code) != BPF_ALU) ||
	    i[1].dst_reg != i[0].dst_reg)
		return false;
	w = BPF_CLASS(i[1].code) == BPF_ALU64;
	if (w && BPF_CLASS(i[0].code) == BPF_ALU)
		return false;
	d = reg_map[i[0].dst_reg];
	s = reg_map[i[0].src_reg];
	if (BPF_SRC(i[1].code) == BPF_K) {
		rex(j, w, d, s, false);
		emit1(j, 0x8d);				/* lea d, [s + imm] */
		modrm_mem(j, d, s, i[1].imm);
		return true;
	}
	/* d = s; d += d is s + s */
	t = i[1].src_reg == i[0].dst_reg ? s : reg_map[i[1].src_reg];
	lea_sib(j, w, d, s, t, 0, 0);
	return true;
}

/* Equality or an unsigned order: a compare of the low byte (or half) orders as the whole. */
static bool unsigned_or_equal(unsigned op)
{
	return op == BPF_JEQ || op == BPF_JNE || op == BPF_JGT || op == BPF_JGE ||
	       op == BPF_JLT || op == BPF_JLE;
}

/*
 * `d &= 255; if d <op> K goto T` with d dead after the jump on both of its ways and K a byte,
 * as clang tests a character's class (`(u8)(c - 'a') > 25`): a byte compare, where there were
 * an and and a compare. Unsigned orders and equality only: the low byte compared as unsigned
 * orders as the masked register does.
 */
static bool fuse_mask_compare(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];
	unsigned cls, op, d, mask;

	if (pc + 2 >= j->prog->insn_cnt || j->target[pc + 1] ||
	    (i[0].code != (BPF_ALU64 | BPF_AND | BPF_K) && i[0].code != (BPF_ALU | BPF_AND | BPF_K)) ||
	    i[0].imm != 0xff)
		return false;
	cls = BPF_CLASS(i[1].code);
	op = BPF_OP(i[1].code);
	if ((cls != BPF_JMP && cls != BPF_JMP32) || BPF_SRC(i[1].code) != BPF_K ||
	    i[1].dst_reg != i[0].dst_reg || i[1].imm < 0 || i[1].imm > 0xff ||
	    !unsigned_or_equal(op))
		return false;
	mask = 1u << i[0].dst_reg;
	if ((j->live[pc + 2] | j->live[pc + 2 + (size_t)(ptrdiff_t)i[1].off]) & mask)
		return false;
	d = reg_map[i[0].dst_reg];
	rex(j, false, 0, d, byte_reg_needs_rex(d));
	emit1(j, 0x80);				/* cmp r/m8, imm8 */
	modrm_rr(j, 7, d);
	emit1(j, (uint8_t)i[1].imm);
	j->pc_off[pc + 1] = j->len;
	emit_branch(j, &i[1], pc + 1);
	return true;
}

/* `r <<= k; r >>= k` (or s>>=) at pc for k of 32, 48 or 56: *k, and whether it sign-extends */
static bool extension_shape(const struct jit *j, size_t pc, unsigned *k, bool *sx)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];

	if (pc + 1 >= j->prog->insn_cnt || i[0].code != (BPF_ALU64 | BPF_LSH | BPF_K) ||
	    (i[1].code != (BPF_ALU64 | BPF_RSH | BPF_K) &&
	     i[1].code != (BPF_ALU64 | BPF_ARSH | BPF_K)) || i[1].dst_reg != i[0].dst_reg ||
	    i[1].imm != i[0].imm || j->target[pc + 1] ||
	    (i[0].imm != 32 && i[0].imm != 48 && i[0].imm != 56))
		return false;
	*k = (unsigned)i[0].imm;
	*sx = BPF_OP(i[1].code) == BPF_ARSH;
	return true;
}

/* r := src's low 64 - k bits, zero- or sign-extended: one mov, movzx, movsx or movsxd */
static void emit_extension(struct jit *j, unsigned r, unsigned src, unsigned k, bool sx)
{
	if (k == 32 && !sx) {
		mov_rr(j, false, src, r);		/* mov r32, src32 */
	} else if (k == 32) {
		rex(j, true, r, src, false);
		emit1(j, 0x63);				/* movsxd r64, src32 */
		modrm_rr(j, r, src);
	} else {
		/* movzx r32, src8/16 or movsx r64, src8/16 (sil, dil need a REX prefix) */
		rex(j, sx, r, src, k == 56 && byte_reg_needs_rex(src));
		emit1(j, 0x0f);
		emit1(j, (uint8_t)((sx ? 0xbe : 0xb6) + (k == 48)));
		modrm_rr(j, r, src);
	}
}

/*
 * `x <<= k; x >>= k` (s>>=), compilers' zero- and sign-extension of the low 32, 16 or 8 bits,
 * as one movzx / movsx (mov r32, r32 for the 32-bit zero-extension). Shifts leave flags that
 * no test here reads (flags_from tracks add, sub, and, or, xor only).
 */
static bool fuse_extension(struct jit *j, size_t pc)
{
	unsigned k, r;
	bool sx;

	if (!extension_shape(j, pc, &k, &sx))
		return false;
	r = reg_map[j->prog->insns[pc].dst_reg];
	emit_extension(j, r, r, k, sx);
	return true;
}

/*
 * `d = s; d <<= k; d >>= k`, as clang narrows a copy (an int index from a counter): the
 * extension straight from s, where there were a mov and the extension.
 */
static bool fuse_mov_extension(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];
	unsigned k;
	bool sx;

	if (pc + 2 >= j->prog->insn_cnt || i->code != (BPF_ALU64 | BPF_MOV | BPF_X) || i->off ||
	    i->dst_reg == i->src_reg || j->target[pc + 1] || i[1].dst_reg != i->dst_reg ||
	    !extension_shape(j, pc + 1, &k, &sx))
		return false;
	emit_extension(j, reg_map[i->dst_reg], reg_map[i->src_reg], k, sx);
	return true;
}

/*
 * `p = b; [p += k;] p += i; load or store at [p + off]` with p dead afterwards, as clang
 * indexes an array (data[i], or buf[i] in the stack: p = r10 - 64 + i), in sandboxed code:
 * for an access the verifier proved to be in the input, the access at gs:[b + i + k + off]
 * (32-bit), or `lea r11d, [b + i + k + off]` and [r9 + r11] without GS; for one in the stack
 * (through GS), `lea r11, [b + i + k + off]` and confine_to_stack()'s mask. Returns how many
 * instructions before the access were compiled so (0: none), the access to be compiled with
 * that address.
 */
static size_t fuse_address_access(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc], *add, *acc;
	unsigned p, b, x, cls;
	int64_t disp;
	size_t n, at;
	uint8_t guard;

	if (!j->sandboxed || pc + 3 >= j->prog->insn_cnt ||
	    i[0].code != (BPF_ALU64 | BPF_MOV | BPF_X) || i[0].off || !j->prog->guard)
		return 0;
	n = i[1].code == (BPF_ALU64 | BPF_ADD | BPF_K) && i[1].dst_reg == i[0].dst_reg ? 3 : 2;
	if (pc + n >= j->prog->insn_cnt)
		return 0;
	add = &i[n - 1];
	acc = &i[n];
	at = pc + n;
	guard = j->prog->guard[at];
	if (add->code != (BPF_ALU64 | BPF_ADD | BPF_X) || add->dst_reg != i[0].dst_reg ||
	    j->target[pc + 1] || j->target[pc + 2] || j->target[at] ||
	    (guard != EBPF_GUARD_INPUT && !(guard == EBPF_GUARD_STACK && j->gs)))
		return 0;
	cls = BPF_CLASS(acc->code);
	p = i[0].dst_reg;
	b = i[0].src_reg;
	x = add->src_reg;
	if (b == p || x == p)
		return 0;
	if (cls == BPF_LDX && BPF_MODE(acc->code) == BPF_MEM && acc->src_reg == p) {
		/* p dead after the load, or the load's own destination */
		if (acc->dst_reg != p && (j->live[at + 1] >> p & 1))
			return 0;
	} else if ((cls == BPF_STX || cls == BPF_ST) && BPF_MODE(acc->code) == BPF_MEM &&
		   acc->dst_reg == p && !(cls == BPF_STX && acc->src_reg == p)) {
		if (j->live[at + 1] >> p & 1)
			return 0;
	} else {
		return 0;
	}
	disp = (int64_t)acc->off + (n == 3 ? i[1].imm : 0);
	if (disp < INT32_MIN || disp > INT32_MAX ||
	    (guard == EBPF_GUARD_INPUT && j->gs && n == 3))	/* gs:[..] takes the access's off */
		return 0;
	if (guard == EBPF_GUARD_INPUT && j->gs && n == 2) {
		/* the access itself: gs:[b + x + off], 32-bit */
		j->via_gs = true;
		j->gs_base = (uint8_t)reg_map[b];
		j->gs_index = (uint8_t)reg_map[x];
		j->via_r11 = j->via_sib = false;
		j->address_ready = true;
		return n;
	}
	if (guard == EBPF_GUARD_STACK && b == EBPF_REG_FP &&
	    j->prog->stack_bytes == CSD_EBPF_STACK_SIZE) {
		/*
		 * buf[i] in a program without calls: r10 is the stack's top, r9 + stack_bytes,
		 * always, so the offset from r9 is stack_bytes + disp + i, which the mask takes
		 * mod stack_bytes: disp + i, one lea (of 32 bits: the mask keeps 9)
		 */
		rex(j, false, R11, reg_map[x], false);
		emit1(j, 0x8d);				/* lea r11d, [x + disp] */
		modrm_mem(j, R11, reg_map[x], (int32_t)disp);
		alu_ri(j, false, 4, R11, CSD_EBPF_STACK_SIZE - 1);
		j->last_check.valid = false;
	} else {
		/* lea r11(d), [b + x + disp]: 64 bits for the stack's mask, 32 for the input's cut */
		lea_sib(j, guard == EBPF_GUARD_STACK, R11, reg_map[b], reg_map[x], 0, (int32_t)disp);
		if (guard == EBPF_GUARD_STACK) {
			alu_rr(j, true, 0x29, BUDGET, R11);	/* sub r11, r9 */
			alu_ri(j, false, 4, R11, (int32_t)j->prog->stack_bytes - 1);
			j->last_check.valid = false;
		}
	}
	j->via_r11 = true;
	j->via_sib = true;
	j->r11_off = 0;
	j->address_ready = true;
	return n;
}

/*
 * `r = [m]; r += v; [m] = r` with r dead after, 4 or 8 bytes, in verified code: a counter
 * (`hist[b]++`, `*slot += 1`), which compiles to one `add [m], v` (rmw_emit()).
 */
static bool rmw_shape(const struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *ld = &j->prog->insns[pc], *add = ld + 1, *st = ld + 2;
	unsigned size = size_of[BPF_SIZE(ld->code) >> 3], r = ld->dst_reg;

	if (j->checked || pc + 3 > j->prog->insn_cnt || BPF_CLASS(ld->code) != BPF_LDX ||
	    BPF_MODE(ld->code) != BPF_MEM || (size != 4 && size != 8) || ld->src_reg == r ||
	    j->target[pc + 1] || j->target[pc + 2] || (j->live[pc + 3] >> r & 1))
		return false;
	/* (a 32-bit add of an 8-byte counter would store its upper half cleared) */
	if (BPF_OP(add->code) != BPF_ADD || !(BPF_CLASS(add->code) == BPF_ALU64 ||
					      (BPF_CLASS(add->code) == BPF_ALU && size == 4)))
		return false;
	return add->dst_reg == r && !add->off &&
	       !(BPF_SRC(add->code) == BPF_X && add->src_reg == r) &&
	       st->code == (BPF_STX | BPF_MEM | BPF_SIZE(ld->code)) && st->dst_reg == ld->src_reg &&
	       st->src_reg == r && st->off == ld->off;
}

/*
 * The counter of rmw_shape() at pc as `add [m], v`: the address checked once, for a write, at
 * the load's pc (where a wrong proof's access outside would fault first); address() may have
 * been prepared by the caller (fuse_map_value_access()).
 */
static void rmw_emit(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *ld = &j->prog->insns[pc], *add = ld + 1;
	unsigned size = size_of[BPF_SIZE(ld->code) >> 3], base = reg_map[ld->src_reg];
	unsigned mb;

	address(j, base, ld->off, size, true, false, (uint32_t)pc);
	mb = mem_base(j, base);
	if (BPF_SRC(add->code) == BPF_K) {
		bool imm8 = add->imm >= -128 && add->imm <= 127;

		rex(j, size == 8, 0, mb, false);
		emit1(j, imm8 ? 0x83 : 0x81);			/* add [m], imm */
		mem_operand(j, 0, base, ld->off);
		if (imm8)
			emit1(j, (uint8_t)add->imm);
		else
			emit4(j, (uint32_t)add->imm);
	} else {
		unsigned v = reg_map[add->src_reg];

		rex(j, size == 8, v, mb, false);
		emit1(j, 0x01);					/* add [m], v */
		mem_operand(j, v, base, ld->off);
	}
}

/*
 * An upper bound of register x's value on entry to `at` that the code shows by itself,
 * whatever a proof says: x's last write in the straight code before `at` (nothing jumps in
 * on the way) is a load of 1, 2 or 4 bytes, a 32-bit operation, or a mov, and, or, xor, or
 * shift by a constant of values so bounded or of constants. `r6 = c >> 3; r6 &= 24` is at
 * most 24, `r4 = data[i]; r4 <<= 3` at most 2040: a table's index that needs no check.
 * UINT64_MAX: none known.
 */
static uint64_t local_bound(const struct jit *j, size_t at, unsigned x, unsigned depth)
{
	const struct csd_ebpf_insn *insns = j->prog->insns;

	for (size_t k = at; k-- > 0 && depth;) {
		const struct csd_ebpf_insn *insn;
		unsigned cls, op;
		uint32_t reads, writes;
		uint64_t width, b, s;

		if (j->target[k + 1] || j->loop_head[k + 1])
			return UINT64_MAX;
		if (k > 0 && insns[k - 1].code == BPF_OP_LDDW)
			k--;			/* k was the second slot */
		insn = &insns[k];
		cls = BPF_CLASS(insn->code);
		op = BPF_OP(insn->code);
		if (cls == BPF_JMP || cls == BPF_JMP32)
			return UINT64_MAX;
		ebpf_insn_regs(insn, &reads, &writes);
		if (!(writes >> x & 1))
			continue;
		if (cls == BPF_LDX && BPF_MODE(insn->code) == BPF_MEM)
			return size_of[BPF_SIZE(insn->code) >> 3] == 8 ? UINT64_MAX :
			       (1ull << (8 * size_of[BPF_SIZE(insn->code) >> 3])) - 1;
		if (cls != BPF_ALU && cls != BPF_ALU64)
			return UINT64_MAX;
		if (op == BPF_END)		/* bswap and zero-extension, of 16, 32 or 64 bits */
			return insn->imm == 16 ? 0xffff : insn->imm == 32 ? UINT32_MAX : UINT64_MAX;
		/* a 32-bit operation reads the low halves and zero-extends its result */
		width = cls == BPF_ALU ? UINT32_MAX : UINT64_MAX;
		s = BPF_SRC(insn->code) == BPF_K ?
		    (cls == BPF_ALU ? (uint32_t)insn->imm : (uint64_t)(int64_t)insn->imm) :
		    local_bound(j, k, insn->src_reg, depth - 1);
		s = s < width ? s : width;
		b = op == BPF_MOV ? 0 : local_bound(j, k, x, depth - 1);
		b = b < width ? b : width;
		if (insn->off)
			return width;		/* movsx, sdiv: no bound but the width */
		switch (op) {
		case BPF_MOV:
			return s;
		case BPF_AND:
			return b < s ? b : s;
		case BPF_OR:
		case BPF_XOR:			/* below the power of 2 above both */
			b |= s;
			for (unsigned sh = 1; sh < 64; sh *= 2)
				b |= b >> sh;
			return b;
		case BPF_RSH:
			return BPF_SRC(insn->code) == BPF_K ?
			       b >> ((unsigned)insn->imm & (cls == BPF_ALU ? 31 : 63)) : b;
		case BPF_LSH:
			if (BPF_SRC(insn->code) == BPF_X)
				return width;
			s = (unsigned)insn->imm & (cls == BPF_ALU ? 31 : 63);
			return b <= width >> s ? b << s : width;
		default:
			return width;
		}
	}
	return UINT64_MAX;
}

/*
 * `p = &global + o; p += i; load or store at [p + off]`, as a table or a global array is
 * indexed (crc_table[x], hist[b]), in verified code, the values below 2 GiB (maps.c): the
 * offset in the map, i + o + off, is checked as it is computed, `lea r10, [i + o + off];
 * cmp r10, limit`, and the access goes to [r10 + values]; p is computed only if it is read
 * later (a store through it then reuses this check), and a counter there is one add to memory
 * (rmw_shape()). Where there were a constant, an add and the check's two lea and cmp, one lea
 * and cmp; the address waits on one lea less. Up to MAP_ACCESS_GAP register instructions
 * between the add and the access (clang puts `c & 63` there for `(tab[c >> 6] >> (c & 63))`)
 * are compiled first: they neither read nor write p nor write i. Returns how many
 * instructions after pc it compiled too (the lddw's second slot, the add, those between, the
 * access: 3 or more; and a counter's add and store: 2 more), or 0.
 */
#define MAP_ACCESS_GAP	2

static bool plain_alu(const struct csd_ebpf_insn *insn)
{
	unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

	return (cls == BPF_ALU || cls == BPF_ALU64) && !insn->off &&
	       (op == BPF_ADD || op == BPF_SUB || op == BPF_AND || op == BPF_OR || op == BPF_XOR ||
		op == BPF_MOV || op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH);
}

/* The access after `p = &global + o; p += i` at pc, past register instructions that leave p
 * and i as they are (fuse_map_value_access()), or SIZE_MAX. */
static size_t map_access_after_gap(const struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *insns = j->prog->insns;
	unsigned p = insns[pc].dst_reg, x = insns[pc + 2].src_reg;

	for (size_t a = pc + 3; a < j->prog->insn_cnt && a <= pc + 3 + MAP_ACCESS_GAP; a++) {
		uint32_t reads, writes;

		if (j->target[a] || j->loop_head[a])
			return SIZE_MAX;
		if (!plain_alu(&insns[a]))
			return a;
		ebpf_insn_regs(&insns[a], &reads, &writes);
		if (((reads | writes) >> p & 1) || (writes >> x & 1))
			return SIZE_MAX;
	}
	return SIZE_MAX;
}
static size_t fuse_map_value_access(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc], *acc;
	unsigned cls, size, p, x;
	const struct ebpf_map *m;
	bool store, write, rmw, p_after;
	int64_t disp, limit;
	uint8_t guard;
	size_t a;

	if (j->checked || pc + 4 > j->prog->insn_cnt || i->src_reg != BPF_PSEUDO_MAP_VALUE ||
	    i->imm < 0 || (size_t)i->imm >= j->prog->map_cnt || !j->prog->guard ||
	    i[2].code != (BPF_ALU64 | BPF_ADD | BPF_X) || i[2].dst_reg != i->dst_reg ||
	    i[2].src_reg == i->dst_reg || j->target[pc + 2] ||
	    (a = map_access_after_gap(j, pc)) == SIZE_MAX)
		return 0;
	acc = &j->prog->insns[a];
	if (BPF_MODE(acc->code) != BPF_MEM)
		return 0;
	m = &j->prog->maps[i->imm];
	guard = (uint8_t)(EBPF_GUARD_MAP + i->imm);
	cls = BPF_CLASS(acc->code);
	p = i->dst_reg;
	x = i[2].src_reg;
	store = cls == BPF_ST || cls == BPF_STX;
	if (j->prog->guard[a] != guard || (store && m->readonly) ||
	    (cls == BPF_LDX && acc->src_reg != p) ||
	    (store && (acc->dst_reg != p || (cls == BPF_STX && acc->src_reg == p))) ||
	    (!store && cls != BPF_LDX))
		return 0;
	size = size_of[BPF_SIZE(acc->code) >> 3];
	disp = (int64_t)(uint32_t)i[1].imm + acc->off;
	limit = (int64_t)m->max_entries * m->value_size - size + 1;
	if ((uintptr_t)m->values + (uint64_t)m->max_entries * m->value_size > INT32_MAX ||
	    limit < 1 || limit > INT32_MAX || disp < INT32_MIN || disp > INT32_MAX)
		return 0;
	write = store || store_follows(j, (uint32_t)a, reg_map[p], acc->off, size, guard);
	for (size_t k = pc + 3; k < a; k++) {	/* the instructions between, first */
		j->pc_off[k] = j->len;
		emit_alu(j, &j->prog->insns[k]);
	}
	rmw = !store && rmw_shape(j, a) && !(j->live[a + 3] >> p & 1);
	p_after = !rmw && (j->live[a + 1] >> p & 1) && !(cls == BPF_LDX && acc->dst_reg == p);
	j->via_map = true;
	/* (p is made from i after the access: not when a load writes i) */
	if (disp >= 0 && local_bound(j, pc, x, LOCAL_BOUND_DEPTH) < (uint64_t)(limit - disp) &&
	    !(p_after && cls == BPF_LDX && acc->dst_reg == x)) {
		/* the code bounds i itself: [i + values + disp], nothing to check */
		j->map_base = (uint8_t)reg_map[x];
		j->map_off = (int32_t)((uintptr_t)m->values + (uint64_t)disp);
	} else {
		/* lea r10, [i + disp]; cmp r10, limit; the stub makes the address in r11 */
		rex(j, true, R10, reg_map[x], false);
		emit1(j, 0x8d);
		modrm_mem(j, R10, reg_map[x], (int32_t)disp);
		alu_ri(j, true, 7, R10, (int32_t)limit);
		to_stub(j, CC_AE, STUB_MEM_R10, (uint32_t)a, size | (unsigned)write << 8);
		if (!j->oom)
			j->stubs[j->nstubs - 1].disp = (int32_t)(uintptr_t)m->values;
		j->map_base = R10;
		j->map_off = (int32_t)(uintptr_t)m->values;
	}
	j->pc_off[pc + 1] = j->pc_off[pc + 2] = j->pc_off[a] = j->len;
	j->cur_pc = a;
	j->via_r11 = false;
	j->via_sib = false;
	j->address_ready = true;
	if (rmw) {
		rmw_emit(j, a);				/* hist[b]++: add [r10 + values], 1 */
		j->pc_off[a + 1] = j->pc_off[a + 2] = j->len;
		j->last_check.valid = false;
		return a + 2 - pc;
	}
	if (store)
		emit_store(j, acc, (uint32_t)a, cls == BPF_ST);
	else
		emit_load(j, acc, (uint32_t)a);
	if (p_after) {
		/* lea p, [base + map_off - off]: values + o + i */
		rex(j, true, reg_map[p], j->map_base, false);
		emit1(j, 0x8d);
		modrm_mem(j, reg_map[p], j->map_base, j->map_off - acc->off);
		j->last_check = (struct checked_address){ .valid = true, .write = write,
			.base = (uint8_t)reg_map[p], .guard = guard, .off = acc->off,
			.size = size };
	} else {
		j->last_check.valid = false;
	}
	return a - pc;
}

/*
 * `d *= c; d += s` and maybe `d += k` after it (64 bits), as a number is parsed (`v = v * 10
 * + c - '0'`) or a hash mixed, for c = 1, 2, 4 or 8 times 1, 3, 5 or 9: `lea d, [d + d * 4]`
 * and `lea d, [s + d * 2 + k]` for 10. Two instructions that take a cycle each, where the
 * loop waited on a multiply (3 cycles) and two adds. The same for `t *= c; s += t` and
 * `t = a; t *= c; s += t` with t dead after (it keeps a * 5 there, not a * 10), as clang
 * also writes it. Returns how many instructions it compiled (0: none).
 */
static size_t fuse_mul_add(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc], *mul, *add;
	static const uint8_t lea_scale[10] = { [3] = 1, [5] = 2, [9] = 3 };
	unsigned t, from, sum, k = 0;
	uint32_t m;
	int32_t disp = 0;
	size_t n;
	bool copy = pc + 2 < j->prog->insn_cnt && i[0].code == (BPF_ALU64 | BPF_MOV | BPF_X) &&
		    !i[0].off && i[0].src_reg != i[0].dst_reg && !j->target[pc + 1];

	mul = &i[copy];
	add = mul + 1;
	n = copy + 2;
	if (pc + n > j->prog->insn_cnt || mul->code != (BPF_ALU64 | BPF_MUL | BPF_K) ||
	    mul->imm <= 0 || mul->dst_reg != i[0].dst_reg ||
	    add->code != (BPF_ALU64 | BPF_ADD | BPF_X) || add->off || j->target[pc + n - 1] ||
	    add->src_reg == add->dst_reg)
		return 0;
	t = mul->dst_reg;
	if (add->dst_reg == t) {		/* t *= c; t += s */
		if (copy)
			return 0;
		sum = t;
	} else if (add->src_reg == t && !(j->live[pc + n] >> t & 1)) {
		sum = add->dst_reg;		/* [t = a;] t *= c; s += t, t dead after */
	} else {
		return 0;
	}
	for (m = (uint32_t)mul->imm; !(m & 1) && k < 3; m >>= 1)
		k++;
	if (pc + n < j->prog->insn_cnt && i[n].code == (BPF_ALU64 | BPF_ADD | BPF_K) &&
	    i[n].dst_reg == sum && !j->target[pc + n]) {
		disp = i[n].imm;
		n++;
	}
	if (m != 1 && (m >= 10 || !lea_scale[m])) {
		uint32_t c = (uint32_t)mul->imm - 1;

		/*
		 * t = t * (2^b + 1) + s, a hash's `h = h * 33 + c`: lea r10, [t + s]; shl t, b;
		 * add t, r10, two steps on t's chain where mov, shl, add, add were three
		 */
		if (copy || sum != t || c < 2 || (c & (c - 1)))
			return 0;
		lea_sib(j, true, R10, reg_map[t], reg_map[add->src_reg], 0, disp);
		shift_ri(j, true, 4, reg_map[t], (unsigned)__builtin_ctz(c));
		alu_rr(j, true, 0x01, R10, reg_map[t]);
		return n;
	}
	from = copy ? i[0].src_reg : t;
	if (m != 1)	/* t := from * m (t is dead after, or the sum itself) */
		lea_sib(j, true, reg_map[t], reg_map[from], reg_map[from], lea_scale[m], 0);
	else if (copy)
		t = from;
	if (sum == t)
		lea_sib(j, true, reg_map[t], reg_map[add->src_reg], reg_map[t], k, disp);
	else
		lea_sib(j, true, reg_map[sum], reg_map[sum], reg_map[t], k, disp);
	return n;
}

/*
 * `goto L` back to a loop's latch, as clang lays out loops for eBPF (the latch first, its
 * conditional jump over the exit to the body after it, each path of the body ending in a
 * goto back to the latch): a copy of the latch, at most LATCH_MAX plain ALU instructions and
 * its conditional jump, now back to the body, in place of the goto, so that a trip takes
 * one jump where it took two. The same where code falls into the latch (part of a body laid
 * out before it): the latch is aligned as a loop head, and the padding would otherwise run
 * on every trip that comes that way. A copy of
 * straight-line code computes the same; only in verified code, whose loops the verifier
 * bounded: checked code counts its budget at loop heads, and a path through the copy may
 * close a cycle without one. Returns true if it emitted one (then nothing else is needed).
 */
#define LATCH_MAX	4

#define REGION_MAX	16

struct branch_region {
	size_t start, end;	/* the first conditional jump, the last instruction */
	size_t join;		/* where every way out goes */
	bool ends_in_ja;	/* end is `ja join` (else the region falls into it) */
	uint32_t targets;	/* bit k - start: a jump inside goes to start + k (k <= REGION_MAX) */
	unsigned free_reg;	/* an eBPF register (r0-r9) dead everywhere in and after it */
};

static bool find_branch_region(const struct jit *j, size_t start, struct branch_region *r);
static bool cond_move_shape(const struct jit *j, size_t pc);
static size_t select_shape(const struct jit *j, size_t pc);

/*
 * The latch's conditional jump when the latch at `latch` can be copied, else SIZE_MAX: for a
 * jump back to the latch only when the copy's own jump closes the loop (its head at or before
 * here), for code falling into it (any_head) wherever the head is.
 */
static size_t latch_cond(const struct jit *j, size_t latch, bool any_head)
{
	const struct csd_ebpf_insn *insns = j->prog->insns, *cond;
	size_t cnt = j->prog->insn_cnt, c = latch;
	struct branch_region region;

	if (j->checked || j->no_latch_copies || latch > j->cur_pc)
		return SIZE_MAX;
	while (c < cnt && c - latch <= LATCH_MAX && plain_alu(&insns[c]))
		c++;
	if (c + 1 >= cnt || c - latch > LATCH_MAX)
		return SIZE_MAX;
	cond = &insns[c];
	if (!is_cond_jump(cond))
		return SIZE_MAX;
	if (!any_head && c + 1 + (size_t)(ptrdiff_t)cond->off > j->cur_pc)
		return SIZE_MAX;	/* the copy's jump would not close a loop */
	/*
	 * the copy goes on at c + 1: not where c's code takes c + 1 in too (a flag select's
	 * jump and move are a conditional move's); a new fusion that compiles the instruction
	 * after a conditional jump with it belongs in this list (test_loop_head_fused), or
	 * compile() finds the copy's jump into it and the program is compiled without copies
	 */
	if (!j->latch_shapes_unchecked &&
	    (cond_move_shape(j, c) || find_branch_region(j, c, &region) ||
	     (c > latch && select_shape(j, c - 1) != SIZE_MAX)))
		return SIZE_MAX;
	return c;
}

/*
 * Whether the code before pc runs on into it: not after a ja or an exit compiled in place
 * (a moved one, folded into the jump before it, leaves a path falling through).
 */
static bool falls_into(const struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *prev;

	if (pc == 0)
		return false;
	if (pc >= 2 && j->prog->insns[pc - 2].code == BPF_OP_LDDW)
		return true;	/* pc - 1 is an lddw's second slot */
	prev = &j->prog->insns[pc - 1];
	return j->moved[pc - 1] ||
	       !((BPF_CLASS(prev->code) == BPF_JMP || BPF_CLASS(prev->code) == BPF_JMP32) &&
		 (BPF_OP(prev->code) == BPF_JA || BPF_OP(prev->code) == BPF_EXIT));
}

static bool emit_latch_copy(struct jit *j, size_t latch, bool any_head)
{
	const struct csd_ebpf_insn *insns = j->prog->insns, *cond, *next;
	size_t c = latch_cond(j, latch, any_head);

	if (c == SIZE_MAX)
		return false;
	cond = &insns[c];
	next = &insns[c + 1];
	for (size_t k = latch; k < c; k++)
		emit_alu(j, &insns[k]);
	j->flags_from = false;
	emit_compare(j, cond);
	jcc_pc(j, jcc_of(BPF_OP(cond->code)), c + 1 + (size_t)(ptrdiff_t)cond->off);
	if (next->code == (BPF_JMP | BPF_EXIT))
		emit_exit(j);
	else if (next->code == (BPF_JMP | BPF_JA))
		jmp_pc(j, c + 2 + (size_t)(ptrdiff_t)next->off);
	else
		jmp_pc(j, c + 1);
	j->last_check.valid = false;
	return true;
}

/*
 * `a = K1; if (cond) goto T; a = K2; goto T`: how clang writes `n += (c == x)` for eBPF, which
 * has no setcc. A data-dependent branch there mispredicts as often as the data changes (a byte
 * that is 10% of the text): compiled as mov r11, K1; mov a, K2; cmp; cmovcc a, r11, or, for
 * 1 and 0, xor a, a; cmp; setcc. K1 and K2 may be registers too (`max = x > m ? x : m`).
 * Returns true when pc..pc+3 were compiled so.
 */
/* pc..pc+3 is `a = K1; if (cond) goto T; a = K2; goto T` (as fuse_select says): T; else SIZE_MAX */
static size_t select_shape(const struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];
	unsigned a;
	size_t t;

	if (pc + 3 >= j->prog->insn_cnt || !is_plain_mov(&i[0]) || !is_plain_mov(&i[2]) ||
	    i[2].dst_reg != i[0].dst_reg || i[0].off || i[2].off ||
	    i[3].code != (BPF_JMP | BPF_JA) || !is_cond_jump(&i[1]))
		return SIZE_MAX;
	a = i[0].dst_reg;
	t = pc + 2 + (size_t)(ptrdiff_t)i[1].off;
	if (t != pc + 4 + (size_t)(ptrdiff_t)i[3].off || (t > pc && t <= pc + 3) ||
	    j->target[pc + 1] || j->target[pc + 2] || j->target[pc + 3] || i[1].dst_reg == a ||
	    (BPF_SRC(i[1].code) == BPF_X && i[1].src_reg == a))
		return SIZE_MAX;
	return t;
}

/* Whether the access at pc, compiled now, reads x86 register r for its address. */
static bool address_reads(const struct jit *j, size_t pc, unsigned r)
{
	if (j->address_ready)	/* fused: gs:[b + x + off], or r11 computed already */
		return j->via_gs && (j->gs_base == r || j->gs_index == r);
	return reg_map[j->prog->insns[pc].src_reg] == r;
}

/*
 * The select at pc going to t, its condition compared as emit_compare() does or, when load
 * is not SIZE_MAX, against the memory the load at `load` reads (compare_loaded()).
 */
static void emit_select(struct jit *j, size_t pc, size_t t, size_t load)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];
	unsigned op = BPF_OP(i[1].code), a = reg_map[i[0].dst_reg];
	bool one_or_zero = is_mov_imm(&i[0]) && is_mov_imm(&i[2]) &&
			   mov_imm_value(&i[0]) + mov_imm_value(&i[2]) == 1 &&
			   mov_imm_value(&i[0]) * mov_imm_value(&i[2]) == 0;

	j->flags_from = false;
	if (load != SIZE_MAX && one_or_zero && !address_reads(j, load, a)) {
		alu_rr(j, false, 0x31, a, a);
		compare_loaded(j, load, (uint32_t)i[1].imm);
	} else if (load != SIZE_MAX) {
		/* the compare first: its address may take a or r11; movs keep the flags */
		compare_loaded(j, load, (uint32_t)i[1].imm);
		if (one_or_zero)
			mov_ri64(j, a, 0);
		else
			mov_value(j, R11, &i[0]);
	} else if (one_or_zero) {
		alu_rr(j, false, 0x31, a, a);	/* xor before the compare: it writes flags */
		emit_compare(j, &i[1]);
	} else {
		mov_value(j, R11, &i[0]);	/* before a changes: a = a is a mov too */
	}
	if (one_or_zero) {
		/* 1 or 0 as the condition says: setcc a8 (the inverse for 0 or 1) */
		setcc(j, (uint8_t)(jcc_of(op) ^ (mov_imm_value(&i[0]) == 0)), a);
	} else {
		mov_value(j, a, &i[2]);
		if (load == SIZE_MAX)
			emit_compare(j, &i[1]);
		cmovcc(j, true, jcc_of(op), a, R11);
	}
	if (t != pc + 4 && !emit_latch_copy(j, t, false))
		jmp_pc(j, t);
}

/*
 * `a = K1; if (cond) goto +1; a = K2` with K1, K2 one 1 and the other 0 (clang's `a = x !=
 * y` when the jump falls into the next block): xor a, a; cmp; setcc, where a cmov needed the
 * two constants in registers. Whether pc..pc+2 is that.
 */
static bool flag_select_shape(const struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];

	return pc + 2 < j->prog->insn_cnt && is_mov_imm(&i[0]) && is_mov_imm(&i[2]) &&
	       i[0].dst_reg == i[2].dst_reg &&
	       ((i[0].imm == 1 && i[2].imm == 0) || (i[0].imm == 0 && i[2].imm == 1)) &&
	       is_cond_jump(&i[1]) && i[1].off == 1 &&
	       !j->target[pc + 1] && !j->target[pc + 2] && i[1].dst_reg != i[0].dst_reg &&
	       !(BPF_SRC(i[1].code) == BPF_X && i[1].src_reg == i[0].dst_reg);
}

static bool fuse_flag_select(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];
	unsigned a = reg_map[i[0].dst_reg];

	if (!flag_select_shape(j, pc))
		return false;
	alu_rr(j, false, 0x31, a, a);		/* before the compare: xor writes flags */
	j->flags_from = false;
	emit_compare(j, &i[1]);
	setcc(j, (uint8_t)(jcc_of(BPF_OP(i[1].code)) ^ (i[0].imm == 0)), a);
	return true;
}

static bool fuse_select(struct jit *j, size_t pc)
{
	size_t t = select_shape(j, pc);

	if (t == SIZE_MAX)
		return false;
	emit_select(j, pc, t, SIZE_MAX);
	return true;
}

/*
 * `x = load 1 or 2 bytes; <a select on x <op> K>` with x dead after, as clang writes
 * `n += data[i] == '\n'`: the select compares the memory (cmp byte [m], K) and x is never
 * loaded. Unsigned orders and equality, K within the load's size; the select's movs must
 * not read x. The compare comes first, so a may be the load's base.
 */
static bool fuse_load_select(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *ld = &j->prog->insns[pc], *i = ld + 1;
	unsigned size = size_of[BPF_SIZE(ld->code) >> 3], x = ld->dst_reg, op;
	size_t t;

	if (BPF_MODE(ld->code) != BPF_MEM || size > 2 || j->target[pc + 1] ||
	    (t = select_shape(j, pc + 1)) == SIZE_MAX)
		return false;
	op = BPF_OP(i[1].code);
	if (BPF_SRC(i[1].code) != BPF_K || i[1].dst_reg != x || i[1].imm < 0 ||
	    i[1].imm >= (1 << (8 * size)) ||
	    !unsigned_or_equal(op) || (j->live[t] & (1u << x)) ||
	    (BPF_SRC(i[0].code) == BPF_X && i[0].src_reg == x) ||
	    (BPF_SRC(i[2].code) == BPF_X && i[2].src_reg == x))
		return false;
	emit_select(j, pc + 1, t, pc);
	return true;
}

/*
 * `if (cond) goto +1; a = b` (or a = K): the move when cond is false, as clang writes
 * `if (c != prev) run = 1` or a running maximum. Over data that changes at random the branch
 * mispredicts half the time: compiled as mov r11, b; cmp; cmov(not cond) a, r11. Moves of a
 * constant or of 64 bits only (is_plain_mov(): a cmov of 32 bits would clear a's upper half
 * when it does not move). Returns true when pc..pc+1 were compiled so. Not `if (cond)
 * goto T; a = b; goto T` elsewhere: as a running maximum's (record_max), that branch is
 * mostly taken the same way, and a cmov there chains each iteration to the last (record_max
 * 0.34 to 0.49 ms over 16 MiB when it was one).
 */
static bool cond_move_shape(const struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];

	return pc + 1 < j->prog->insn_cnt && i->off == 1 && is_cond_jump(i) &&
	       is_plain_mov(&i[1]) && !j->target[pc + 1];
}

static bool fuse_cond_move(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *i = &j->prog->insns[pc];
	unsigned op = BPF_OP(i->code), a;

	if (!cond_move_shape(j, pc))
		return false;
	a = i[1].dst_reg;
	mov_value(j, R11, &i[1]);
	emit_compare(j, i);
	cmovcc(j, true, jcc_of(op) ^ 1, reg_map[a], R11);	/* cmov(not cc) a, r11 */
	return true;
}

/*
 * If-conversion of a small forward region of branches, as clang writes a token or word count
 * (`if (delim) in = 0; else if (!in) { in = 1; n++; }`): two or more conditional jumps over
 * register arithmetic, every way out going to one place, the join. Over text their outcomes
 * change with the bytes and each mispredicts at every token's edge (token_count: 53 ms over
 * 16 MiB, where clang's branchless code takes 11 ms). Compiled without jumps: r10 holds
 * whether the instruction being compiled runs (1 or 0), r11 whether the one internal jump
 * waiting for its target was taken; an instruction writing a register that some way out
 * reads is a cmov (or an add of r10 for `n++`), one writing a register no way out reads runs
 * as it is; a jump's condition becomes setcc and an and. r10 and r11 are scratch between
 * instructions; the region also needs one eBPF register it leaves dead everywhere (f).
 */

/* Register arithmetic the region can run either way: no shift by a register without BMI2
 * (emit_shift() then takes r10 and r11). */
static bool region_alu(const struct jit *j, const struct csd_ebpf_insn *insn)
{
	unsigned op = BPF_OP(insn->code);

	return plain_alu(insn) && (j->bmi2 || BPF_SRC(insn->code) == BPF_K ||
				   (op != BPF_LSH && op != BPF_RSH && op != BPF_ARSH));
}

/* Whether a jump or call from outside start..end lands inside it (after start). */
static bool entered_from_outside(const struct jit *j, size_t start, size_t end)
{
	const struct csd_ebpf_insn *insns = j->prog->insns;

	for (size_t pc = 0; pc < j->prog->insn_cnt; pc++) {
		size_t t = jump_target(&insns[pc], pc);

		if (insns[pc].code == BPF_OP_LDDW)
			pc++;
		else if ((pc < start || pc > end) && t != SIZE_MAX && t > start && t <= end)
			return true;
	}
	return false;
}

/* The region starting at the conditional jump at start, if one does (see above). */
static bool find_branch_region(const struct jit *j, size_t start, struct branch_region *r)
{
	const struct csd_ebpf_insn *insns = j->prog->insns;
	size_t cnt = j->prog->insn_cnt, pending = SIZE_MAX, k;
	unsigned conds = 1;
	uint32_t used = 0;

	if (!is_cond_jump(&insns[start]))
		return false;
	*r = (struct branch_region){ .start = start,
				     .join = start + 1 + (size_t)(ptrdiff_t)insns[start].off };
	if (r->join > start && r->join <= start + 2)
		return false;
	for (k = start + 1;; k++) {
		const struct csd_ebpf_insn *insn = &insns[k];
		size_t t;

		if (k - start > REGION_MAX || k >= cnt || j->loop_head[k])
			return false;
		if (k == r->join) {
			r->end = k - 1;
			break;
		}
		if (k == pending)
			pending = SIZE_MAX;
		if (insn->code == (BPF_JMP | BPF_JA) && k + 1 + (size_t)(ptrdiff_t)insn->off == r->join) {
			r->end = k;
			r->ends_in_ja = true;
			break;
		}
		if (is_cond_jump(insn)) {
			t = k + 1 + (size_t)(ptrdiff_t)insn->off;
			conds++;
			if (t == r->join)
				continue;
			/* forward, inside, one waiting at a time */
			if (t <= k || t - start > REGION_MAX ||
			    (pending != SIZE_MAX && pending != t))
				return false;
			pending = t;
			r->targets |= 1u << (t - start);
			continue;
		}
		if (!region_alu(j, insn))
			return false;
	}
	if (conds < 2 || (pending != SIZE_MAX && pending > r->end) ||
	    (r->join >= start && r->join <= r->end) ||
	    entered_from_outside(j, start, r->end))
		return false;
	/* (what is live at a target inside is read there or live at the join) */
	used = j->live[start] | j->live[r->join];
	for (k = start; k <= r->end; k++) {
		uint32_t reads, writes;

		ebpf_insn_regs(&insns[k], &reads, &writes);
		used |= reads | writes;
	}
	for (r->free_reg = 0; r->free_reg < 10 && (used >> r->free_reg & 1); r->free_reg++)
		;
	return r->free_reg < 10;
}

/*
 * Whether register d, written at k, may be written whether k runs or not: no way out of
 * the region after k reads it before writing it (the join, a jump's target after k).
 */
static bool written_freely(const struct jit *j, const struct branch_region *r, size_t k,
			   unsigned d)
{
	if (j->live[r->join] >> d & 1)
		return false;
	for (size_t t = k + 1; t <= r->end; t++)
		if ((r->targets >> (t - r->start) & 1) && (j->live[t] >> d & 1))
			return false;
	return true;
}

/* What the code compiled so far in a region leaves in r10 and r11, and registers known 0. */
struct region_state {
	bool runs_always;	/* no jump yet: r10 not set, every instruction runs */
	size_t waiting;		/* r11 says whether the way to this target was taken (or SIZE_MAX) */
	uint16_t zero;		/* eBPF registers that hold 0 whichever way was taken */
};

/*
 * d op= ... at k, when r10 says k runs. A flag set before the region and again in it
 * (`in = 0; if (c) goto join; in = 1`) is r10 itself, or nothing to do when it is set to
 * what it holds.
 */
static void emit_predicated_alu(struct jit *j, const struct branch_region *r,
				const struct csd_ebpf_insn *insn, struct region_state *s)
{
	unsigned op = BPF_OP(insn->code), d = reg_map[insn->dst_reg], f = reg_map[r->free_reg];
	uint16_t bit = (uint16_t)(1u << insn->dst_reg);
	struct csd_ebpf_insn into_f = *insn;

	if (is_mov_imm(insn) && (s->zero & bit) && insn->imm == 0)
		return;
	if (is_mov_imm(insn) && (s->zero & bit) && insn->imm == 1) {
		mov_rr(j, false, R10, d);			/* mov d32, r10d */
		s->zero &= (uint16_t)~bit;
		return;
	}
	s->zero &= (uint16_t)~bit;
	if (insn->code == (BPF_ALU64 | BPF_ADD | BPF_K) && (insn->imm == 1 || insn->imm == -1)) {
		alu_rr(j, true, insn->imm == 1 ? 0x01 : 0x29, R10, d);	/* add/sub d, r10 */
		return;
	}
	/* f := what the instruction would write; test r10d, r10d; cmovnz d, f */
	if (op != BPF_MOV)
		mov_rr(j, true, d, f);
	into_f.dst_reg = (uint8_t)r->free_reg;
	emit_alu(j, &into_f);
	alu_rr(j, false, 0x85, R10, R10);
	cmovcc(j, true, CC_NE, d, f);
}

/* The jump at k as r10 and r11 take it in: see the region's comment. */
static void emit_predicated_jump(struct jit *j, const struct branch_region *r, size_t k,
				 struct region_state *s)
{
	const struct csd_ebpf_insn *insn = &j->prog->insns[k];
	uint8_t cc = jcc_of(BPF_OP(insn->code));
	size_t t = k + 1 + (size_t)(ptrdiff_t)insn->off;
	bool out = t == r->join;
	unsigned f = reg_map[r->free_reg];

	if (s->runs_always) {
		/* r10 := !cond; r11 := cond for a jump inside (nothing waits yet) */
		alu_rr(j, false, 0x31, R10, R10);
		if (!out)
			alu_rr(j, false, 0x31, R11, R11);
		emit_compare(j, insn);
		setcc(j, cc ^ 1, R10);
		if (!out)
			setcc(j, cc, R11);
		s->runs_always = false;
	} else if (out) {
		alu_rr(j, false, 0x31, f, f);
		emit_compare(j, insn);
		cmovcc(j, false, cc, R10, f);		/* taken: nothing after it runs */
	} else {
		/* f := r10 & cond, the way to t; r11 |= f (:= f if none waits); r10 ^= f */
		alu_rr(j, false, 0x31, f, f);
		emit_compare(j, insn);
		setcc(j, cc, f);
		alu_rr(j, false, 0x21, R10, f);
		alu_rr(j, false, s->waiting == SIZE_MAX ? 0x89 : 0x09, f, R11);
		alu_rr(j, false, 0x31, f, R10);
	}
	if (!out)
		s->waiting = t;
}

/*
 * The region found at pc compiled without jumps but the one to the join at its end (a copy
 * of the join's latch where there is one). Returns how many instructions after pc it took
 * (0: no region there).
 */
static size_t fuse_branch_region(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *insns = j->prog->insns;
	struct region_state s = { .runs_always = true, .waiting = SIZE_MAX };
	struct branch_region r;

	if (!find_branch_region(j, pc, &r))
		return 0;
	if (pc > 0 && !j->target[pc] && is_mov_imm(&insns[pc - 1]) && !insns[pc - 1].imm &&
	    (pc < 2 || insns[pc - 2].code != BPF_OP_LDDW))
		s.zero = (uint16_t)(1u << insns[pc - 1].dst_reg);
	j->flags_from = false;		/* xor r10d, r10d comes before the first compare */
	for (size_t k = pc; k <= r.end; k++) {
		const struct csd_ebpf_insn *insn = &insns[k];

		j->cur_pc = k;
		j->pc_off[k] = j->len;
		if (insn->code == (BPF_JMP | BPF_JA))
			break;				/* the end: every way goes to the join */
		if (k == s.waiting) {
			alu_rr(j, false, 0x09, R11, R10);	/* or r10d, r11d: the ways meet */
			s.waiting = SIZE_MAX;
		}
		if (is_cond_jump(insn)) {
			emit_predicated_jump(j, &r, k, &s);
		} else if (s.runs_always || written_freely(j, &r, k, insn->dst_reg)) {
			s.zero &= (uint16_t)~(1u << insn->dst_reg);
			if (is_mov_imm(insn) && !insn->imm)
				s.zero |= (uint16_t)(1u << insn->dst_reg);
			if (k < r.end && !(r.targets >> (k + 1 - r.start) & 1) &&
			    fuse_extension(j, k))
				j->pc_off[++k] = j->len;
			else
				emit_alu(j, insn);
		} else {
			emit_predicated_alu(j, &r, insn, &s);
		}
	}
	j->flags_from = false;
	j->last_check.valid = false;
	j->cur_pc = r.end;
	if (r.ends_in_ja && !emit_latch_copy(j, r.join, false))
		jmp_pc(j, r.join);
	return r.end - pc;
}

/*
 * A field put together from bytes loaded one by one, as clang writes a big-endian one
 * (`p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]`) or a little-endian one byte by byte: one load
 * of 2, 4 or 8 bytes, and a bswap for big-endian, where there were a load, a shift and an or
 * per byte. What each register holds through the sequence is followed as bytes of
 * [base + off] at bit positions; the sequence ends where a register holds whole such a field.
 * Only in verified code (each byte's load was proven, all to the same region, and the bytes
 * are contiguous, so one access of them all is as well), without jump targets inside, and
 * only when every other register the sequence wrote is dead after it (the fused code does
 * not write them). Returns how many instructions were compiled so (0: none).
 */
#define ASSEMBLY_WINDOW	24

struct assembled_bytes {
	bool known;
	uint8_t n;
	int16_t off[8];		/* byte k is [base + off[k]] ... */
	uint8_t shift[8];	/* ... at bits shift[k] .. shift[k] + 7 */
};

/* The lowest offset if the bytes make one field (2, 4, 8 of them, either order). */
static bool assembled_field(const struct assembled_bytes *a, int16_t *low, bool *big_endian)
{
	int16_t lo = INT16_MAX;
	bool le = true, be = true;

	if (!a->known || (a->n != 2 && a->n != 4 && a->n != 8))
		return false;
	for (unsigned k = 0; k < a->n; k++)
		lo = a->off[k] < lo ? a->off[k] : lo;
	for (unsigned k = 0; k < a->n; k++) {
		int i = a->off[k] - lo;

		le = le && a->shift[k] == 8 * i;
		be = be && a->shift[k] == 8 * (a->n - 1 - i);
	}
	/* offsets repeated or missing would fail both: shifts are distinct (or_bytes) */
	*low = lo;
	*big_endian = be;
	return le || be;
}

/* a |= b: bytes at distinct bit positions only, all below `bits` */
static bool or_bytes(struct assembled_bytes *a, const struct assembled_bytes *b, unsigned bits)
{
	if (!a->known || !b->known || a->n + b->n > 8)
		return false;
	for (unsigned m = 0; m < a->n; m++)
		if (a->shift[m] + 8u > bits)	/* a 32-bit or cuts what lies above */
			return false;
	for (unsigned k = 0; k < b->n; k++) {
		for (unsigned m = 0; m < a->n; m++)
			if (a->shift[m] == b->shift[k] || a->off[m] == b->off[k])
				return false;
		if (b->shift[k] + 8u > bits)
			return false;
		a->off[a->n] = b->off[k];
		a->shift[a->n++] = b->shift[k];
	}
	return true;
}

static size_t fuse_byte_assembly(struct jit *j, size_t pc)
{
	const struct csd_ebpf_insn *insns = j->prog->insns;
	struct assembled_bytes reg[EBPF_NREGS] = { 0 };
	unsigned base = insns[pc].src_reg, written = 0;
	uint8_t guard = j->prog->guard ? j->prog->guard[pc] : EBPF_GUARD_ANY;
	bool base_written = false;

	if (j->checked || insns[pc].code != (BPF_LDX | BPF_MEM | BPF_B))
		return 0;
	for (size_t k = pc; k < j->prog->insn_cnt && k < pc + ASSEMBLY_WINDOW; k++) {
		const struct csd_ebpf_insn *i = &insns[k];
		unsigned d = i->dst_reg, s = i->src_reg, bits = BPF_CLASS(i->code) == BPF_ALU ? 32 : 64;
		struct assembled_bytes *r = &reg[d];
		int16_t low;
		bool be;

		if ((k > pc && j->target[k]) || d >= EBPF_NREGS - 1)
			return 0;
		if (i->code == (BPF_LDX | BPF_MEM | BPF_B)) {
			if (s != base || base_written ||
			    (j->prog->guard ? j->prog->guard[k] : EBPF_GUARD_ANY) != guard)
				return 0;
			*r = (struct assembled_bytes){ .known = true, .n = 1, .off = { i->off } };
		} else if ((i->code == (BPF_ALU64 | BPF_LSH | BPF_K) ||
			    i->code == (BPF_ALU | BPF_LSH | BPF_K)) && r->known) {
			for (unsigned m = 0; m < r->n; m++) {
				if (i->imm < 0 || r->shift[m] + (unsigned)i->imm + 8 > bits)
					return 0;
				r->shift[m] = (uint8_t)(r->shift[m] + i->imm);
			}
		} else if (i->code == (BPF_ALU64 | BPF_OR | BPF_X) ||
			   i->code == (BPF_ALU | BPF_OR | BPF_X)) {
			if (s == d || !or_bytes(r, &reg[s], bits))
				return 0;
		} else if ((i->code == (BPF_ALU64 | BPF_MOV | BPF_X) ||
			    i->code == (BPF_ALU | BPF_MOV | BPF_X)) && !i->off && reg[s].known) {
			*r = reg[s];
			for (unsigned m = 0; m < r->n; m++)
				if (r->shift[m] + 8u > bits)
					return 0;
		} else {
			return 0;
		}
		written |= 1u << d;
		base_written = base_written || d == base;
		if (k == pc || !assembled_field(r, &low, &be) ||
		    (k + 1 < j->prog->insn_cnt && (j->live[k + 1] & written & ~(1u << d))))
			continue;
		/* the field's bytes in one load into d, as the first byte's load was checked */
		{
			unsigned dst = reg_map[d], b = reg_map[base], n = r->n, mb;

			address(j, b, low, n, false, false, (uint32_t)pc);
			mb = mem_base(j, b);
			if (n == 2) {			/* movzx r32, word */
				rex(j, false, dst, mb, false);
				emit1(j, 0x0f);
				emit1(j, 0xb7);
			} else {			/* mov r32 / r64 */
				rex(j, n == 8, dst, mb, false);
				emit1(j, 0x8b);
			}
			mem_operand(j, dst, b, low);
			if (be)
				emit_bswap(j, dst, 8 * n);
		}
		return k - pc + 1;
	}
	return 0;
}

/* The n instructions after *pc were compiled with it: they start where the code is now. */
static void fused_through(struct jit *j, size_t *pc, size_t n)
{
	j->last_check.valid = false;
	while (n--)
		j->pc_off[++*pc] = j->len;
}

static int compile(struct jit *j)
{
	const struct csd_ebpf_insn *insns = j->prog->insns;
	size_t cnt = j->prog->insn_cnt;

	/* loop heads: targets of backward jumps (every cycle has one); calls' targets too */
	for (size_t pc = 0; pc < cnt; pc++) {
		size_t t = jump_target(&insns[pc], pc);

		if (insns[pc].code == BPF_OP_LDDW) {
			pc++;
			continue;
		}
		if (t == SIZE_MAX)
			continue;
		if (t <= pc && insns[pc].code != (BPF_JMP | BPF_CALL))
			j->loop_head[t] = true;
		j->target[t] = true;
	}
	liveness(j);
	if (j->gs && jit_has_avx2())
		jit_find_vector_loops(j);
	emit_prologue(j);
	emit_exits(j);
	j->body_start = j->len;	/* the prologue and the exits are no place to interrupt */
	for (size_t pc = 0; pc < cnt && !j->oom; pc++) {
		const struct csd_ebpf_insn *insn = &insns[pc];
		unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

		bool flags = false;
		struct vloop *vl;
		size_t fused;

		if (j->loop_head[pc] && !j->moved[pc]) {
			j->cur_pc = pc;
			if (falls_into(j, pc))
				emit_latch_copy(j, pc, true);
			align_code(j, 32);
		}
		j->cur_pc = pc;
		j->pc_off[pc] = j->len;
		j->own_code[pc] = true;
		if (j->moved[pc])
			continue;
		vl = jit_vloop_at(j, pc);
		if (vl) {
			jit_emit_vector_loop(j, vl);
			if (j->loop_head[pc])
				align_code(j, 32);
			vl->scalar_off = j->len;
			vl->emitted = true;
		}
		if (j->loop_head[pc] && j->checked)
			budget_tick(j, (uint32_t)pc);
		/* flags from the previous instruction count only if nothing else jumps in here */
		j->flags_from = j->flags_from && !j->target[pc] && !j->loop_head[pc];
		if (j->target[pc] || j->loop_head[pc] || !keeps_register(insn, j->last_check.base))
			j->last_check.valid = false;
		if (fold_lookup_setup(j, &pc)) {
			j->flags_from = false;
			continue;
		}
		switch (cls) {
		case BPF_ALU:
		case BPF_ALU64:
			if ((fused = fuse_address_access(j, pc))) {
				while (fused--)		/* the adds, then the access */
					j->pc_off[++pc] = j->len;
				insn = &insns[pc];
				if (BPF_CLASS(insn->code) != BPF_LDX)
					emit_store(j, insn, (uint32_t)pc,
						   BPF_CLASS(insn->code) == BPF_ST);
				else if (fuse_load_select(j, pc))
					fused_through(j, &pc, 4);
				else
					emit_load(j, insn, (uint32_t)pc);
				break;
			}
			if (fuse_select(j, pc)) {	/* a jump inside */
				fused_through(j, &pc, 3);
				break;
			}
			if (fuse_flag_select(j, pc)) {	/* a jump inside */
				fused_through(j, &pc, 2);
				break;
			}
			if (fuse_extension(j, pc)) {
				fused_through(j, &pc, 1);
				break;
			}
			if ((fused = fuse_mul_add(j, pc))) {
				fused_through(j, &pc, fused - 1);
				break;
			}
			if (fuse_mov_extension(j, pc)) {
				fused_through(j, &pc, 2);
				break;
			}
			if (fuse_mov_add(j, pc)) {
				fused_through(j, &pc, 1);
				break;
			}
			if (fuse_mask_compare(j, pc)) {		/* the jump compiled inside */
				j->last_check.valid = false;
				pc++;
				break;
			}
			emit_alu(j, insn);
			/* add, sub, and, or, xor leave ZF for a following test of dst against 0 */
			flags = (op == BPF_ADD || op == BPF_SUB || op == BPF_AND || op == BPF_OR ||
				 op == BPF_XOR) && pc + 1 < cnt &&
				(insns[pc + 1].code & ~0xf0) == (BPF_JMP | BPF_K) &&
				insns[pc + 1].dst_reg == insn->dst_reg &&
				(cls == BPF_ALU64 || BPF_CLASS(insns[pc + 1].code) == BPF_JMP);
			break;
		case BPF_LDX: {
			if (rmw_shape(j, pc)) {
				rmw_emit(j, pc);
				j->pc_off[pc + 1] = j->pc_off[pc + 2] = j->len;
				pc += 2;
				break;
			}
			fused = fuse_byte_assembly(j, pc);
			if (fused) {
				fused_through(j, &pc, fused - 1);
				break;
			}
			if (fuse_load_select(j, pc)) {	/* a jump inside */
				fused_through(j, &pc, 4);
				break;
			}
			if (fuse_load_compare(j, pc)) {	/* its register may be the base */
				fused_through(j, &pc, 1);
				break;
			}
			emit_load(j, insn, (uint32_t)pc);
			break;
		}
		case BPF_ST:
			emit_store(j, insn, (uint32_t)pc, true);
			break;
		case BPF_STX:
			if (BPF_MODE(insn->code) == BPF_ATOMIC)
				emit_atomic(j, insn, (uint32_t)pc);
			else
				emit_store(j, insn, (uint32_t)pc, false);
			break;
		case BPF_LD: {
			const struct csd_ebpf_insn *next = &insns[pc + 1];
			uint64_t v;

			if ((fused = fuse_map_value_access(j, pc))) {
				pc += fused;
				break;
			}

			if (insn->src_reg == BPF_PSEUDO_MAP_FD)
				v = EBPF_MAP_TOKEN(insn->imm);
			else if (insn->src_reg == BPF_PSEUDO_MAP_VALUE)
				v = (uint64_t)(uintptr_t)j->prog->maps[insn->imm].values +
				    (uint32_t)next->imm;
			else
				v = (uint32_t)insn->imm | ((uint64_t)(uint32_t)next->imm << 32);
			mov_ri64(j, reg_map[insn->dst_reg], v);
			pc++;
			j->pc_off[pc] = j->len;
			break;
		}
		default:	/* jumps */
			if (op == BPF_JA) {
				size_t to = pc + 1 + (size_t)(ptrdiff_t)(cls == BPF_JMP32 ? insn->imm :
										 insn->off);

				if (!emit_latch_copy(j, to, false))
					jmp_pc(j, to);
			} else if (op == BPF_EXIT) {
				emit_exit(j);
			} else if (op == BPF_CALL && BPF_SRC(insn->code) == BPF_X) {
				unsigned r = insn->dst_reg ? insn->dst_reg : (unsigned)insn->imm;

				store_ctx(j, reg_map[r], CTX_OFF(callx_id));
				emit_helper_call(j, jit_callx, (uint32_t)pc);
			} else if (op == BPF_CALL && insn->src_reg == BPF_PSEUDO_CALL) {
				emit_local_call(j, pc + 1 + (size_t)(ptrdiff_t)insn->imm, (uint32_t)pc);
			} else if (op == BPF_CALL) {
				const struct ebpf_map *m = inline_lookup_map(j, pc);

				if (!m)
					emit_helper_call(j,
						(const void *)ebpf_helper_lookup(insn->imm),
						(uint32_t)pc);
				else if (emit_inline_array_lookup(j, (uint32_t)pc, m, KEY_VIA_R2, 0, false))
					pc++;	/* and its `if r0 == 0` */
			} else if ((fused = fuse_branch_region(j, pc))) {
				fused_through(j, &pc, fused);
			} else if (fuse_cond_move(j, pc)) {
				fused_through(j, &pc, 1);
			} else {
				emit_cond_jump(j, insn, pc);
				note_lookup_result(j, pc);
			}
		}
		j->flags_from = flags;
	}
	emit_stubs(j);
	/* a moved ja's pc stands for its target's code (a chain of them resolves in order) */
	for (size_t pass = 0; pass < cnt; pass++) {
		bool changed = false;

		for (size_t pc = 0; pc < cnt; pc++) {
			size_t target;

			if (!j->moved[pc] || insns[pc].code != (BPF_JMP | BPF_JA))
				continue;
			target = j->pc_off[pc + 1 + (size_t)(ptrdiff_t)insns[pc].off];
			if (target != j->pc_off[pc])
				j->pc_off[pc] = target, changed = true;
		}
		if (!changed)
			break;
	}
	for (size_t i = 0; i < j->nfix && !j->oom; i++) {
		size_t target = jit_code_of(j, j->fix[i].target_pc, j->fix[i].src_pc);

		/*
		 * A jump to an instruction compiled inside a fusion would skip what the fusion
		 * made of it. The program's own jumps never do (a fusion takes in no jump
		 * target); a latch copy's jump on to the instruction after its condition can,
		 * where a fusion takes that in and latch_cond() does not know the shape: then
		 * the program is compiled again without latch copies.
		 */
		if (!j->own_code[j->fix[i].target_pc])
			return -EAGAIN;

		patch4(j, j->fix[i].at, (uint32_t)(int32_t)((int64_t)target -
							    (int64_t)(j->fix[i].at + 4)));
	}
	return j->oom ? -ENOMEM : 0;
}

static void free_compile_state(struct jit *j)
{
	free(j->buf);
	free(j->pc_off);
	free(j->loop_head);
	free(j->moved);
	free(j->target);
	free(j->own_code);
	free(j->live);
	free(j->fix);
	free(j->stubs);
}

/* compile() from a clean state, with latch copies or without */
static int compile_once(struct jit *j, bool no_latch_copies)
{
	size_t n = j->prog->insn_cnt + 1;

	free_compile_state(j);
	*j = (struct jit){ .checked = j->checked, .sandboxed = j->sandboxed, .gs = j->gs,
			   .bmi2 = j->bmi2, .prog = j->prog, .no_latch_copies = no_latch_copies,
			   .latch_shapes_unchecked = j->latch_shapes_unchecked };
	j->pc_off = calloc(n, sizeof(*j->pc_off));
	j->loop_head = calloc(n, sizeof(*j->loop_head));
	j->moved = calloc(n, sizeof(*j->moved));
	j->target = calloc(n, sizeof(*j->target));
	j->own_code = calloc(n, sizeof(*j->own_code));
	j->live = calloc(n, sizeof(*j->live));
	if (!j->pc_off || !j->loop_head || !j->moved || !j->target || !j->own_code || !j->live)
		return -ENOMEM;
	return compile(j);
}

int ebpf_jit_compile(const struct csd_ebpf_prog *prog, enum jit_mode mode, struct ebpf_jit_code *out)
{
	struct jit j = { .checked = mode == JIT_CHECKED, .sandboxed = mode == JIT_SANDBOXED,
			 .gs = mode == JIT_SANDBOXED && jit_can_use_gs(), .bmi2 = has_bmi2(),
			 .prog = prog,
			 .latch_shapes_unchecked = getenv("CSD_JIT_LATCH_UNCHECKED") != NULL };
	void *code;
	int err;

	for (int attempt = 0; attempt < 2; attempt++) {
		err = compile_once(&j, attempt == 1);
		if (err != -EAGAIN)
			break;
	}
	if (err == -EAGAIN)	/* a jump into a fusion without latch copies: a JIT bug */
		err = -EFAULT;	/* no code rather than wrong code */
	if (err)
		goto out;
	code = mmap(NULL, j.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	memcpy(code, j.buf, j.len);
	if (getenv("CSD_JIT_DUMP")) {	/* objdump -D -b binary -m i386:x86-64 FILE */
		FILE *f = fopen(getenv("CSD_JIT_DUMP"), "wb");

		if (f) {
			fwrite(j.buf, 1, j.len, f);
			fclose(f);
		}
	}
	if (mprotect(code, j.len, PROT_READ | PROT_EXEC)) {
		err = -errno;
		munmap(code, j.len);
		goto out;
	}
	out->size = j.len;
	out->abort_entry = j.abort_entry;
	out->body_start = j.body_start;
	out->gs = j.gs;
	out->pc_off = j.pc_off;		/* to map an interrupted rip back to a pc */
	out->npc = prog->insn_cnt;
	j.pc_off = NULL;
	/* last, released: a run that sees the code without the lock sees the rest too */
	__atomic_store_n(&out->code, code, __ATOMIC_RELEASE);
out:
	free_compile_state(&j);
	return err;
}

void ebpf_jit_free(struct ebpf_jit_code *code)
{
	if (code->code)
		munmap(code->code, code->size);
	free(code->pc_off);
	code->code = NULL;
	code->pc_off = NULL;
	code->size = 0;
}
