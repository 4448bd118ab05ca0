/* SPDX-License-Identifier: MIT */
/*
 * Assembler for the bpf_conformance text syntax: one instruction a line, `%rN` registers,
 * `[%rN+off]` memory operands, `name:` labels, `#` comments. It never guesses: a number out of
 * range for its field, an unknown mnemonic or register, a missing operand or label is an error
 * that names the line. As in the reference assembler, a jump to `exit` with no label of that
 * name goes to the first exit instruction.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebpf_internal.h"
#include "isa_names.h"

#define MAX_TOKENS	8
#define MAX_LABEL	64

struct label {
	char name[MAX_LABEL];
	size_t pc;
};

struct fixup {
	char label[MAX_LABEL];
	size_t pc;
	size_t lineno;
	bool in_imm;	/* ja32 and local calls carry the offset in imm */
};

struct assembler {
	struct csd_ebpf_insn *insns;
	size_t cnt, cap;
	struct label *labels;
	size_t nlabels, labels_cap;
	struct fixup *fixups;
	size_t nfixups, fixups_cap;
	size_t first_exit;	/* pc of the first exit: the label `exit` unless one is defined */
	size_t lineno;
	char *err;
	size_t err_size;
};

__attribute__((format(printf, 2, 3)))
static int asm_error(struct assembler *a, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ebpf_logf(a->err, a->err_size, "line %zu: %s", a->lineno, msg);
	return -EINVAL;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	void *n;

	if (need <= *cap)
		return 0;
	n = realloc(*p, (need * 2) * elem);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = need * 2;
	return 0;
}

static struct csd_ebpf_insn *emit(struct assembler *a)
{
	if (grow((void **)&a->insns, &a->cap, a->cnt + 1, sizeof(*a->insns)))
		return NULL;
	memset(&a->insns[a->cnt], 0, sizeof(*a->insns));
	return &a->insns[a->cnt++];
}

/*
 * A number: optional sign, then decimal or 0x hex. Decimal must lie in [min, max]; hex
 * magnitudes up to hex_max are taken as bit patterns (0xffffff80 is a valid imm32).
 */
static int parse_number(struct assembler *a, const char *s, int64_t min, int64_t max,
			uint64_t hex_max, const char *what, uint64_t *out)
{
	bool neg = false, hex;
	const char *p = s;
	uint64_t mag;
	char *end;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
	if (!isxdigit((unsigned char)p[hex ? 2 : 0]))
		return asm_error(a, "'%s' is not a number", s);
	errno = 0;
	mag = strtoull(p, &end, hex ? 16 : 10);
	if (*end)
		return asm_error(a, "'%s' is not a number", s);
	if (errno == ERANGE)
		return asm_error(a, "%s '%s' is out of range", what, s);
	if (neg) {
		if (mag > (uint64_t)INT64_MAX + 1 || -(int64_t)(mag - 1) - 1 < min)
			return asm_error(a, "%s '%s' is out of range", what, s);
		*out = -mag;
		return 0;
	}
	if (hex ? mag > hex_max : mag > (uint64_t)max)
		return asm_error(a, "%s '%s' is out of range", what, s);
	*out = mag;
	return 0;
}

static int parse_imm32(struct assembler *a, const char *s, int32_t *imm)
{
	uint64_t v;
	int err = parse_number(a, s, INT32_MIN, INT32_MAX, UINT32_MAX, "immediate", &v);

	*imm = (int32_t)(uint32_t)v;
	return err;
}

static int parse_reg(struct assembler *a, const char *s, uint8_t *reg)
{
	char *end;
	long n;

	if (s[0] != '%' || s[1] != 'r' || !isdigit((unsigned char)s[2]))
		return asm_error(a, "invalid register '%s'", s);
	n = strtol(s + 2, &end, 10);
	if (*end || n < 0 || n > 10)
		return asm_error(a, "invalid register '%s'", s);
	*reg = (uint8_t)n;
	return 0;
}

/* [%rN], [%rN+off] or [%rN-off] */
static int parse_mem(struct assembler *a, const char *s, uint8_t *reg, int16_t *off)
{
	char buf[64];
	size_t len = strlen(s);
	char *sign;
	uint64_t v = 0;
	int err;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']' || len - 2 >= sizeof(buf))
		return asm_error(a, "'%s' is not a memory operand [%%rN+offset]", s);
	memcpy(buf, s + 1, len - 2);
	buf[len - 2] = '\0';
	sign = strpbrk(buf, "+-");
	if (sign) {
		err = parse_number(a, sign, INT16_MIN, INT16_MAX, INT16_MAX, "offset", &v);
		if (err)
			return err;
		*sign = '\0';
	}
	*off = (int16_t)(int64_t)v;
	return parse_reg(a, buf, reg);
}

static int jump_target(struct assembler *a, const char *s, bool in_imm, int64_t min, int64_t max)
{
	struct csd_ebpf_insn *insn = &a->insns[a->cnt - 1];
	struct fixup *f;
	uint64_t v;
	int err;

	if (s[0] == '+' || s[0] == '-') {
		err = parse_number(a, s, min, max, (uint64_t)max, "jump offset", &v);
		if (err)
			return err;
		if (in_imm)
			insn->imm = (int32_t)(int64_t)v;
		else
			insn->off = (int16_t)(int64_t)v;
		return 0;
	}
	if (!isalpha((unsigned char)s[0]) && s[0] != '_' && s[0] != '.')
		return asm_error(a, "'%s' is neither a label nor +/-offset", s);
	if (strlen(s) >= MAX_LABEL)
		return asm_error(a, "label '%s' is too long", s);
	if (grow((void **)&a->fixups, &a->fixups_cap, a->nfixups + 1, sizeof(*f)))
		return -ENOMEM;
	f = &a->fixups[a->nfixups++];
	snprintf(f->label, sizeof(f->label), "%s", s);
	f->pc = a->cnt - 1;
	f->lineno = a->lineno;
	f->in_imm = in_imm;
	return 0;
}

static int want_operands(struct assembler *a, const char *mn, int have, int want)
{
	if (have != want)
		return asm_error(a, "invalid number of operands for %s: %d, expected %d", mn,
				 have, want);
	return 0;
}

static const struct isa_name *find_name(const struct isa_name *table, const char *name,
					size_t len)
{
	for (; table->name; table++)
		if (strlen(table->name) == len && !strncmp(table->name, name, len))
			return table;
	return NULL;
}

/* "w", "h", "b", "dw" -> BPF_SIZE bits, or -1 */
static int size_bits(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, isa_size_suffix[i]))
			return i << 3;
	return -1;
}

static int assemble_lock(struct assembler *a, char **tok, int n)
{
	struct csd_ebpf_insn *insn;
	const struct isa_name *op;
	bool fetch = false, is32;
	uint8_t dst, src;
	const char *name;
	size_t len;
	int err;

	if (n >= 1 && !strcmp(tok[0], "fetch"))
		fetch = true, tok++, n--;
	if (n != 3)
		return asm_error(a, "invalid number of operands for lock: "
				 "lock [fetch] OP[32] [%%rN+off], %%rM");
	name = tok[0];
	len = strlen(name);
	is32 = len > 2 && !strcmp(name + len - 2, "32");
	op = find_name(isa_atomic_ops, name, is32 ? len - 2 : len);
	if (!op)
		return asm_error(a, "unknown atomic operation '%s'", name);
	if (fetch && (op->op & BPF_FETCH))
		return asm_error(a, "'%s' always fetches: drop 'fetch'", name);
	insn = emit(a);
	if (!insn)
		return -ENOMEM;
	insn->code = BPF_STX | BPF_ATOMIC | (is32 ? BPF_W : BPF_DW);
	insn->imm = op->op | (fetch ? BPF_FETCH : 0);
	if ((err = parse_mem(a, tok[1], &dst, &insn->off)) || (err = parse_reg(a, tok[2], &src)))
		return err;
	insn->dst_reg = dst;
	insn->src_reg = src;
	return 0;
}

static int assemble_call(struct assembler *a, char **tok, int n)
{
	struct csd_ebpf_insn *insn = emit(a);
	uint8_t reg;

	if (!insn)
		return -ENOMEM;
	insn->code = BPF_JMP | BPF_CALL;
	if (n == 2 && !strcmp(tok[0], "local")) {
		insn->src_reg = BPF_PSEUDO_CALL;
		return jump_target(a, tok[1], true, INT32_MIN, INT32_MAX);
	}
	if (n == 2 && !strcmp(tok[0], "helper"))
		tok++, n--;
	if (n != 1)
		return asm_error(a, "invalid number of operands for call: call N | call %%rN | "
				 "call local LABEL");
	if (tok[0][0] == '%') {
		insn->code = BPF_OP_CALLX;
		if (parse_reg(a, tok[0], &reg))
			return -EINVAL;
		insn->dst_reg = reg;
		return 0;
	}
	return parse_imm32(a, tok[0], &insn->imm);
}

static int assemble_alu(struct assembler *a, const char *mn, char **tok, int n)
{
	size_t len = strlen(mn);
	bool is32 = len > 2 && !strcmp(mn + len - 2, "32");
	const struct isa_name *op = find_name(isa_alu_ops, mn, is32 ? len - 2 : len);
	struct csd_ebpf_insn *insn;
	uint8_t reg;
	int err;

	if (!op)
		return asm_error(a, "unknown mnemonic '%s'", mn);
	if ((err = want_operands(a, mn, n, op->op == BPF_NEG ? 1 : 2)))
		return err;
	if (!(insn = emit(a)))
		return -ENOMEM;
	insn->code = (is32 ? BPF_ALU : BPF_ALU64) | op->op;
	insn->off = op->off;
	if ((err = parse_reg(a, tok[0], &reg)))
		return err;
	insn->dst_reg = reg;
	if (op->op == BPF_NEG)
		return 0;
	if (tok[1][0] == '%') {
		insn->code |= BPF_X;
		if ((err = parse_reg(a, tok[1], &reg)))
			return err;
		insn->src_reg = reg;
		return 0;
	}
	return parse_imm32(a, tok[1], &insn->imm);
}

static int assemble_jmp(struct assembler *a, const char *mn, char **tok, int n)
{
	size_t len = strlen(mn);
	bool is32 = len > 2 && !strcmp(mn + len - 2, "32");
	const struct isa_name *op = find_name(isa_jmp_ops, mn, is32 ? len - 2 : len);
	struct csd_ebpf_insn *insn;
	uint8_t reg;
	int err;

	if (!op)
		return asm_error(a, "unknown mnemonic '%s'", mn);
	if ((err = want_operands(a, mn, n, 3)))
		return err;
	if (!(insn = emit(a)))
		return -ENOMEM;
	insn->code = (is32 ? BPF_JMP32 : BPF_JMP) | op->op;
	if ((err = parse_reg(a, tok[0], &reg)))
		return err;
	insn->dst_reg = reg;
	if (tok[1][0] == '%') {
		insn->code |= BPF_X;
		if ((err = parse_reg(a, tok[1], &reg)))
			return err;
		insn->src_reg = reg;
	} else if ((err = parse_imm32(a, tok[1], &insn->imm))) {
		return err;
	}
	return jump_target(a, tok[2], false, INT16_MIN, INT16_MAX);
}

static int assemble_mem(struct assembler *a, const char *mn, char **tok, int n)
{
	struct csd_ebpf_insn *insn;
	uint8_t dst, src;
	int size, err;

	if ((err = want_operands(a, mn, n, 2)))
		return err;
	if (!strncmp(mn, "ldxs", 4) && (size = size_bits(mn + 4)) >= 0 && size != BPF_DW) {
		if (!(insn = emit(a)))
			return -ENOMEM;
		insn->code = BPF_LDX | BPF_MEMSX | size;
	} else if (!strncmp(mn, "ldx", 3) && (size = size_bits(mn + 3)) >= 0) {
		if (!(insn = emit(a)))
			return -ENOMEM;
		insn->code = BPF_LDX | BPF_MEM | size;
	} else if (!strncmp(mn, "stx", 3) && (size = size_bits(mn + 3)) >= 0) {
		if (!(insn = emit(a)))
			return -ENOMEM;
		insn->code = BPF_STX | BPF_MEM | size;
		if ((err = parse_mem(a, tok[0], &dst, &insn->off)) ||
		    (err = parse_reg(a, tok[1], &src)))
			return err;
		insn->dst_reg = dst;
		insn->src_reg = src;
		return 0;
	} else if (!strncmp(mn, "st", 2) && (size = size_bits(mn + 2)) >= 0) {
		if (!(insn = emit(a)))
			return -ENOMEM;
		insn->code = BPF_ST | BPF_MEM | size;
		if ((err = parse_mem(a, tok[0], &dst, &insn->off)) ||
		    (err = parse_imm32(a, tok[1], &insn->imm)))
			return err;
		insn->dst_reg = dst;
		return 0;
	} else {
		return asm_error(a, "unknown mnemonic '%s'", mn);
	}
	if ((err = parse_reg(a, tok[0], &dst)) || (err = parse_mem(a, tok[1], &src, &insn->off)))
		return err;
	insn->dst_reg = dst;
	insn->src_reg = src;
	return 0;
}

/* be16 le32 swap64 bswap16 movsx832 ... : the forms whose width is part of the mnemonic */
static int assemble_width_form(struct assembler *a, const char *mn, char **tok, int n,
			       bool *matched)
{
	static const struct { const char *prefix; uint8_t code; } swaps[] = {
		{ "be", BPF_ALU | BPF_END | BPF_TO_BE },
		{ "le", BPF_ALU | BPF_END | BPF_TO_LE },
		{ "bswap", BPF_OP_END_BSWAP },
		{ "swap", BPF_OP_END_BSWAP },
	};
	struct csd_ebpf_insn *insn;
	uint8_t reg;
	int err;

	*matched = true;
	for (size_t i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
		size_t pl = strlen(swaps[i].prefix);
		const char *w = mn + pl;

		if (strncmp(mn, swaps[i].prefix, pl) ||
		    (strcmp(w, "16") && strcmp(w, "32") && strcmp(w, "64")))
			continue;
		if ((err = want_operands(a, mn, n, 1)))
			return err;
		if (!(insn = emit(a)))
			return -ENOMEM;
		insn->code = swaps[i].code;
		insn->imm = atoi(w);
		if ((err = parse_reg(a, tok[0], &reg)))
			return err;
		insn->dst_reg = reg;
		return 0;
	}
	if (!strncmp(mn, "movsx", 5)) {
		static const struct { const char *w; int16_t off; bool is64; } forms[] = {
			{ "832", 8, false }, { "1632", 16, false }, { "864", 8, true },
			{ "1664", 16, true }, { "3264", 32, true },
		};
		for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			uint8_t dst, src;

			if (strcmp(mn + 5, forms[i].w))
				continue;
			if ((err = want_operands(a, mn, n, 2)))
				return err;
			if (!(insn = emit(a)))
				return -ENOMEM;
			insn->code = (forms[i].is64 ? BPF_ALU64 : BPF_ALU) | BPF_MOV | BPF_X;
			insn->off = forms[i].off;
			if ((err = parse_reg(a, tok[0], &dst)) || (err = parse_reg(a, tok[1], &src)))
				return err;
			insn->dst_reg = dst;
			insn->src_reg = src;
			return 0;
		}
	}
	*matched = false;
	return 0;
}

static int assemble_insn(struct assembler *a, char **tok, int n)
{
	const char *mn = tok[0];
	struct csd_ebpf_insn *insn;
	bool matched;
	uint64_t v;
	uint8_t reg;
	int err;

	tok++, n--;
	if (!strcmp(mn, "exit")) {
		if ((err = want_operands(a, mn, n, 0)))
			return err;
		if (!(insn = emit(a)))
			return -ENOMEM;
		insn->code = BPF_JMP | BPF_EXIT;
		if (a->first_exit == SIZE_MAX)
			a->first_exit = a->cnt - 1;
		return 0;
	}
	if (!strcmp(mn, "ja") || !strcmp(mn, "ja32")) {
		bool is32 = mn[2] == '3';

		if ((err = want_operands(a, mn, n, 1)))
			return err;
		if (!(insn = emit(a)))
			return -ENOMEM;
		insn->code = (is32 ? BPF_JMP32 : BPF_JMP) | BPF_JA;
		return jump_target(a, tok[0], is32, is32 ? INT32_MIN : INT16_MIN,
				   is32 ? INT32_MAX : INT16_MAX);
	}
	if (!strcmp(mn, "call"))
		return assemble_call(a, tok, n);
	if (!strcmp(mn, "lock"))
		return assemble_lock(a, tok, n);
	if (!strcmp(mn, "lddw")) {
		if ((err = want_operands(a, mn, n, 2)) || (err = parse_reg(a, tok[0], &reg)))
			return err;
		if ((err = parse_number(a, tok[1], INT64_MIN, INT64_MAX, UINT64_MAX, "immediate",
					&v)))
			return err;
		if (!(insn = emit(a)) || !emit(a))
			return -ENOMEM;
		insn = &a->insns[a->cnt - 2];
		insn->code = BPF_OP_LDDW;
		insn->dst_reg = reg;
		insn->imm = (int32_t)(uint32_t)v;
		insn[1].imm = (int32_t)(uint32_t)(v >> 32);
		return 0;
	}
	if (!strncmp(mn, "ld", 2) || !strncmp(mn, "st", 2))
		return assemble_mem(a, mn, tok, n);
	if ((err = assemble_width_form(a, mn, tok, n, &matched)) || matched)
		return err;
	if (mn[0] == 'j')
		return assemble_jmp(a, mn, tok, n);
	return assemble_alu(a, mn, tok, n);
}

/* Split a line into tokens on blanks and commas, keeping [ ... ] together. */
static int tokenize(struct assembler *a, char *line, char **tok)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r')
			*p++ = '\0';
		if (!*p)
			return n;
		if (n == MAX_TOKENS)
			return asm_error(a, "too many operands");
		tok[n++] = p;
		if (*p == '[') {
			char *close = strchr(p, ']');
			char *w = p;

			if (!close)
				return asm_error(a, "'[' without ']'");
			/* squeeze blanks inside the brackets: [%r1 + 2] == [%r1+2] */
			for (char *r = p; r <= close; r++)
				if (*r != ' ' && *r != '\t')
					*w++ = *r;
			p = close + 1;
			if (*p && !strchr(" \t,\r", *p))
				return asm_error(a, "unexpected text after ']'");
			if (*p)
				*p++ = '\0';
			*w = '\0';
			continue;
		}
		while (*p && *p != ' ' && *p != '\t' && *p != ',' && *p != '\r')
			p++;
	}
}

static int define_label(struct assembler *a, const char *name)
{
	if (!*name || strlen(name) >= MAX_LABEL)
		return asm_error(a, "invalid label '%s'", name);
	for (size_t i = 0; i < a->nlabels; i++)
		if (!strcmp(a->labels[i].name, name))
			return asm_error(a, "label '%s' defined twice", name);
	if (grow((void **)&a->labels, &a->labels_cap, a->nlabels + 1, sizeof(*a->labels)))
		return -ENOMEM;
	snprintf(a->labels[a->nlabels].name, MAX_LABEL, "%s", name);
	a->labels[a->nlabels++].pc = a->cnt;
	return 0;
}

static int resolve_fixups(struct assembler *a)
{
	for (size_t i = 0; i < a->nfixups; i++) {
		struct fixup *f = &a->fixups[i];
		const struct label *l = NULL;
		int64_t rel;

		struct label implicit_exit = { "exit", a->first_exit };

		for (size_t k = 0; k < a->nlabels && !l; k++)
			if (!strcmp(a->labels[k].name, f->label))
				l = &a->labels[k];
		/* as in bpf_conformance: `exit` names the first exit unless defined as a label */
		if (!l && !strcmp(f->label, "exit") && a->first_exit != SIZE_MAX)
			l = &implicit_exit;
		a->lineno = f->lineno;
		if (!l)
			return asm_error(a, "label '%s' is not defined", f->label);
		rel = (int64_t)l->pc - (int64_t)f->pc - 1;
		if (f->in_imm) {
			a->insns[f->pc].imm = (int32_t)rel;
		} else {
			if (rel < INT16_MIN || rel > INT16_MAX)
				return asm_error(a, "label '%s' is too far for a 16-bit offset",
						 f->label);
			a->insns[f->pc].off = (int16_t)rel;
		}
	}
	return 0;
}

int csd_ebpf_asm(const char *text, struct csd_ebpf_insn **insns, size_t *insn_cnt,
		 char *err_buf, size_t err_size)
{
	struct assembler a = { .err = err_buf, .err_size = err_size, .first_exit = SIZE_MAX };
	const char *p = text;
	int err = 0;

	if (!text || !insns || !insn_cnt)
		return -EINVAL;
	while (*p && !err) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, len), *hash, *tok[MAX_TOKENS];
		int n;

		if (!line) {
			err = -ENOMEM;
			break;
		}
		a.lineno++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		n = tokenize(&a, line, tok);
		if (n < 0) {
			err = n;
		} else if (n == 1 && tok[0][strlen(tok[0]) - 1] == ':') {
			tok[0][strlen(tok[0]) - 1] = '\0';
			err = define_label(&a, tok[0]);
		} else if (n > 0) {
			err = assemble_insn(&a, tok, n);
		}
		free(line);
		p += len + (nl ? 1 : 0);
	}
	if (!err)
		err = resolve_fixups(&a);
	if (!err && a.cnt == 0) {
		a.lineno = a.lineno ? a.lineno : 1;
		err = asm_error(&a, "no instructions");
	}
	free(a.labels);
	free(a.fixups);
	if (err) {
		free(a.insns);
		return err;
	}
	*insns = a.insns;
	*insn_cnt = a.cnt;
	return 0;
}
