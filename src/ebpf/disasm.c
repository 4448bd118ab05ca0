/* SPDX-License-Identifier: MIT */
/*
 * Disassembler into the bpf_conformance text syntax: its output assembles back to the same
 * bytes (jump targets are printed as +/-offsets, lddw immediates in hex).
 */
#include <errno.h>
#include <stdio.h>

#include "ebpf_internal.h"
#include "isa_names.h"

static const char *name_of(const struct isa_name *table, uint8_t op, int16_t off)
{
	for (; table->name; table++)
		if (table->op == op && table->off == off)
			return table->name;
	return NULL;
}

static int undecodable(const struct csd_ebpf_insn *insn, char *buf, size_t size)
{
	uint64_t raw;

	__builtin_memcpy(&raw, insn, sizeof(raw));
	snprintf(buf, size, ".8byte 0x%016llx", (unsigned long long)raw);
	return -EINVAL;
}

static int disasm_alu(const struct csd_ebpf_insn *insn, char *buf, size_t size)
{
	bool is32 = BPF_CLASS(insn->code) == BPF_ALU;
	uint8_t op = BPF_OP(insn->code);
	const char *sfx = is32 ? "32" : "";
	const char *name;

	if (op == BPF_END) {
		const char *kind = !is32 ? "swap" : BPF_SRC(insn->code) ? "be" : "le";

		snprintf(buf, size, "%s%d %%r%u", kind, insn->imm, insn->dst_reg);
		return 1;
	}
	if (op == BPF_MOV && insn->off) {
		snprintf(buf, size, "movsx%d%s %%r%u, %%r%u", insn->off, is32 ? "32" : "64",
			 insn->dst_reg, insn->src_reg);
		return 1;
	}
	name = name_of(isa_alu_ops, op, (op == BPF_DIV || op == BPF_MOD) ? insn->off : 0);
	if (!name)
		return undecodable(insn, buf, size);
	if (op == BPF_NEG)
		snprintf(buf, size, "%s%s %%r%u", name, sfx, insn->dst_reg);
	else if (BPF_SRC(insn->code) == BPF_X)
		snprintf(buf, size, "%s%s %%r%u, %%r%u", name, sfx, insn->dst_reg, insn->src_reg);
	else
		snprintf(buf, size, "%s%s %%r%u, %d", name, sfx, insn->dst_reg, insn->imm);
	return 1;
}

static int disasm_jmp(const struct csd_ebpf_insn *insn, char *buf, size_t size)
{
	bool is32 = BPF_CLASS(insn->code) == BPF_JMP32;
	uint8_t op = BPF_OP(insn->code);
	const char *name;

	switch (op) {
	case BPF_JA:
		if (is32)
			snprintf(buf, size, "ja32 %+d", insn->imm);
		else
			snprintf(buf, size, "ja %+d", insn->off);
		return 1;
	case BPF_EXIT:
		snprintf(buf, size, "exit");
		return 1;
	case BPF_CALL:
		if (BPF_SRC(insn->code) == BPF_X)
			snprintf(buf, size, "call %%r%u",
				 insn->dst_reg ? insn->dst_reg : (unsigned)insn->imm);
		else if (insn->src_reg == BPF_PSEUDO_CALL)
			snprintf(buf, size, "call local %+d", insn->imm);
		else
			snprintf(buf, size, "call %d", insn->imm);
		return 1;
	}
	name = name_of(isa_jmp_ops, op, 0);
	if (!name)
		return undecodable(insn, buf, size);
	if (BPF_SRC(insn->code) == BPF_X)
		snprintf(buf, size, "%s%s %%r%u, %%r%u, %+d", name, is32 ? "32" : "", insn->dst_reg,
			 insn->src_reg, insn->off);
	else
		snprintf(buf, size, "%s%s %%r%u, %d, %+d", name, is32 ? "32" : "", insn->dst_reg,
			 insn->imm, insn->off);
	return 1;
}

static int disasm_mem(const struct csd_ebpf_insn *insn, char *buf, size_t size)
{
	const char *sz = isa_size_suffix[BPF_SIZE(insn->code) >> 3];
	const char *name;

	switch (BPF_CLASS(insn->code)) {
	case BPF_LDX:
		snprintf(buf, size, "ldx%s%s %%r%u, [%%r%u%+d]",
			 BPF_MODE(insn->code) == BPF_MEMSX ? "s" : "", sz, insn->dst_reg,
			 insn->src_reg, insn->off);
		return 1;
	case BPF_ST:
		snprintf(buf, size, "st%s [%%r%u%+d], %d", sz, insn->dst_reg, insn->off, insn->imm);
		return 1;
	case BPF_STX:
		if (BPF_MODE(insn->code) == BPF_MEM) {
			snprintf(buf, size, "stx%s [%%r%u%+d], %%r%u", sz, insn->dst_reg, insn->off,
				 insn->src_reg);
			return 1;
		}
		name = name_of(isa_atomic_ops, (uint8_t)(insn->imm & ~BPF_FETCH), 0);
		if (!name || insn->imm == BPF_XCHG || insn->imm == BPF_CMPXCHG)
			name = name_of(isa_atomic_ops, (uint8_t)insn->imm, 0);
		if (!name || (uint32_t)insn->imm > 0xff)
			return undecodable(insn, buf, size);
		snprintf(buf, size, "lock %s%s%s [%%r%u%+d], %%r%u",
			 (insn->imm & BPF_FETCH) && insn->imm != BPF_XCHG &&
					 insn->imm != BPF_CMPXCHG ? "fetch " : "",
			 name, BPF_SIZE(insn->code) == BPF_W ? "32" : "", insn->dst_reg, insn->off,
			 insn->src_reg);
		return 1;
	}
	return undecodable(insn, buf, size);
}

int csd_ebpf_disasm_insn(const struct csd_ebpf_insn *insns, size_t remaining, char *buf,
			 size_t size)
{
	const struct csd_ebpf_insn *insn = insns;

	if (!remaining)
		return -EINVAL;
	switch (BPF_CLASS(insn->code)) {
	case BPF_ALU:
	case BPF_ALU64:
		return disasm_alu(insn, buf, size);
	case BPF_JMP:
	case BPF_JMP32:
		return disasm_jmp(insn, buf, size);
	case BPF_LD:
		if (insn->code != BPF_OP_LDDW || remaining < 2)
			return undecodable(insn, buf, size);
		if (insn->src_reg == BPF_PSEUDO_MAP_FD)
			snprintf(buf, size, "lddw %%r%u, map[%d]", insn->dst_reg, insn->imm);
		else if (insn->src_reg == BPF_PSEUDO_MAP_VALUE)
			snprintf(buf, size, "lddw %%r%u, map[%d]+%u", insn->dst_reg, insn->imm,
				 (uint32_t)insns[1].imm);
		else
			snprintf(buf, size, "lddw %%r%u, 0x%llx", insn->dst_reg,
				 (unsigned long long)((uint32_t)insn->imm |
						      (uint64_t)(uint32_t)insns[1].imm << 32));
		return 2;
	default:
		return disasm_mem(insn, buf, size);
	}
}
