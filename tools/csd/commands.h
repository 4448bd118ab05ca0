/* SPDX-License-Identifier: MIT */
/* The csd CLI's subcommands: each takes argc/argv after the subcommand name. */
#ifndef CSD_COMMANDS_H
#define CSD_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int cmd_asm(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_discover(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_id_ctrl(int argc, char **argv);
int cmd_id_ns(int argc, char **argv);
int cmd_rw(int argc, char **argv);
int cmd_flush(int argc, char **argv);
int cmd_program(int argc, char **argv);
int cmd_mrs(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_mem(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_gen_dhchap_key(int argc, char **argv);
int cmd_check_dhchap_key(int argc, char **argv);


/* log_pages.c */
void print_json_string(const char *s, size_t max);
struct nvme_smart_log;
struct nvme_error_log_page;
void print_smart_log(const struct nvme_smart_log *s, bool json);
void print_error_log(const struct nvme_error_log_page *e, unsigned n, bool json);
void print_hex_log(const uint8_t *buf, size_t len, bool json);
struct csd_vendor_stats;
struct csd_tcp_link_log;
void print_vendor_stats(const struct csd_vendor_stats *st, bool json);
void print_reasons(const char reasons[8][256], bool json);
void print_link_log(const struct csd_tcp_link_log *l, bool json);

#endif
