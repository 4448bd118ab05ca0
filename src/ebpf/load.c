/* SPDX-License-Identifier: MIT */
/*
 * Loading: every instruction of a program is checked before it may run, so that the
 * interpreter can trust the encoding (it still checks every memory access at run time).
 *
 * Refused, each with a message naming the instruction: unknown opcodes, reserved fields that
 * are not zero (RFC 9669 says they must be), registers above r10, writes to r10, jumps outside
 * the program or into the second slot of a 64-bit immediate load, calls to helpers that do not
 * exist, and programs whose control flow can run off the end (no exit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebpf_internal.h"
#include "jit.h"

void ebpf_logf(char *log, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!log || !size)
		return;
	va_start(ap, fmt);
	vsnprintf(log, size, fmt, ap);
	va_end(ap);
}

struct validator {
	const struct csd_ebpf_insn *insns;
	size_t cnt;
	size_t map_cnt;
	char *log;
	size_t log_size;
};

__attribute__((format(printf, 3, 4)))
static int refuse(const struct validator *v, size_t pc, const char *fmt, ...)
{
	char why[160];
	char text[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* an undecodable instruction still prints, as .8byte */
	csd_ebpf_disasm_insn(&v->insns[pc], v->cnt - pc, text, sizeof(text));
	ebpf_logf(v->log, v->log_size, "instruction %zu (%s): %s", pc, text, why);
	return -EINVAL;
}

static bool is_lddw(const struct csd_ebpf_insn *insn)
{
	return insn->code == BPF_OP_LDDW;
}

static int check_regs(const struct validator *v, size_t pc, bool dst_used, bool src_used)
{
	const struct csd_ebpf_insn *insn = &v->insns[pc];

	if (dst_used && insn->dst_reg >= EBPF_NREGS)
		return refuse(v, pc, "bad register r%u", insn->dst_reg);
	if (src_used && insn->src_reg >= EBPF_NREGS)
		return refuse(v, pc, "bad register r%u", insn->src_reg);
	if (!dst_used && insn->dst_reg)
		return refuse(v, pc, "reserved dst field is %u, must be 0", insn->dst_reg);
	if (!src_used && insn->src_reg)
		return refuse(v, pc, "reserved src field is %u, must be 0", insn->src_reg);
	return 0;
}

static int check_zero_off(const struct validator *v, size_t pc)
{
	if (v->insns[pc].off)
		return refuse(v, pc, "reserved offset field is %d, must be 0", v->insns[pc].off);
	return 0;
}

static int check_zero_imm(const struct validator *v, size_t pc)
{
	if (v->insns[pc].imm)
		return refuse(v, pc, "reserved imm field is %d, must be 0", v->insns[pc].imm);
	return 0;
}

static int check_dst_writable(const struct validator *v, size_t pc)
{
	if (v->insns[pc].dst_reg == EBPF_REG_FP)
		return refuse(v, pc, "writes r10, the read-only frame pointer");
	return 0;
}

static int check_target(const struct validator *v, size_t pc, int64_t target, const char *what)
{
	if (target < 0 || (uint64_t)target >= v->cnt)
		return refuse(v, pc, "%s target %lld is outside the program (0..%zu)", what,
			      (long long)target, v->cnt - 1);
	if (target > 0 && is_lddw(&v->insns[target - 1]))
		return refuse(v, pc, "%s target %lld is the second half of a 64-bit load", what,
			      (long long)target);
	return 0;
}

static int validate_alu(const struct validator *v, size_t pc)
{
	const struct csd_ebpf_insn *insn = &v->insns[pc];
	uint8_t cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);
	bool reg = BPF_SRC(insn->code) == BPF_X;
	int err;

	if (op > BPF_END)
		return refuse(v, pc, "unknown ALU operation 0x%02x", op);
	err = check_dst_writable(v, pc);
	if (err)
		return err;
	switch (op) {
	case BPF_NEG:
		if (reg)
			return refuse(v, pc, "neg takes no source register");
		if ((err = check_regs(v, pc, true, false)) || (err = check_zero_off(v, pc)))
			return err;
		return check_zero_imm(v, pc);
	case BPF_END:
		if (cls == BPF_ALU64 && reg)
			return refuse(v, pc, "unknown opcode 0x%02x", insn->code);
		if ((err = check_regs(v, pc, true, false)) || (err = check_zero_off(v, pc)))
			return err;
		if (insn->imm != 16 && insn->imm != 32 && insn->imm != 64)
			return refuse(v, pc, "byte swap width %d is not 16, 32 or 64", insn->imm);
		return 0;
	case BPF_DIV:
	case BPF_MOD:
		if (insn->off != 0 && insn->off != 1)
			return refuse(v, pc, "offset %d: 0 (unsigned) or 1 (signed) expected",
				      insn->off);
		break;
	case BPF_MOV:
		if (insn->off == 0)
			break;
		if (!reg)
			return refuse(v, pc, "reserved offset field is %d, must be 0", insn->off);
		if (insn->off != 8 && insn->off != 16 && !(insn->off == 32 && cls == BPF_ALU64))
			return refuse(v, pc, "sign-extension width %d is not allowed", insn->off);
		break;
	default:
		if ((err = check_zero_off(v, pc)))
			return err;
	}
	if ((err = check_regs(v, pc, true, reg)))
		return err;
	return reg ? check_zero_imm(v, pc) : 0;
}

static int validate_jmp(const struct validator *v, size_t pc, bool *falls_through)
{
	const struct csd_ebpf_insn *insn = &v->insns[pc];
	uint8_t cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);
	bool reg = BPF_SRC(insn->code) == BPF_X;
	int err;

	switch (op) {
	case BPF_JA:
		*falls_through = false;
		if (reg)
			return refuse(v, pc, "unknown opcode 0x%02x", insn->code);
		if ((err = check_regs(v, pc, false, false)))
			return err;
		if (cls == BPF_JMP32) {	/* gotol: the offset is in imm */
			if ((err = check_zero_off(v, pc)))
				return err;
			return check_target(v, pc, (int64_t)pc + 1 + insn->imm, "jump");
		}
		if ((err = check_zero_imm(v, pc)))
			return err;
		return check_target(v, pc, (int64_t)pc + 1 + insn->off, "jump");
	case BPF_CALL:
		if (cls == BPF_JMP32)
			return refuse(v, pc, "unknown opcode 0x%02x", insn->code);
		if ((err = check_zero_off(v, pc)))
			return err;
		if (reg) {
			/* callx: helper id in a register; LLVM puts it in dst, older binutils in imm */
			if (insn->src_reg)
				return refuse(v, pc, "reserved src field is %u, must be 0",
					      insn->src_reg);
			if (insn->dst_reg == 0 && insn->imm > 0 && insn->imm < EBPF_NREGS)
				return 0;
			if ((err = check_regs(v, pc, true, false)))
				return err;
			return check_zero_imm(v, pc);
		}
		if (insn->dst_reg)
			return refuse(v, pc, "reserved dst field is %u, must be 0", insn->dst_reg);
		if (insn->src_reg == BPF_PSEUDO_CALL)
			return check_target(v, pc, (int64_t)pc + 1 + insn->imm, "call");
		if (insn->src_reg != 0)
			return refuse(v, pc, "call kind %u is not supported (0 helper, 1 local)",
				      insn->src_reg);
		if (!ebpf_helper_lookup(insn->imm))
			return refuse(v, pc, "call to helper %d, which does not exist", insn->imm);
		return 0;
	case BPF_EXIT:
		*falls_through = false;
		if (cls == BPF_JMP32 || reg)
			return refuse(v, pc, "unknown opcode 0x%02x", insn->code);
		if ((err = check_regs(v, pc, false, false)) || (err = check_zero_off(v, pc)))
			return err;
		return check_zero_imm(v, pc);
	case BPF_JEQ: case BPF_JGT: case BPF_JGE: case BPF_JSET: case BPF_JNE:
	case BPF_JSGT: case BPF_JSGE: case BPF_JLT: case BPF_JLE: case BPF_JSLT: case BPF_JSLE:
		if ((err = check_regs(v, pc, true, reg)))
			return err;
		if (reg && (err = check_zero_imm(v, pc)))
			return err;
		return check_target(v, pc, (int64_t)pc + 1 + insn->off, "jump");
	default:
		return refuse(v, pc, "unknown jump operation 0x%02x", op);
	}
}

static int validate_mem(const struct validator *v, size_t pc)
{
	const struct csd_ebpf_insn *insn = &v->insns[pc];
	uint8_t cls = BPF_CLASS(insn->code), mode = BPF_MODE(insn->code);
	uint8_t size = BPF_SIZE(insn->code);
	int err;

	switch (cls) {
	case BPF_LDX:
		if (mode != BPF_MEM && !(mode == BPF_MEMSX && size != BPF_DW))
			return refuse(v, pc, "unknown load opcode 0x%02x", insn->code);
		if ((err = check_regs(v, pc, true, true)) || (err = check_dst_writable(v, pc)))
			return err;
		return check_zero_imm(v, pc);
	case BPF_ST:
		if (mode != BPF_MEM)
			return refuse(v, pc, "unknown store opcode 0x%02x", insn->code);
		return check_regs(v, pc, true, false);
	case BPF_STX:
		if (mode == BPF_MEM) {
			if ((err = check_regs(v, pc, true, true)))
				return err;
			return check_zero_imm(v, pc);
		}
		if (mode != BPF_ATOMIC || (size != BPF_W && size != BPF_DW))
			return refuse(v, pc, "unknown store opcode 0x%02x", insn->code);
		if ((err = check_regs(v, pc, true, true)))
			return err;
		switch (insn->imm) {
		case BPF_ADD: case BPF_OR: case BPF_AND: case BPF_XOR:
			return 0;
		case BPF_ADD | BPF_FETCH: case BPF_OR | BPF_FETCH: case BPF_AND | BPF_FETCH:
		case BPF_XOR | BPF_FETCH: case BPF_XCHG:
			if (insn->src_reg == EBPF_REG_FP)
				return refuse(v, pc, "fetches into r10, the read-only frame pointer");
			return 0;
		case BPF_CMPXCHG:
			return 0;
		default:
			return refuse(v, pc, "unknown atomic operation 0x%x", insn->imm);
		}
	}
	return refuse(v, pc, "unknown opcode 0x%02x", insn->code);
}

static int validate_lddw(const struct validator *v, size_t pc)
{
	const struct csd_ebpf_insn *insn = &v->insns[pc];
	const struct csd_ebpf_insn *next = insn + 1;
	int err;

	if (pc + 1 >= v->cnt)
		return refuse(v, pc, "64-bit load is missing its second slot");
	if (insn->dst_reg >= EBPF_NREGS)
		return refuse(v, pc, "bad register r%u", insn->dst_reg);
	if ((err = check_dst_writable(v, pc)) || (err = check_zero_off(v, pc)))
		return err;
	if (next->code || next->dst_reg || next->src_reg || next->off)
		return refuse(v, pc + 1, "second slot of a 64-bit load must be zero but for imm");
	switch (insn->src_reg) {
	case 0:
		return 0;
	case BPF_PSEUDO_MAP_FD:
	case BPF_PSEUDO_MAP_VALUE:
		if (insn->imm < 0 || (size_t)insn->imm >= v->map_cnt)
			return refuse(v, pc, "map %d does not exist (the program has %zu)",
				      insn->imm, v->map_cnt);
		if (insn->src_reg == BPF_PSEUDO_MAP_FD && next->imm)
			return refuse(v, pc + 1, "map reference with a non-zero offset");
		return 0;
	default:
		return refuse(v, pc, "64-bit load kind %u is not supported", insn->src_reg);
	}
}

#define REG(n)		(1u << (n))
#define ARG_REGS	(REG(1) | REG(2) | REG(3) | REG(4) | REG(5))
#define VISITED		(1u << 16)
#define QUEUED		(1u << 17)

struct read_state {
	uint32_t *in;		/* per pc: registers written on every path here, | VISITED */
	size_t *work;
	size_t nwork;
};

static void flow_to(struct read_state *st, size_t pc, uint32_t mask)
{
	uint32_t old = st->in[pc] & ~QUEUED;
	uint32_t merged = (old & VISITED) ? old & (mask | VISITED) : mask | VISITED;

	if (merged == old)
		return;
	/* a pc is on the work list at most once, so the list never outgrows the program */
	if (!(old & QUEUED))
		st->work[st->nwork++] = pc;
	st->in[pc] = merged | QUEUED;
}

/* Registers one instruction reads (must be written before) and writes (bit n: rn). */
void ebpf_insn_regs(const struct csd_ebpf_insn *insn, uint32_t *reads, uint32_t *writes)
{
	uint8_t cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);
	uint32_t dst = REG(insn->dst_reg), src = REG(insn->src_reg);
	bool x = BPF_SRC(insn->code) == BPF_X;

	*reads = *writes = 0;
	switch (cls) {
	case BPF_ALU:
	case BPF_ALU64:
		*reads = (op == BPF_MOV ? 0 : dst) | (x && op != BPF_END ? src : 0);
		*writes = dst;
		break;
	case BPF_LDX:
		*reads = src;
		*writes = dst;
		break;
	case BPF_ST:
		*reads = dst;
		break;
	case BPF_STX:
		*reads = dst | src;
		if (BPF_MODE(insn->code) == BPF_ATOMIC && insn->imm == BPF_CMPXCHG)
			*reads |= REG(0), *writes = REG(0);
		else if (BPF_MODE(insn->code) == BPF_ATOMIC && (insn->imm & BPF_FETCH))
			*writes = src;
		break;
	case BPF_LD:
		*writes = dst;
		break;
	case BPF_JMP:
	case BPF_JMP32:
		if (op == BPF_EXIT)
			*reads = REG(0);
		else if (op == BPF_CALL && x)
			*reads = insn->dst_reg ? dst : REG(insn->imm);
		else if (op != BPF_JA && op != BPF_CALL)
			*reads = dst | (x ? src : 0);
		break;
	}
}

/*
 * Every register an instruction reads must have been written on every path to it (r1-r5 and
 * r10 are set at entry; a function's entry has r1-r5 as its callers left them; calls clobber
 * r1-r5 and set r0). The kernel's verifier refuses such reads too ("!read_ok"): the value
 * would be whatever the runtime last left in the register.
 */
static int check_register_reads(const struct validator *v)
{
	struct read_state st;
	int err = 0;

	st.in = calloc(v->cnt, sizeof(*st.in));
	st.work = malloc(v->cnt * sizeof(*st.work));
	st.nwork = 0;
	if (!st.in || !st.work) {
		free(st.in);
		free(st.work);
		return -ENOMEM;
	}
	flow_to(&st, 0, ARG_REGS | REG(EBPF_REG_FP));
	while (st.nwork && !err) {
		size_t pc = st.work[--st.nwork];
		const struct csd_ebpf_insn *insn = &v->insns[pc];
		uint32_t in, reads, writes, missing, after;
		uint8_t cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

		st.in[pc] &= ~QUEUED;
		in = st.in[pc] & ~VISITED;
		ebpf_insn_regs(insn, &reads, &writes);
		missing = reads & ~in;
		if (missing) {
			err = refuse(v, pc, "reads r%d before it is written", __builtin_ctz(missing));
			break;
		}
		after = in | writes;
		if (cls == BPF_LD) {
			flow_to(&st, pc + 2, after);
		} else if (cls == BPF_JMP || cls == BPF_JMP32) {
			if (op == BPF_EXIT)
				continue;
			if (op == BPF_CALL) {
				if (insn->src_reg == BPF_PSEUDO_CALL && BPF_SRC(insn->code) == BPF_K)
					flow_to(&st, pc + 1 + insn->imm,
						(in & ARG_REGS) | REG(EBPF_REG_FP));
				flow_to(&st, pc + 1, (in & ~ARG_REGS) | REG(0));
			} else if (op == BPF_JA) {
				flow_to(&st, pc + 1 + (cls == BPF_JMP32 ? insn->imm : insn->off), in);
			} else {
				flow_to(&st, pc + 1, in);
				flow_to(&st, pc + 1 + insn->off, in);
			}
		} else {
			flow_to(&st, pc + 1, after);
		}
	}
	free(st.in);
	free(st.work);
	return err;
}

int ebpf_validate(const struct csd_ebpf_insn *insns, size_t cnt, size_t map_cnt,
		  char *log, size_t log_size)
{
	struct validator v = { insns, cnt, map_cnt, log, log_size };
	bool falls_through = true;
	int err = 0;

	if (cnt == 0) {
		ebpf_logf(log, log_size, "the program has no instructions");
		return -EINVAL;
	}
	if (cnt > CSD_EBPF_MAX_INSNS) {
		ebpf_logf(log, log_size, "the program has %zu instructions, more than %u", cnt,
			  CSD_EBPF_MAX_INSNS);
		return -E2BIG;
	}
	for (size_t pc = 0; pc < cnt && !err; pc++) {
		const struct csd_ebpf_insn *insn = &insns[pc];

		falls_through = true;
		switch (BPF_CLASS(insn->code)) {
		case BPF_ALU:
		case BPF_ALU64:
			err = validate_alu(&v, pc);
			break;
		case BPF_JMP:
		case BPF_JMP32:
			err = validate_jmp(&v, pc, &falls_through);
			break;
		case BPF_LD:
			if (!is_lddw(insn))
				return refuse(&v, pc, "unknown opcode 0x%02x (legacy packet loads "
					      "are not supported)", insn->code);
			err = validate_lddw(&v, pc);
			pc++;
			break;
		default:
			err = validate_mem(&v, pc);
		}
	}
	if (!err && falls_through) {
		ebpf_logf(log, log_size, "instruction %zu: control runs off the end of the program "
			  "(no exit)", cnt - 1);
		return -EINVAL;
	}
	return err ? err : check_register_reads(&v);
}

int ebpf_prog_create(const struct csd_ebpf_insn *insns, size_t cnt, struct ebpf_map *maps,
		     size_t map_cnt, const struct csd_ebpf_load_opts *opts,
		     struct csd_ebpf_prog **out)
{
	char *log = opts ? opts->log_buf : NULL;
	size_t log_size = opts ? opts->log_size : 0;
	struct csd_ebpf_prog *prog;
	int err;

	err = ebpf_validate(insns, cnt, map_cnt, log, log_size);
	if (err)
		return err;
	prog = calloc(1, sizeof(*prog));
	if (!prog)
		return -ENOMEM;
	prog->insns = malloc(cnt * sizeof(*insns));
	if (!prog->insns) {
		free(prog);
		return -ENOMEM;
	}
	memcpy(prog->insns, insns, cnt * sizeof(*insns));
	prog->insn_cnt = cnt;
	prog->stack_bytes = CSD_EBPF_STACK_SIZE;
	for (size_t pc = 0; pc < cnt; pc++)
		if (insns[pc].code == (BPF_JMP | BPF_CALL) && insns[pc].src_reg == BPF_PSEUDO_CALL)
			prog->stack_bytes = CSD_EBPF_MAX_FRAMES * CSD_EBPF_STACK_SIZE;
	prog->maps = maps;
	prog->map_cnt = map_cnt;
	pthread_mutex_init(&prog->log_lock, NULL);
	pthread_mutex_init(&prog->jit_lock, NULL);
	*out = prog;
	return 0;
}

int csd_ebpf_prog__load(const struct csd_ebpf_insn *insns, size_t insn_cnt,
			const struct csd_ebpf_load_opts *opts, struct csd_ebpf_prog **prog)
{
	if (!insns || !prog)
		return -EINVAL;
	return ebpf_prog_create(insns, insn_cnt, NULL, 0, opts, prog);
}

void csd_ebpf_prog__free(struct csd_ebpf_prog *prog)
{
	if (!prog)
		return;
	for (size_t i = 0; i < prog->map_cnt; i++)
		ebpf_map_destroy(&prog->maps[i]);
	free(prog->maps);
	free(prog->insns);
	free(prog->lines);
	free(prog->guard);
	pthread_mutex_destroy(&prog->log_lock);
	pthread_mutex_destroy(&prog->jit_lock);
#ifdef CSD_EBPF_HAVE_JIT
	for (int m = 0; m < EBPF_JIT_MODES; m++)
		ebpf_jit_free(&prog->jit[m]);
#endif
	free(prog);
}

const struct csd_ebpf_insn *csd_ebpf_prog__insns(const struct csd_ebpf_prog *prog, size_t *cnt)
{
	*cnt = prog->insn_cnt;
	return prog->insns;
}

bool ebpf_source_line(const struct csd_ebpf_prog *prog, uint32_t pc, char *buf, size_t size)
{
	size_t lo = 0, hi = prog->nlines;

	if (!prog->nlines || prog->lines[0].pc > pc)
		return false;
	while (hi - lo > 1) {	/* the last line starting at or before pc */
		size_t mid = (lo + hi) / 2;

		if (prog->lines[mid].pc <= pc)
			lo = mid;
		else
			hi = mid;
	}
	snprintf(buf, size, "%s:%u", prog->lines[lo].file, prog->lines[lo].line);
	return true;
}
