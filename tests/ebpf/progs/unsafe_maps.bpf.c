// SPDX-License-Identifier: MIT
/*
 * Map programs for the verifier's tests: each function but checked_lookup breaks one rule the
 * verifier must catch (tests/ebpf/test_verify.c names the reason it must give).
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

const volatile __u64 limit = 10;

SEC("csd")
__u64 checked_lookup(const __u8 *data, __u64 len)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);

	if (!v)
		return 0;
	*v += len;
	return *v;
}

SEC("csd")
__u64 null_deref(const __u8 *data, __u64 len)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);

	return *v;
}

SEC("csd")
__u64 value_past_end(const __u8 *data, __u64 len)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);

	if (!v)
		return 0;
	return v[1];
}

SEC("csd")
__u64 leak_into_map(const __u8 *data, __u64 len)
{
	__u32 key = 2;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);

	if (!v)
		return 0;
	*v = (__u64)data;
	return 0;
}

SEC("csd")
__u64 write_rodata(const __u8 *data, __u64 len)
{
	*(volatile __u64 *)&limit = len;
	return 0;
}

SEC("csd")
__u64 key_uninit(const __u8 *data, __u64 len)
{
	__u32 key;
	__u64 *v;

	if (len > 5)	/* set on one path only: the other reads the zeroed frame (accepted) */
		key = 1;
	v = bpf_map_lookup_elem(&counts, &key);
	return v ? *v : 0;
}

/* two lookups, two elements: their distance is not what their offsets say (issue 16) */
SEC("csd")
__u64 two_elements(const __u8 *data, __u64 len)
{
	__u32 k0 = 0, k1 = 1;
	__u64 *a = bpf_map_lookup_elem(&counts, &k0);
	__u64 *b = bpf_map_lookup_elem(&counts, &k1);

	if (!a)
		return 0;
	if (!b)
		return 1;
	return (__u64)b - (__u64)a;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
