/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance_data.h"
#include "conformance_runner.h"
#include "util.h"

bool conf_verify;
enum csd_ebpf_engine conf_engine = CSD_EBPF_ENGINE_INTERP;

void conf_run_text(const char *text, bool raw_bytes, struct conf_outcome *out)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts);
	CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts);
	struct csd_ebpf_prog *prog;
	struct csd_data_file df;
	long n;

	memset(out, 0, sizeof(*out));
	out->stage = CONF_PARSE;
	if (csd_data_parse(text, &df, out->msg, sizeof(out->msg)))
		return;
	out->has_error = df.has_error;
	if (df.result) {
		out->has_result = true;
		out->expected = strtoull(df.result, NULL, 16);
	}
	out->stage = CONF_ASM;
	if (df.asm_text) {
		if (csd_ebpf_asm(df.asm_text, &out->insns, &out->insn_cnt, out->msg,
				 sizeof(out->msg)))
			goto done;
	} else {
		uint8_t *bytes;

		n = csd_hex_parse(df.raw, !raw_bytes, &bytes, out->msg, sizeof(out->msg));
		if (n < 0)
			goto done;
		if (n % 8) {
			free(bytes);
			snprintf(out->msg, sizeof(out->msg), "-- raw is not whole instructions");
			goto done;
		}
		out->insns = (struct csd_ebpf_insn *)bytes;
		out->insn_cnt = (size_t)n / 8;
	}
	if (df.asm_text && df.raw) {
		uint8_t *bytes;

		/* both given: the assembler must produce exactly the raw words */
		n = csd_hex_parse(df.raw, !raw_bytes, &bytes, out->msg, sizeof(out->msg));
		if (n < 0)
			goto done;
		if ((size_t)n != out->insn_cnt * 8 || memcmp(bytes, out->insns, (size_t)n)) {
			snprintf(out->msg, sizeof(out->msg),
				 "assembled program differs from its -- raw words");
			free(bytes);
			goto done;
		}
		free(bytes);
	}
	if (df.mem) {
		n = csd_hex_parse(df.mem, false, &out->mem, out->msg, sizeof(out->msg));
		if (n < 0)
			goto done;
		out->mem_len = (size_t)n;
	}
	out->stage = CONF_LOAD;
	lopts.log_buf = out->msg;
	lopts.log_size = sizeof(out->msg);
	if (csd_ebpf_prog__load(out->insns, out->insn_cnt, &lopts, &prog))
		goto done;
	if (conf_verify) {
		CSD_EBPF_OPTS(csd_ebpf_verify_opts, vopts, .log_buf = out->verify_msg,
			      .log_size = sizeof(out->verify_msg));

		out->verified = csd_ebpf_prog__verify(prog, &vopts) == 0;
	}
	out->stage = CONF_RUN;
	ropts.budget = 1u << 24;
	ropts.engine = conf_engine;
	if (csd_ebpf_prog__run(prog, out->mem, out->mem_len, &ropts, &out->r0)) {
		snprintf(out->msg, sizeof(out->msg), "%s", ropts.fault.msg);
	} else {
		out->stage = CONF_OK;
		out->msg[0] = '\0';
	}
	csd_ebpf_prog__free(prog);
done:
	csd_data_free(&df);
}

void conf_outcome_free(struct conf_outcome *out)
{
	free(out->insns);
	free(out->mem);
	out->insns = NULL;
	out->mem = NULL;
}
