/* SPDX-License-Identifier: MIT */
/*
 * The interpreter's loop, included by interp.c: every load and store is checked against the
 * run's regions, for verified programs too (a wrong proof then cannot reach other memory).
 */
static int INTERP_FN(struct csd_ebpf_prog *prog, void *mem, size_t len,
		     struct csd_ebpf_run_opts *opts, uint64_t *ret)
{
	CSD_EBPF_OPTS(csd_ebpf_run_opts, default_opts);
	/*
	 * 16 bytes, no more: the soundness oracle and the fuzzers tell an address-dependent
	 * program by running it with the stack deeper, which a coarser alignment rounds away
	 */
	uint8_t stack[CSD_EBPF_MAX_FRAMES * CSD_EBPF_STACK_SIZE] __attribute__((aligned(16)));
	struct frame frames[CSD_EBPF_MAX_FRAMES];
	const struct csd_ebpf_insn *const insns = prog->insns;
	const struct csd_ebpf_insn *ip = insns;
	struct ebpf_run run = { .prog = prog };
	uint64_t reg[EBPF_NREGS] = { 0 };
	uint64_t budget, left, mem_start, stack_start, stack_size, addr;
	uint32_t chunk;
	unsigned depth = 0;
	ebpf_helper_fn helper;

	if (!opts)
		opts = &default_opts;
	run.opts = opts;
	opts->insns_executed = 0;
	memset(&opts->fault, 0, sizeof(opts->fault));
	if (!mem)
		len = 0;

	/* the stack it may use (prog->stack_bytes) at the top, where r10 starts */
	stack_size = prog->stack_bytes;
	stack_start = (uint64_t)(uintptr_t)stack + sizeof(stack) - stack_size;
	memset((void *)(uintptr_t)stack_start, 0, stack_size);
	ebpf_run_set_regions(&run, mem, len, (void *)(uintptr_t)stack_start, stack_size);
	mem_start = (uint64_t)(uintptr_t)mem;

	budget = opts->budget ? opts->budget : CSD_EBPF_DEFAULT_BUDGET;
	chunk = budget < BUDGET_CHUNK ? (uint32_t)budget : BUDGET_CHUNK;
	left = budget - chunk;

	reg[1] = mem_start;
	reg[2] = len;
	reg[3] = opts->args[0];
	reg[4] = opts->args[1];
	reg[5] = opts->args[2];
	reg[10] = (uint64_t)(uintptr_t)(stack + sizeof(stack));

#define DST	reg[ip->dst_reg]
#define SRC	reg[ip->src_reg]
#define IMM64	((uint64_t)(int64_t)ip->imm)
#define IMM32	((uint32_t)ip->imm)
#define NEXT	do { ip++; goto dispatch; } while (0)
#define JUMP_IF(cond) do { ip += (cond) ? ip->off + 1 : 1; goto dispatch; } while (0)

	/* Memory access: the input and the stack are tried first, inline; maps after. */
#define MEM_CHECK(BASE, sz, write) do {					\
		addr = (BASE) + ip->off;					\
		if (!(addr - mem_start < len && (sz) <= len - (addr - mem_start) &&	\
		      (!(write) || !opts->mem_readonly)) &&			\
		    !(addr - stack_start < stack_size &&			\
		      (sz) <= stack_size - (addr - stack_start)) &&		\
		    !ebpf_region_check(&run, addr, (sz), (write)))		\
			goto mem_fault;						\
	} while (0)
#define LOAD(T, sz, EXT) do {							\
		T v_;								\
		MEM_CHECK(SRC, sz, false);					\
		memcpy(&v_, (const void *)(uintptr_t)addr, sz);			\
		DST = (uint64_t)(EXT)v_;					\
		NEXT;								\
	} while (0)
#define STORE(T, sz, VAL) do {							\
		T v_ = (T)(VAL);						\
		MEM_CHECK(DST, sz, true);					\
		memcpy((void *)(uintptr_t)addr, &v_, sz);			\
		NEXT;								\
	} while (0)

#define ALU_ENTRIES(CLS, NAME)							\
	[CLS | BPF_ADD | BPF_K] = &&NAME##_add_k, [CLS | BPF_ADD | BPF_X] = &&NAME##_add_x, \
	[CLS | BPF_SUB | BPF_K] = &&NAME##_sub_k, [CLS | BPF_SUB | BPF_X] = &&NAME##_sub_x, \
	[CLS | BPF_MUL | BPF_K] = &&NAME##_mul_k, [CLS | BPF_MUL | BPF_X] = &&NAME##_mul_x, \
	[CLS | BPF_DIV | BPF_K] = &&NAME##_div_k, [CLS | BPF_DIV | BPF_X] = &&NAME##_div_x, \
	[CLS | BPF_OR | BPF_K] = &&NAME##_or_k, [CLS | BPF_OR | BPF_X] = &&NAME##_or_x, \
	[CLS | BPF_AND | BPF_K] = &&NAME##_and_k, [CLS | BPF_AND | BPF_X] = &&NAME##_and_x, \
	[CLS | BPF_LSH | BPF_K] = &&NAME##_lsh_k, [CLS | BPF_LSH | BPF_X] = &&NAME##_lsh_x, \
	[CLS | BPF_RSH | BPF_K] = &&NAME##_rsh_k, [CLS | BPF_RSH | BPF_X] = &&NAME##_rsh_x, \
	[CLS | BPF_NEG | BPF_K] = &&NAME##_neg,					\
	[CLS | BPF_MOD | BPF_K] = &&NAME##_mod_k, [CLS | BPF_MOD | BPF_X] = &&NAME##_mod_x, \
	[CLS | BPF_XOR | BPF_K] = &&NAME##_xor_k, [CLS | BPF_XOR | BPF_X] = &&NAME##_xor_x, \
	[CLS | BPF_MOV | BPF_K] = &&NAME##_mov_k, [CLS | BPF_MOV | BPF_X] = &&NAME##_mov_x, \
	[CLS | BPF_ARSH | BPF_K] = &&NAME##_arsh_k, [CLS | BPF_ARSH | BPF_X] = &&NAME##_arsh_x
#define JMP_ENTRIES(CLS, NAME)							\
	[CLS | BPF_JEQ | BPF_K] = &&NAME##_jeq_k, [CLS | BPF_JEQ | BPF_X] = &&NAME##_jeq_x, \
	[CLS | BPF_JGT | BPF_K] = &&NAME##_jgt_k, [CLS | BPF_JGT | BPF_X] = &&NAME##_jgt_x, \
	[CLS | BPF_JGE | BPF_K] = &&NAME##_jge_k, [CLS | BPF_JGE | BPF_X] = &&NAME##_jge_x, \
	[CLS | BPF_JSET | BPF_K] = &&NAME##_jset_k, [CLS | BPF_JSET | BPF_X] = &&NAME##_jset_x, \
	[CLS | BPF_JNE | BPF_K] = &&NAME##_jne_k, [CLS | BPF_JNE | BPF_X] = &&NAME##_jne_x, \
	[CLS | BPF_JSGT | BPF_K] = &&NAME##_jsgt_k, [CLS | BPF_JSGT | BPF_X] = &&NAME##_jsgt_x, \
	[CLS | BPF_JSGE | BPF_K] = &&NAME##_jsge_k, [CLS | BPF_JSGE | BPF_X] = &&NAME##_jsge_x, \
	[CLS | BPF_JLT | BPF_K] = &&NAME##_jlt_k, [CLS | BPF_JLT | BPF_X] = &&NAME##_jlt_x, \
	[CLS | BPF_JLE | BPF_K] = &&NAME##_jle_k, [CLS | BPF_JLE | BPF_X] = &&NAME##_jle_x, \
	[CLS | BPF_JSLT | BPF_K] = &&NAME##_jslt_k, [CLS | BPF_JSLT | BPF_X] = &&NAME##_jslt_x, \
	[CLS | BPF_JSLE | BPF_K] = &&NAME##_jsle_k, [CLS | BPF_JSLE | BPF_X] = &&NAME##_jsle_x

	/* every opcode first points at bad_opcode, then the valid ones are overridden */
#pragma GCC diagnostic push
#ifdef __clang__
#pragma GCC diagnostic ignored "-Winitializer-overrides"
#else
#pragma GCC diagnostic ignored "-Woverride-init"
#endif
	static const void *const dispatch_table[256] = {
		[0 ... 255] = &&bad_opcode,
		ALU_ENTRIES(BPF_ALU64, a64),
		ALU_ENTRIES(BPF_ALU, a32),
		[BPF_ALU | BPF_END | BPF_TO_LE] = &&a32_le,
		[BPF_ALU | BPF_END | BPF_TO_BE] = &&a32_be,
		[BPF_OP_END_BSWAP] = &&a64_bswap,
		JMP_ENTRIES(BPF_JMP, j64),
		JMP_ENTRIES(BPF_JMP32, j32),
		[BPF_JMP | BPF_JA] = &&ja,
		[BPF_JMP32 | BPF_JA] = &&gotol,
		[BPF_JMP | BPF_CALL] = &&call,
		[BPF_OP_CALLX] = &&callx,
		[BPF_JMP | BPF_EXIT] = &&exit,
		[BPF_OP_LDDW] = &&lddw,
		[BPF_LDX | BPF_MEM | BPF_B] = &&ldxb, [BPF_LDX | BPF_MEM | BPF_H] = &&ldxh,
		[BPF_LDX | BPF_MEM | BPF_W] = &&ldxw, [BPF_LDX | BPF_MEM | BPF_DW] = &&ldxdw,
		[BPF_LDX | BPF_MEMSX | BPF_B] = &&ldxsb, [BPF_LDX | BPF_MEMSX | BPF_H] = &&ldxsh,
		[BPF_LDX | BPF_MEMSX | BPF_W] = &&ldxsw,
		[BPF_ST | BPF_MEM | BPF_B] = &&stb, [BPF_ST | BPF_MEM | BPF_H] = &&sth,
		[BPF_ST | BPF_MEM | BPF_W] = &&stw, [BPF_ST | BPF_MEM | BPF_DW] = &&stdw,
		[BPF_STX | BPF_MEM | BPF_B] = &&stxb, [BPF_STX | BPF_MEM | BPF_H] = &&stxh,
		[BPF_STX | BPF_MEM | BPF_W] = &&stxw, [BPF_STX | BPF_MEM | BPF_DW] = &&stxdw,
		[BPF_STX | BPF_ATOMIC | BPF_W] = &&atomic32,
		[BPF_STX | BPF_ATOMIC | BPF_DW] = &&atomic64,
	};
#pragma GCC diagnostic pop

dispatch:
	if (unlikely(chunk == 0))
		goto refill;
	chunk--;
	goto *dispatch_table[ip->code];

refill:
	/* the instruction at ip has not run yet; executed so far = budget - left - chunk */
	if (opts->abort && *opts->abort) {
		run.pc = (uint32_t)(ip - insns);
		ebpf_run_fault(&run, CSD_EBPF_FAULT_ABORTED, 0, 0, "run aborted");
		goto fault_out;
	}
	if (left == 0) {
		run.pc = (uint32_t)(ip - insns);
		ebpf_run_fault(&run, CSD_EBPF_FAULT_BUDGET, 0, 0,
			       "instruction budget of %llu used up", (unsigned long long)budget);
		goto fault_out;
	}
	chunk = left < BUDGET_CHUNK ? (uint32_t)left : BUDGET_CHUNK;
	left -= chunk;
	goto dispatch;

	/* ALU64 */
a64_add_k: DST += IMM64; NEXT;
a64_add_x: DST += SRC; NEXT;
a64_sub_k: DST -= IMM64; NEXT;
a64_sub_x: DST -= SRC; NEXT;
a64_mul_k: DST *= IMM64; NEXT;
a64_mul_x: DST *= SRC; NEXT;
a64_div_k:
	if (ip->off)
		DST = sdiv64((int64_t)DST, ip->imm);
	else
		DST = IMM64 ? DST / IMM64 : 0;
	NEXT;
a64_div_x:
	if (ip->off)
		DST = sdiv64((int64_t)DST, (int64_t)SRC);
	else
		DST = SRC ? DST / SRC : 0;
	NEXT;
a64_mod_k:
	if (ip->off)
		DST = smod64((int64_t)DST, ip->imm);
	else
		DST = IMM64 ? DST % IMM64 : DST;
	NEXT;
a64_mod_x:
	if (ip->off)
		DST = smod64((int64_t)DST, (int64_t)SRC);
	else
		DST = SRC ? DST % SRC : DST;
	NEXT;
a64_or_k: DST |= IMM64; NEXT;
a64_or_x: DST |= SRC; NEXT;
a64_and_k: DST &= IMM64; NEXT;
a64_and_x: DST &= SRC; NEXT;
a64_xor_k: DST ^= IMM64; NEXT;
a64_xor_x: DST ^= SRC; NEXT;
a64_lsh_k: DST <<= (ip->imm & 63); NEXT;
a64_lsh_x: DST <<= (SRC & 63); NEXT;
a64_rsh_k: DST >>= (ip->imm & 63); NEXT;
a64_rsh_x: DST >>= (SRC & 63); NEXT;
a64_arsh_k: DST = (uint64_t)((int64_t)DST >> (ip->imm & 63)); NEXT;
a64_arsh_x: DST = (uint64_t)((int64_t)DST >> (SRC & 63)); NEXT;
a64_neg: DST = -DST; NEXT;
a64_mov_k: DST = IMM64; NEXT;
a64_mov_x:
	DST = ip->off ? (uint64_t)sext(SRC, ip->off) : SRC;
	NEXT;
a64_bswap: DST = bswap_width(DST, ip->imm); NEXT;

	/* ALU32: operate on the low halves, zero the upper half */
#define A32(EXPR) do { DST = (uint32_t)(EXPR); NEXT; } while (0)
a32_add_k: A32((uint32_t)DST + IMM32);
a32_add_x: A32((uint32_t)DST + (uint32_t)SRC);
a32_sub_k: A32((uint32_t)DST - IMM32);
a32_sub_x: A32((uint32_t)DST - (uint32_t)SRC);
a32_mul_k: A32((uint32_t)DST * IMM32);
a32_mul_x: A32((uint32_t)DST * (uint32_t)SRC);
a32_div_k:
	if (ip->off)
		A32(sdiv32((int32_t)DST, ip->imm));
	A32(IMM32 ? (uint32_t)DST / IMM32 : 0);
a32_div_x:
	if (ip->off)
		A32(sdiv32((int32_t)DST, (int32_t)SRC));
	A32((uint32_t)SRC ? (uint32_t)DST / (uint32_t)SRC : 0);
a32_mod_k:
	if (ip->off)
		A32(smod32((int32_t)DST, ip->imm));
	A32(IMM32 ? (uint32_t)DST % IMM32 : (uint32_t)DST);
a32_mod_x:
	if (ip->off)
		A32(smod32((int32_t)DST, (int32_t)SRC));
	A32((uint32_t)SRC ? (uint32_t)DST % (uint32_t)SRC : (uint32_t)DST);
a32_or_k: A32((uint32_t)DST | IMM32);
a32_or_x: A32((uint32_t)DST | (uint32_t)SRC);
a32_and_k: A32((uint32_t)DST & IMM32);
a32_and_x: A32((uint32_t)DST & (uint32_t)SRC);
a32_xor_k: A32((uint32_t)DST ^ IMM32);
a32_xor_x: A32((uint32_t)DST ^ (uint32_t)SRC);
a32_lsh_k: A32((uint32_t)DST << (ip->imm & 31));
a32_lsh_x: A32((uint32_t)DST << (SRC & 31));
a32_rsh_k: A32((uint32_t)DST >> (ip->imm & 31));
a32_rsh_x: A32((uint32_t)DST >> (SRC & 31));
a32_arsh_k: A32((uint32_t)((int32_t)DST >> (ip->imm & 31)));
a32_arsh_x: A32((uint32_t)((int32_t)DST >> (SRC & 31)));
a32_neg: A32(-(uint32_t)DST);
a32_mov_k: A32(IMM32);
a32_mov_x: A32(ip->off ? (uint32_t)sext(SRC, ip->off) : (uint32_t)SRC);
a32_le: DST = truncate_width(DST, ip->imm); NEXT;	/* the host is little-endian */
a32_be: DST = bswap_width(DST, ip->imm); NEXT;

	/* Jumps: 64-bit compare whole registers (imm sign-extended), 32-bit the low halves */
#define JMP_PAIR(NAME, OP, T)							\
j64_##NAME##_k: JUMP_IF((T)DST OP (T)IMM64);				\
j64_##NAME##_x: JUMP_IF((T)DST OP (T)SRC);
#define JMP32_PAIR(NAME, OP, T)							\
j32_##NAME##_k: JUMP_IF((T)(uint32_t)DST OP (T)IMM32);			\
j32_##NAME##_x: JUMP_IF((T)(uint32_t)DST OP (T)(uint32_t)SRC);
	JMP_PAIR(jeq, ==, uint64_t)
	JMP_PAIR(jne, !=, uint64_t)
	JMP_PAIR(jgt, >, uint64_t)
	JMP_PAIR(jge, >=, uint64_t)
	JMP_PAIR(jlt, <, uint64_t)
	JMP_PAIR(jle, <=, uint64_t)
	JMP_PAIR(jsgt, >, int64_t)
	JMP_PAIR(jsge, >=, int64_t)
	JMP_PAIR(jslt, <, int64_t)
	JMP_PAIR(jsle, <=, int64_t)
j64_jset_k: JUMP_IF(DST & IMM64);
j64_jset_x: JUMP_IF(DST & SRC);
	JMP32_PAIR(jeq, ==, uint32_t)
	JMP32_PAIR(jne, !=, uint32_t)
	JMP32_PAIR(jgt, >, uint32_t)
	JMP32_PAIR(jge, >=, uint32_t)
	JMP32_PAIR(jlt, <, uint32_t)
	JMP32_PAIR(jle, <=, uint32_t)
	JMP32_PAIR(jsgt, >, int32_t)
	JMP32_PAIR(jsge, >=, int32_t)
	JMP32_PAIR(jslt, <, int32_t)
	JMP32_PAIR(jsle, <=, int32_t)
j32_jset_k: JUMP_IF((uint32_t)DST & IMM32);
j32_jset_x: JUMP_IF((uint32_t)DST & (uint32_t)SRC);
ja: ip += ip->off + 1; goto dispatch;
gotol: ip += ip->imm + 1; goto dispatch;

	/* Memory */
ldxb: LOAD(uint8_t, 1, uint8_t);
ldxh: LOAD(uint16_t, 2, uint16_t);
ldxw: LOAD(uint32_t, 4, uint32_t);
ldxdw: LOAD(uint64_t, 8, uint64_t);
ldxsb: LOAD(int8_t, 1, int64_t);
ldxsh: LOAD(int16_t, 2, int64_t);
ldxsw: LOAD(int32_t, 4, int64_t);
stb: STORE(uint8_t, 1, ip->imm);
sth: STORE(uint16_t, 2, ip->imm);
stw: STORE(uint32_t, 4, ip->imm);
stdw: STORE(uint64_t, 8, IMM64);
stxb: STORE(uint8_t, 1, SRC);
stxh: STORE(uint16_t, 2, SRC);
stxw: STORE(uint32_t, 4, SRC);
stxdw: STORE(uint64_t, 8, SRC);

atomic32: {
	uint32_t *p, old;

	MEM_CHECK(DST, 4, true);
	if (addr & 3)
		goto misaligned;
	p = (uint32_t *)(uintptr_t)addr;
	switch (ip->imm) {
	case BPF_ADD: __atomic_fetch_add(p, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_OR: __atomic_fetch_or(p, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_AND: __atomic_fetch_and(p, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_XOR: __atomic_fetch_xor(p, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_ADD | BPF_FETCH: SRC = __atomic_fetch_add(p, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_OR | BPF_FETCH: SRC = __atomic_fetch_or(p, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_AND | BPF_FETCH: SRC = __atomic_fetch_and(p, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_XOR | BPF_FETCH: SRC = __atomic_fetch_xor(p, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_XCHG: SRC = __atomic_exchange_n(p, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_CMPXCHG:
		old = (uint32_t)reg[0];
		__atomic_compare_exchange_n(p, &old, (uint32_t)SRC, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
		reg[0] = old;
		NEXT;
	}
	goto bad_opcode;
}
atomic64: {
	uint64_t *p, old;

	MEM_CHECK(DST, 8, true);
	if (addr & 7)
		goto misaligned;
	p = (uint64_t *)(uintptr_t)addr;
	switch (ip->imm) {
	case BPF_ADD: __atomic_fetch_add(p, SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_OR: __atomic_fetch_or(p, SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_AND: __atomic_fetch_and(p, SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_XOR: __atomic_fetch_xor(p, SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_ADD | BPF_FETCH: SRC = __atomic_fetch_add(p, SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_OR | BPF_FETCH: SRC = __atomic_fetch_or(p, SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_AND | BPF_FETCH: SRC = __atomic_fetch_and(p, SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_XOR | BPF_FETCH: SRC = __atomic_fetch_xor(p, SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_XCHG: SRC = __atomic_exchange_n(p, SRC, __ATOMIC_SEQ_CST); NEXT;
	case BPF_CMPXCHG:
		old = reg[0];
		__atomic_compare_exchange_n(p, &old, SRC, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
		reg[0] = old;
		NEXT;
	}
	goto bad_opcode;
}

lddw: {
	const struct csd_ebpf_insn *next = ip + 1;

	switch (ip->src_reg) {
	case BPF_PSEUDO_MAP_FD:
		DST = EBPF_MAP_TOKEN(ip->imm);
		break;
	case BPF_PSEUDO_MAP_VALUE:
		DST = (uint64_t)(uintptr_t)prog->maps[ip->imm].values + (uint32_t)next->imm;
		break;
	default:
		DST = (uint32_t)ip->imm | ((uint64_t)(uint32_t)next->imm << 32);
	}
	ip += 2;
	goto dispatch;
}

call:
	if (ip->src_reg == BPF_PSEUDO_CALL) {
		if (depth + 1 >= CSD_EBPF_MAX_FRAMES) {
			run.pc = (uint32_t)(ip - insns);
			ebpf_run_fault(&run, CSD_EBPF_FAULT_CALL_DEPTH, 0, 0,
				       "more than %d nested calls", CSD_EBPF_MAX_FRAMES - 1);
			goto fault_out;
		}
		frames[depth].ret = ip + 1;
		memcpy(frames[depth].saved, &reg[6], sizeof(frames[depth].saved));
		frames[depth].fp = reg[10];
		depth++;
		reg[10] -= CSD_EBPF_STACK_SIZE;
		ip += ip->imm + 1;
		goto dispatch;
	}
	helper = ebpf_helper_lookup(ip->imm);	/* the loader made sure it exists */
	goto call_helper;
callx: {
	unsigned r = ip->dst_reg ? ip->dst_reg : (unsigned)ip->imm;

	helper = ebpf_helper_lookup((int64_t)reg[r]);
	if (!helper) {
		run.pc = (uint32_t)(ip - insns);
		ebpf_run_fault(&run, CSD_EBPF_FAULT_HELPER, 0, 0,
			       "callx to helper %lld, which does not exist",
			       (long long)reg[r]);
		goto fault_out;
	}
}
call_helper:
	run.pc = (uint32_t)(ip - insns);
	reg[0] = helper(&run, reg[1], reg[2], reg[3], reg[4], reg[5]);
	if (unlikely(run.faulted))
		goto fault_out;
	/* r1-r5 are dead after a call: leave nothing (a pointer argument) for a later read */
	memset(&reg[1], 0, 5 * sizeof(reg[1]));
	NEXT;

exit:
	if (depth == 0)
		goto done;
	depth--;
	ip = frames[depth].ret;
	memcpy(&reg[6], frames[depth].saved, sizeof(frames[depth].saved));
	reg[10] = frames[depth].fp;
	goto dispatch;

misaligned:
	run.pc = (uint32_t)(ip - insns);
	ebpf_run_fault(&run, CSD_EBPF_FAULT_MEMORY, addr, 0,
		       "atomic access at 0x%llx is not naturally aligned",
		       (unsigned long long)addr);
	goto fault_out;

mem_fault: {
	/* BPF_SIZE: W=0x00 (4), H=0x08 (2), B=0x10 (1), DW=0x18 (8) */
	static const unsigned sizes[4] = { 4, 2, 1, 8 };
	unsigned size = sizes[BPF_SIZE(ip->code) >> 3];
	bool write = BPF_CLASS(ip->code) != BPF_LDX;

	run.pc = (uint32_t)(ip - insns);
	ebpf_run_fault(&run, CSD_EBPF_FAULT_MEMORY, addr, size,
		       "%u-byte %s at 0x%llx is outside the program's memory%s", size,
		       write ? "write" : "read", (unsigned long long)addr,
		       ebpf_region_check(&run, addr, size, false) ? " (read-only region)" : "");
	goto fault_out;
}

bad_opcode:
	/* unreachable for loaded programs; kept so that a table hole can never jump astray */
	run.pc = (uint32_t)(ip - insns);
	ebpf_run_fault(&run, CSD_EBPF_FAULT_HELPER, 0, 0, "unknown opcode 0x%02x", ip->code);
	goto fault_out;

done:
	opts->insns_executed = budget - left - chunk;
	if (ret)
		*ret = reg[0];
	return 0;

fault_out:
	opts->insns_executed = budget - left - chunk;
	if (ret)
		*ret = 0;
	return ebpf_fault_errno(opts->fault.kind);
}

#undef DST
#undef SRC
#undef IMM64
#undef IMM32
#undef NEXT
#undef JUMP_IF
#undef MEM_CHECK
#undef LOAD
#undef STORE
#undef ALU_ENTRIES
#undef JMP_ENTRIES
#undef A32
#undef JMP_PAIR
#undef JMP32_PAIR
