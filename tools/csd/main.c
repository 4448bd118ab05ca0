/* SPDX-License-Identifier: MIT */
/*
 * csd: csdlab's command line. One subcommand per task, nvme-cli style (`csd asm`, `csd run`,
 * ...); drive commands over NVMe/TCP join them as the transport lands.
 */
#include <stdio.h>
#include <string.h>

#ifndef CSD_VERSION
#define CSD_VERSION "unknown"
#endif

#include "commands.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "discover", cmd_discover, "the target's discovery log" },
	{ "list", cmd_list, "the drive's namespaces and their command sets" },
	{ "id-ctrl", cmd_id_ctrl, "identify the controller" },
	{ "id-ns", cmd_id_ns, "identify one namespace" },
	{ "read", cmd_rw, "read blocks of the NVM namespace" },
	{ "write", cmd_rw, "write a file into the NVM namespace" },
	{ "flush", cmd_flush, "make written data durable" },
	{ "program", cmd_program, "load, unload, activate, deactivate, list programs" },
	{ "mrs", cmd_mrs, "create, delete, list memory range sets" },
	{ "exec", cmd_exec, "execute a program on the drive (or stream it over NVM blocks)" },
	{ "mem", cmd_mem, "read, write, copy the drive's memory (SLM)" },
	{ "log", cmd_log, "get a log page (hex)" },
	{ "stats", cmd_stats, "the drive's counters and this host's link traffic" },
	{ "asm", cmd_asm, "assemble eBPF text (bpf_conformance syntax) into instructions" },
	{ "disasm", cmd_disasm, "disassemble raw instructions or a program in an ELF object" },
	{ "verify", cmd_verify, "prove a program safe, as the drive does when it activates one" },
	{ "run", cmd_run, "run a program in the local eBPF runtime over a file or generated text" },
	{ "gen-dhchap-key", cmd_gen_dhchap_key, "a DH-HMAC-CHAP secret (as nvme gen-dhchap-key)" },
	{ "check-dhchap-key", cmd_check_dhchap_key, "check a DH-HMAC-CHAP secret" },
	{ "gen", cmd_gen, "write deterministic text with a known number of \"Alpha\"" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: csd <command> [options]   (csd <command> --help for its options;\n"
		   "       csd --version)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
		printf("csd %s (csdlab)\n", CSD_VERSION);
		return 0;
	}
	/* every command's usage answers -h; --help means the same, before anything connects */
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help"))
			argv[i] = "-h";
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "csd: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
