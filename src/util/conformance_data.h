/* SPDX-License-Identifier: MIT */
/*
 * Reader of the bpf_conformance .data format: `-- NAME` lines start sections (asm, mem,
 * result, error, raw, c, and the "no register offset" marker); `#` lines before the first
 * section are comments. An unknown section is an error naming its line.
 */
#ifndef CSD_CONFORMANCE_DATA_H
#define CSD_CONFORMANCE_DATA_H

#include <stdbool.h>
#include <stddef.h>

struct csd_data_file {
	char *asm_text;		/* each NULL when the section is absent */
	char *mem;
	char *result;
	char *error;
	char *raw;
	bool has_error;		/* an -- error section, possibly empty */
};

/* Parse `text`; 0 on success, -EINVAL with a message naming the line in err. */
int csd_data_parse(const char *text, struct csd_data_file *df, char *err, size_t err_size);
void csd_data_free(struct csd_data_file *df);

#endif
