/* SPDX-License-Identifier: MIT */
/* The csd CLI's subcommands: each takes argc/argv after the subcommand name. */
#ifndef CSD_COMMANDS_H
#define CSD_COMMANDS_H

int cmd_asm(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_gen(int argc, char **argv);

#endif
