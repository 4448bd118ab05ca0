// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Lesson 2a: count network packets per IP protocol. A socket filter on a packet socket sees
 * every packet of its interface; it counts the ones arriving (not the copies of outgoing
 * ones, which a packet socket on loopback also sees) and lets nothing through to the socket:
 * the counting is all that is wanted.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define PACKET_HOST	0

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} protocols SEC(".maps");

SEC("socket")
int count_packets(struct __sk_buff *skb)
{
	__u8 proto;
	__u32 key;
	__u64 *n;

	if (skb->pkt_type != PACKET_HOST || skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1))	/* IPv4 protocol field */
		return 0;
	key = proto;
	n = bpf_map_lookup_elem(&protocols, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
