/* SPDX-License-Identifier: MIT */
/*
 * ELF loader for what `clang -O2 -g -target bpf -c prog.bpf.c` writes from restricted C.
 *
 * libelf reads sections, symbols and relocations; libbpf is used only for what needs BTF, the
 * definitions of `.maps` (type, key and value size, max_entries), so that map declarations in
 * the usual libbpf style work unchanged. Linking is done here, as libbpf does it at load time:
 * the chosen program's function is placed first, every function it calls (in its own section
 * or in .text) is appended once, and call offsets are rewritten. References to global data
 * become lddw of a map value (src BPF_PSEUDO_MAP_VALUE), references to maps lddw of a map
 * (src BPF_PSEUDO_MAP_FD): the same encoding the Linux kernel receives.
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ebpf_internal.h"

#define MAX_MAPS	32
#define INSN_SZ		sizeof(struct csd_ebpf_insn)

struct elf_func {
	const char *name;
	size_t shndx;
	size_t start, len;	/* in instructions, within the section */
	bool global;
	size_t out_pc;		/* SIZE_MAX until placed */
};

struct exec_sec {
	const struct csd_ebpf_insn *insns;
	size_t cnt;
	uint32_t *reloc_sym;	/* per instruction: symbol index + 1, or 0 */
};

struct loader {
	Elf *elf;
	size_t shnum, strndx;
	Elf_Data *symtab;
	size_t nsyms;
	size_t symstr_ndx;		/* string table of the symbol table */
	struct exec_sec *secs;		/* by section index; insns NULL when not executable */
	struct elf_func *funcs;
	size_t nfuncs;
	struct ebpf_map *maps;
	size_t nmaps;
	int map_of_sec[1024];		/* data section index -> map index (-1) */
	struct csd_ebpf_insn *out;
	size_t out_cnt, out_cap;
	char *log;
	size_t log_size;
};

__attribute__((format(printf, 2, 3)))
static int elf_error(struct loader *l, const char *fmt, ...)
{
	va_list ap;

	if (l->log && l->log_size) {
		va_start(ap, fmt);
		vsnprintf(l->log, l->log_size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *sec_name(struct loader *l, size_t idx)
{
	Elf_Scn *scn = elf_getscn(l->elf, idx);
	GElf_Shdr sh;

	if (!scn || !gelf_getshdr(scn, &sh))
		return "";
	return elf_strptr(l->elf, l->strndx, sh.sh_name) ?: "";
}

static bool get_sym(struct loader *l, size_t idx, GElf_Sym *sym)
{
	return idx < l->nsyms && gelf_getsym(l->symtab, (int)idx, sym);
}

static const char *sym_name(struct loader *l, const GElf_Sym *sym)
{
	return elf_strptr(l->elf, l->symstr_ndx, sym->st_name) ?: "";
}

static bool is_data_section(const char *name, const GElf_Shdr *sh)
{
	if (!(sh->sh_flags & SHF_ALLOC) || (sh->sh_flags & SHF_EXECINSTR))
		return false;
	if (sh->sh_type != SHT_PROGBITS && sh->sh_type != SHT_NOBITS)
		return false;
	return !strncmp(name, ".data", 5) || !strncmp(name, ".rodata", 7) ||
	       !strncmp(name, ".bss", 4);
}

static int add_map(struct loader *l, const char *name, enum ebpf_map_kind kind, uint32_t key,
		   uint32_t value, uint32_t max)
{
	int err;

	if (l->nmaps == MAX_MAPS)
		return elf_error(l, "more than %d maps and data sections", MAX_MAPS);
	err = ebpf_map_init(&l->maps[l->nmaps], name, kind, key, value, max);
	if (err)
		return elf_error(l, "map '%s': key %u, value %u, %u entries is not a valid map",
				 name, key, value, max);
	return (int)l->nmaps++;
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/* A map as libbpf read it, passed from the child process (see load_btf_maps). */
struct btf_map_def {
	char name[128];
	uint32_t type, key, value, max;
};

/* In the child: libbpf opens the object; status (0 or an errno), count, then the maps. */
static void btf_maps_child(int fd, const void *buf, size_t size)
{
	struct bpf_object *obj;
	struct bpf_map *m;
	int32_t status = 0;
	uint32_t n = 0;
	struct btf_map_def defs[MAX_MAPS];
	static const int inherited[] = { SIGINT, SIGTERM, SIGHUP, SIGURG, SIGSEGV, SIGBUS };

	/* the parent's handlers (stop the target, interrupt a JIT run, ...) are not the child's */
	for (size_t i = 0; i < sizeof(inherited) / sizeof(inherited[0]); i++)
		signal(inherited[i], SIG_DFL);
	libbpf_set_print(silent_print);
	obj = bpf_object__open_mem(buf, size, NULL);
	if (!obj) {
		status = errno ? errno : EINVAL;
	} else {
		bpf_object__for_each_map(m, obj) {
			if (bpf_map__is_internal(m))
				continue;
			if (n == MAX_MAPS) {
				status = E2BIG;
				break;
			}
			memset(&defs[n], 0, sizeof(defs[n]));
			snprintf(defs[n].name, sizeof(defs[n].name), "%s", bpf_map__name(m));
			defs[n].type = bpf_map__type(m);
			defs[n].key = bpf_map__key_size(m);
			defs[n].value = bpf_map__value_size(m);
			defs[n].max = bpf_map__max_entries(m);
			n++;
		}
	}
	if (write(fd, &status, sizeof(status)) != sizeof(status) ||
	    write(fd, &n, sizeof(n)) != sizeof(n) ||
	    write(fd, defs, n * sizeof(defs[0])) != (ssize_t)(n * sizeof(defs[0])))
		_exit(2);
	_exit(0);
}

/* Read exactly len bytes from fd within the deadline; false on EOF, error or time out. */
static bool read_all(int fd, void *dst, size_t len, int timeout_ms)
{
	for (size_t got = 0; got < len;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return false;
		n = read(fd, (uint8_t *)dst + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/*
 * User maps from BTF-defined .maps, through libbpf (open only: nothing reaches the kernel).
 * libbpf is not made for hostile objects (the Debian 12 version crashes on some malformed ones,
 * found by fuzz_elf), and this object may come from any host over the network: libbpf reads
 * it in a child process, which may crash or hang without taking the drive with it.
 */
static int load_btf_maps(struct loader *l, const void *buf, size_t size)
{
	struct btf_map_def *defs;
	int fds[2], err = 0, wstatus = 0;
	int32_t status = 0;
	uint32_t n = 0;
	bool ok;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return elf_error(l, "cannot read the .maps definitions: %s", strerror(errno));
	defs = calloc(MAX_MAPS, sizeof(*defs));
	if (!defs) {
		close(fds[0]);
		close(fds[1]);
		return -ENOMEM;
	}
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		free(defs);
		return elf_error(l, "cannot read the .maps definitions: %s", strerror(errno));
	}
	if (pid == 0) {
		close(fds[0]);
		btf_maps_child(fds[1], buf, size);
	}
	close(fds[1]);
	ok = read_all(fds[0], &status, sizeof(status), 5000) && read_all(fds[0], &n, sizeof(n), 5000) &&
	     n <= MAX_MAPS && read_all(fds[0], defs, n * sizeof(defs[0]), 5000);
	close(fds[0]);
	if (!ok)
		kill(pid, SIGKILL);
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (!ok || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus))
		err = elf_error(l, "libbpf failed on this object's .maps (%s): a malformed object",
				WIFSIGNALED(wstatus) ? strsignal(WTERMSIG(wstatus)) : "no answer");
	else if (status)
		err = elf_error(l, "libbpf could not read the .maps definitions (%s); "
				"build with -g so that the object carries BTF", strerror(status));
	for (uint32_t i = 0; i < n && !err; i++) {
		enum ebpf_map_kind kind;

		defs[i].name[sizeof(defs[i].name) - 1] = '\0';
		if (defs[i].type == BPF_MAP_TYPE_ARRAY) {
			kind = EBPF_MAP_KIND_ARRAY;
		} else if (defs[i].type == BPF_MAP_TYPE_HASH) {
			kind = EBPF_MAP_KIND_HASH;
		} else {
			err = elf_error(l, "map '%s': type %u is not supported (array and hash are)",
					defs[i].name, defs[i].type);
			break;
		}
		err = add_map(l, defs[i].name, kind, defs[i].key, defs[i].value, defs[i].max);
		if (err > 0)
			err = 0;
	}
	free(defs);
	return err < 0 ? err : 0;
}

/* The bytes of the section called `name`, or NULL. */
static const Elf_Data *section_named(struct loader *l, const char *name)
{
	for (size_t i = 1; i < l->shnum; i++)
		if (!strcmp(sec_name(l, i), name))
			return elf_getdata(elf_getscn(l->elf, i), NULL);
	return NULL;
}

static int by_pc(const void *a, const void *b)
{
	const struct ebpf_line *x = a, *y = b;

	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

/*
 * Source lines from .BTF.ext (clang -g), mapped onto the linked program's pcs, so that the
 * verifier can name the line it refuses. Best effort: an object without them, or with ones
 * this code does not understand, simply has none.
 */
static void load_line_info(struct loader *l, struct csd_ebpf_prog *prog)
{
	const Elf_Data *btf_data = section_named(l, ".BTF"), *ext = section_named(l, ".BTF.ext");
	const uint8_t *p, *end;
	uint32_t hdr_len, off, len, rec_size;
	struct btf *btf;

	if (!btf_data || !ext || ext->d_size < 24 || !btf_data->d_buf || !ext->d_buf)
		return;
	p = ext->d_buf;
	if (p[0] != 0x9f || p[1] != 0xeb)	/* magic 0xeB9F, little-endian */
		return;
	memcpy(&hdr_len, p + 4, 4);
	memcpy(&off, p + 16, 4);
	memcpy(&len, p + 20, 4);
	if ((uint64_t)hdr_len + off + len > ext->d_size || len < 4)
		return;
	btf = btf__new(btf_data->d_buf, (uint32_t)btf_data->d_size);
	if (!btf || libbpf_get_error(btf))
		return;
	p += hdr_len + off;
	end = p + len;
	memcpy(&rec_size, p, 4);
	p += 4;
	while (rec_size >= 16 && end - p >= 8) {
		uint32_t name_off, n;
		const char *sname;
		size_t shndx = 0;

		memcpy(&name_off, p, 4);
		memcpy(&n, p + 4, 4);
		p += 8;
		if ((uint64_t)n * rec_size > (uint64_t)(end - p))
			break;
		sname = btf__name_by_offset(btf, name_off);
		for (size_t i = 1; sname && i < l->shnum && !shndx; i++)
			if (!strcmp(sec_name(l, i), sname))
				shndx = i;
		for (uint32_t k = 0; k < n && shndx; k++, p += rec_size) {
			uint32_t insn_off, file_off, line_col;
			const char *file, *base;
			void *grown;

			memcpy(&insn_off, p, 4);
			memcpy(&file_off, p + 4, 4);
			memcpy(&line_col, p + 12, 4);
			for (size_t f = 0; f < l->nfuncs; f++) {
				struct elf_func *fn = &l->funcs[f];
				size_t idx = insn_off / INSN_SZ;

				if (fn->shndx != shndx || fn->out_pc == SIZE_MAX || idx < fn->start ||
				    idx >= fn->start + fn->len)
					continue;
				grown = realloc(prog->lines, (prog->nlines + 1) * sizeof(*prog->lines));
				if (!grown)
					break;
				prog->lines = grown;
				file = btf__name_by_offset(btf, file_off);
				base = file && strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
				prog->lines[prog->nlines].pc = (uint32_t)(fn->out_pc + idx - fn->start);
				prog->lines[prog->nlines].line = line_col >> 10;
				snprintf(prog->lines[prog->nlines].file,
					 sizeof(prog->lines[0].file), "%s", base ? base : "?");
				prog->nlines++;
			}
		}
		if (!shndx)
			p += (size_t)n * rec_size;
	}
	btf__free(btf);
	if (prog->nlines)
		qsort(prog->lines, prog->nlines, sizeof(*prog->lines), by_pc);
}

static int load_data_sections(struct loader *l)
{
	for (size_t i = 1; i < l->shnum; i++) {
		Elf_Scn *scn = elf_getscn(l->elf, i);
		const char *name = sec_name(l, i);
		Elf_Data *data;
		GElf_Shdr sh;
		int idx;

		if (!gelf_getshdr(scn, &sh) || !is_data_section(name, &sh) || sh.sh_size == 0)
			continue;
		if (i >= sizeof(l->map_of_sec) / sizeof(l->map_of_sec[0]))
			return elf_error(l, "too many sections");
		idx = add_map(l, name, EBPF_MAP_KIND_DATA, 4, (uint32_t)sh.sh_size, 1);
		if (idx < 0)
			return idx;
		l->maps[idx].readonly = !strncmp(name, ".rodata", 7);
		if (sh.sh_type == SHT_PROGBITS) {
			data = elf_getdata(scn, NULL);
			if (!data || data->d_size != sh.sh_size)
				return elf_error(l, "section %s cannot be read", name);
			memcpy(l->maps[idx].values, data->d_buf, sh.sh_size);
		}
		l->map_of_sec[i] = idx;
	}
	return 0;
}

static int load_exec_sections(struct loader *l)
{
	for (size_t i = 1; i < l->shnum; i++) {
		Elf_Scn *scn = elf_getscn(l->elf, i);
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			return elf_error(l, "section %zu header cannot be read", i);
		if (sh.sh_type == SHT_SYMTAB) {
			l->symtab = elf_getdata(scn, NULL);
			if (!l->symtab || !sh.sh_entsize)
				return elf_error(l, "the symbol table cannot be read");
			l->nsyms = sh.sh_size / sh.sh_entsize;
			l->symstr_ndx = sh.sh_link;
		}
		if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR) || !sh.sh_size)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || data->d_size % INSN_SZ)
			return elf_error(l, "section %s is not a whole number of instructions",
					 sec_name(l, i));
		l->secs[i].insns = data->d_buf;
		l->secs[i].cnt = data->d_size / INSN_SZ;
		l->secs[i].reloc_sym = calloc(l->secs[i].cnt, sizeof(uint32_t));
		if (!l->secs[i].reloc_sym)
			return -ENOMEM;
	}
	if (!l->symtab)
		return elf_error(l, "the object has no symbol table");
	return 0;
}

static int load_relocations(struct loader *l)
{
	for (size_t i = 1; i < l->shnum; i++) {
		Elf_Scn *scn = elf_getscn(l->elf, i);
		struct exec_sec *target;
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_REL)
			continue;
		if (sh.sh_info >= l->shnum || !l->secs[sh.sh_info].insns)
			continue;	/* relocations of debug info */
		target = &l->secs[sh.sh_info];
		data = elf_getdata(scn, NULL);
		if (!data || !sh.sh_entsize)
			return elf_error(l, "relocation section %s cannot be read", sec_name(l, i));
		for (size_t r = 0; r < sh.sh_size / sh.sh_entsize; r++) {
			GElf_Rel rel;
			size_t at, symi;

			if (!gelf_getrel(data, (int)r, &rel))
				return elf_error(l, "relocation %zu of %s cannot be read", r,
						 sec_name(l, i));
			at = rel.r_offset / INSN_SZ;
			symi = GELF_R_SYM(rel.r_info);
			if (rel.r_offset % INSN_SZ || at >= target->cnt || symi >= l->nsyms)
				return elf_error(l, "relocation %zu of %s points outside its section",
						 r, sec_name(l, i));
			target->reloc_sym[at] = (uint32_t)symi + 1;
		}
	}
	return 0;
}

static int collect_functions(struct loader *l)
{
	l->funcs = calloc(l->nsyms ? l->nsyms : 1, sizeof(*l->funcs));
	if (!l->funcs)
		return -ENOMEM;
	for (size_t i = 1; i < l->nsyms; i++) {
		struct elf_func *f;
		GElf_Sym sym;

		if (!get_sym(l, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		if (sym.st_shndx >= l->shnum || !l->secs[sym.st_shndx].insns)
			continue;
		/* start and size checked apart: their sum can wrap */
		if (sym.st_value % INSN_SZ || sym.st_size % INSN_SZ || !sym.st_size ||
		    sym.st_value / INSN_SZ > l->secs[sym.st_shndx].cnt ||
		    sym.st_size / INSN_SZ > l->secs[sym.st_shndx].cnt - sym.st_value / INSN_SZ)
			return elf_error(l, "function %s lies outside its section",
					 sym_name(l, &sym));
		f = &l->funcs[l->nfuncs++];
		f->name = sym_name(l, &sym);
		f->shndx = sym.st_shndx;
		f->start = sym.st_value / INSN_SZ;
		f->len = sym.st_size / INSN_SZ;
		f->global = GELF_ST_BIND(sym.st_info) == STB_GLOBAL;
		f->out_pc = SIZE_MAX;
	}
	return 0;
}

static struct elf_func *func_at(struct loader *l, size_t shndx, size_t start)
{
	for (size_t i = 0; i < l->nfuncs; i++)
		if (l->funcs[i].shndx == shndx && l->funcs[i].start == start)
			return &l->funcs[i];
	return NULL;
}

/* Programs are global functions outside .text (as in libbpf); .text holds subprograms. */
static bool is_program(struct loader *l, const struct elf_func *f)
{
	return f->global && strcmp(sec_name(l, f->shndx), ".text");
}

static int find_program(struct loader *l, const char *name, struct elf_func **out)
{
	struct elf_func *found = NULL;
	char names[256] = "";
	size_t matches = 0;

	for (size_t i = 0; i < l->nfuncs; i++) {
		struct elf_func *f = &l->funcs[i];

		if (!is_program(l, f))
			continue;
		if (strlen(names) + strlen(f->name) + 3 < sizeof(names))
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 names[0] ? ", " : "", f->name);
		if (name && !strcmp(f->name, name)) {
			*out = f;
			return 0;
		}
		if (!name || !strcmp(sec_name(l, f->shndx), name))
			found = f, matches++;
	}
	if (matches == 1) {
		*out = found;
		return 0;
	}
	if (matches > 1)
		return elf_error(l, "%s: several programs match (%s); name one",
				 name ? name : "the object", names);
	if (name)
		return elf_error(l, "no program named '%s' (programs: %s)", name,
				 names[0] ? names : "none");
	return elf_error(l, "the object has no program (a global function in a SEC() other "
			 "than .text)");
}

static int place(struct loader *l, struct elf_func *f)
{
	void *n;

	if (f->out_pc != SIZE_MAX)
		return 0;
	if (l->out_cnt + f->len > CSD_EBPF_MAX_INSNS)
		return elf_error(l, "the linked program is larger than %u instructions",
				 CSD_EBPF_MAX_INSNS);
	if (l->out_cnt + f->len > l->out_cap) {
		l->out_cap = (l->out_cnt + f->len) * 2;
		n = realloc(l->out, l->out_cap * INSN_SZ);
		if (!n)
			return -ENOMEM;
		l->out = n;
	}
	memcpy(l->out + l->out_cnt, l->secs[f->shndx].insns + f->start, f->len * INSN_SZ);
	f->out_pc = l->out_cnt;
	l->out_cnt += f->len;
	return 0;
}

static int relocate_lddw(struct loader *l, struct csd_ebpf_insn *insn, const GElf_Sym *sym,
			 size_t pc)
{
	const char *sname = sym->st_shndx < l->shnum ? sec_name(l, sym->st_shndx) : "";
	uint64_t off;

	if (!strcmp(sname, ".maps")) {
		const char *name = sym_name(l, sym);

		for (size_t m = 0; m < l->nmaps; m++) {
			if (l->maps[m].kind == EBPF_MAP_KIND_DATA || strcmp(l->maps[m].name, name))
				continue;
			insn->src_reg = BPF_PSEUDO_MAP_FD;
			insn->imm = (int32_t)m;
			return 0;
		}
		return elf_error(l, "instruction %zu refers to map '%s', which is not defined",
				 pc, name);
	}
	if (sym->st_shndx >= sizeof(l->map_of_sec) / sizeof(l->map_of_sec[0]) ||
	    l->map_of_sec[sym->st_shndx] < 0)
		return elf_error(l, "instruction %zu refers to '%s' in section '%s', which is "
				 "neither a map nor global data", pc, sym_name(l, sym), sname);
	off = (uint64_t)(uint32_t)insn->imm + sym->st_value;
	if (off >= l->maps[l->map_of_sec[sym->st_shndx]].value_size)
		return elf_error(l, "instruction %zu refers past the end of %s", pc, sname);
	insn->src_reg = BPF_PSEUDO_MAP_VALUE;
	insn->imm = l->map_of_sec[sym->st_shndx];
	insn[1].imm = (int32_t)off;
	return 0;
}

/* Relocate and link the function placed at f->out_pc; callees are placed as they are found. */
static int link_function(struct loader *l, struct elf_func *f)
{
	const struct exec_sec *sec = &l->secs[f->shndx];

	for (size_t i = 0; i < f->len; i++) {
		size_t in = f->start + i, pc = f->out_pc + i;
		struct csd_ebpf_insn *insn = &l->out[pc];
		uint32_t reloc = sec->reloc_sym[in];
		bool is_call = insn->code == (BPF_JMP | BPF_CALL) &&
			       insn->src_reg == BPF_PSEUDO_CALL;
		size_t target_sec = f->shndx;
		int64_t target = (int64_t)in + insn->imm + 1;
		struct elf_func *callee;
		GElf_Sym sym;
		int err;

		if (reloc && !get_sym(l, reloc - 1, &sym))
			return elf_error(l, "instruction %zu: bad relocation symbol", pc);
		if (insn->code == BPF_OP_LDDW) {
			if (reloc && (i + 1 >= f->len || (err = relocate_lddw(l, insn, &sym, pc))))
				return i + 1 >= f->len ? elf_error(l, "truncated lddw at %zu", pc)
						       : err;
			i++;
			continue;
		}
		if (!is_call) {
			if (reloc)
				return elf_error(l, "instruction %zu has a relocation it cannot take "
						 "(only lddw and calls can)", pc);
			continue;
		}
		if (reloc) {
			target_sec = sym.st_shndx;
			target = (int64_t)(sym.st_value / INSN_SZ) + insn->imm + 1;
		}
		callee = target >= 0 ? func_at(l, target_sec, (size_t)target) : NULL;
		if (!callee)
			return elf_error(l, "instruction %zu calls a location that is not the start "
					 "of a function", pc);
		if ((err = place(l, callee)))
			return err;
		/* place() may have moved l->out */
		l->out[pc].imm = (int32_t)((int64_t)callee->out_pc - (int64_t)pc - 1);
	}
	return 0;
}

int csd_ebpf_prog__load_elf(const void *obj_buf, size_t obj_size, const char *name,
			    const struct csd_ebpf_load_opts *opts, struct csd_ebpf_prog **prog)
{
	struct loader l = { .log = opts ? opts->log_buf : NULL,
			    .log_size = opts ? opts->log_size : 0 };
	struct elf_func *main_fn = NULL;
	GElf_Ehdr eh;
	int err;

	if (!obj_buf || !prog)
		return -EINVAL;
	memset(l.map_of_sec, -1, sizeof(l.map_of_sec));
	elf_version(EV_CURRENT);
	l.elf = elf_memory((char *)obj_buf, obj_size);
	if (!l.elf || elf_kind(l.elf) != ELF_K_ELF || !gelf_getehdr(l.elf, &eh)) {
		err = elf_error(&l, "not an ELF object");
		goto out;
	}
	if (eh.e_machine != EM_BPF || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		err = elf_error(&l, "not a little-endian 64-bit BPF object (e_machine %u); "
				"build with clang -target bpf", eh.e_machine);
		goto out;
	}
	if (elf_getshdrnum(l.elf, &l.shnum) || elf_getshdrstrndx(l.elf, &l.strndx)) {
		err = elf_error(&l, "the section headers cannot be read");
		goto out;
	}
	l.secs = calloc(l.shnum, sizeof(*l.secs));
	l.maps = calloc(MAX_MAPS, sizeof(*l.maps));
	if (!l.secs || !l.maps) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = load_exec_sections(&l)) || (err = load_relocations(&l)) ||
	    (err = collect_functions(&l)) || (err = find_program(&l, name, &main_fn)))
		goto out;
	{
		size_t maps = 0;

		for (size_t i = 1; i < l.shnum; i++)
			maps += !strcmp(sec_name(&l, i), ".maps");
		if (maps > 1) {
			err = elf_error(&l, "%zu .maps sections", maps);
			goto out;
		}
		if (maps && (err = load_btf_maps(&l, obj_buf, obj_size)))
			goto out;
	}
	if ((err = load_data_sections(&l)) || (err = place(&l, main_fn)))
		goto out;
	/* link placed functions in placement order; linking one may place (append) more */
	for (size_t linked = 0; linked < l.out_cnt;) {
		struct elf_func *f = NULL;

		for (size_t i = 0; i < l.nfuncs && !f; i++)
			if (l.funcs[i].out_pc == linked)
				f = &l.funcs[i];
		if ((err = link_function(&l, f)))
			goto out;
		linked += f->len;
	}
	err = ebpf_prog_create(l.out, l.out_cnt, l.maps, l.nmaps, opts, prog);
	if (!err) {
		l.maps = NULL;	/* the program owns them now */
		load_line_info(&l, *prog);
	}
out:
	if (l.maps) {
		for (size_t i = 0; i < l.nmaps; i++)
			ebpf_map_destroy(&l.maps[i]);
		free(l.maps);
	}
	if (l.secs)
		for (size_t i = 0; i < l.shnum; i++)
			free(l.secs[i].reloc_sym);
	free(l.secs);
	free(l.funcs);
	free(l.out);
	if (l.elf)
		elf_end(l.elf);
	return err;
}
