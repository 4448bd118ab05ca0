/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance_data.h"

static int append(char **dst, const char *line, size_t len)
{
	size_t old = *dst ? strlen(*dst) : 0;
	char *n = realloc(*dst, old + len + 2);

	if (!n)
		return -ENOMEM;
	memcpy(n + old, line, len);
	n[old + len] = '\n';
	n[old + len + 1] = '\0';
	*dst = n;
	return 0;
}

int csd_data_parse(const char *text, struct csd_data_file *df, char *err, size_t err_size)
{
	static const char *const ignored[] = { "c", "no register offset" };
	const char *p = text;
	char **cur = NULL, *discard = NULL;
	size_t lineno = 0;
	int ret = 0;

	memset(df, 0, sizeof(*df));
	while (*p && !ret) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		lineno++;
		if (len >= 3 && !strncmp(p, "-- ", 3)) {
			char name[64];
			size_t nlen = len - 3;

			while (nlen && (p[3 + nlen - 1] == ' ' || p[3 + nlen - 1] == '\r'))
				nlen--;
			snprintf(name, sizeof(name), "%.*s", (int)nlen, p + 3);
			cur = !strcmp(name, "asm") ? &df->asm_text :
			      !strcmp(name, "mem") ? &df->mem :
			      !strcmp(name, "result") ? &df->result :
			      !strcmp(name, "error") ? &df->error :
			      !strcmp(name, "raw") ? &df->raw : NULL;
			if (cur == &df->error)
				df->has_error = true;
			if (!cur) {
				bool known = false;

				for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
					known |= !strcmp(name, ignored[i]);
				if (!known) {
					snprintf(err, err_size, "line %zu: unknown section '-- %s'",
						 lineno, name);
					ret = -EINVAL;
				}
				cur = &discard;
			} else if (*cur) {
				snprintf(err, err_size, "line %zu: section '-- %s' appears twice",
					 lineno, name);
				ret = -EINVAL;
			} else {
				*cur = strdup("");
				if (!*cur)
					ret = -ENOMEM;
			}
		} else if (cur) {
			ret = append(cur, p, len);
		}
		p += len + (nl ? 1 : 0);
	}
	free(discard);
	if (!ret && !df->asm_text && !df->raw) {
		snprintf(err, err_size, "line %zu: no -- asm or -- raw section: nothing to run",
			 lineno ? lineno : 1);
		ret = -EINVAL;
	}
	if (ret)
		csd_data_free(df);
	return ret;
}

void csd_data_free(struct csd_data_file *df)
{
	free(df->asm_text);
	free(df->mem);
	free(df->result);
	free(df->error);
	free(df->raw);
	memset(df, 0, sizeof(*df));
}
