// SPDX-License-Identifier: MIT
/* Programs that exercise the ELF loader and runtime: maps, global data, calls, faults. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} byte_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

const char greeting[] = "len=%d first=%c";
const __u64 multiplier = 3;
__u64 runs = 100;	/* .data */
__u64 last_len;		/* .bss */

static __attribute__((noinline)) __u64 scale(__u64 x)
{
	return x * multiplier;
}

__attribute__((noinline)) __u64 add_runs(__u64 x)
{
	return x + runs;
}

/* Counts each distinct byte value of the first 16 bytes in a hash map; returns
 * scale(len) + runs(before increment) + number of distinct bytes. */
SEC("csd")
__u64 maps_and_globals(const __u8 *data, __u64 len)
{
	__u32 zero = 0;
	__u64 distinct = 0, *total;

	for (__u32 i = 0; i < 16 && i < len; i++) {
		__u32 key = data[i];
		__u64 one = 1, *v = bpf_map_lookup_elem(&byte_counts, &key);

		if (v) {
			__sync_fetch_and_add(v, 1);
		} else {
			bpf_map_update_elem(&byte_counts, &key, &one, BPF_NOEXIST);
			distinct++;
		}
	}
	total = bpf_map_lookup_elem(&totals, &zero);
	if (total)
		*total += len;
	if (len)
		bpf_trace_printk(greeting, sizeof(greeting), (int)len, data[0]);
	last_len = len;
	__u64 r = scale(len) + add_runs(distinct);
	runs++;
	return r;
}

SEC("csd")
__u64 read_past_end(const __u8 *data, __u64 len)
{
	return data[len];
}

SEC("csd")
__u64 write_rodata(const __u8 *data, __u64 len)
{
	*(volatile char *)&greeting[0] = 'X';
	return 0;
}

static __attribute__((noinline)) __u64 recurse(__u64 n)
{
	volatile __u64 pad[8] = { n };

	return n ? recurse(n - 1) + pad[0] : 0;
}

SEC("csd")
__u64 deep_calls(const __u8 *data, __u64 len)
{
	return recurse(len);
}

SEC("csd")
__u64 spin_forever(const __u8 *data, __u64 len)
{
	volatile __u64 n = 0;

	for (;;)
		n++;
	return n;
}

SEC("csd")
__u64 bad_map_key(const __u8 *data, __u64 len)
{
	/* a key pointer that is not the program's memory */
	return (__u64)bpf_map_lookup_elem(&totals, (void *)0x1000);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
