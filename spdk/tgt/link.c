/* SPDX-License-Identifier: MIT */
/*
 * The link as the target counts it (vendor log C2h, as csd-target serves it), for a drive
 * inside SPDK: SPDK's TCP transport keeps no byte counts, so the bytes are the kernel's,
 * read at this end of each of the association's TCP connections through sock_diag
 * (tcp_info: bytes received, bytes sent). PDU counts stay zero.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "csd_spdk.h"

static int parse_endpoint(const char *addr, const char *port, int *family, void *ip,
			  uint16_t *port_out)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);

	if (*end || p > 65535)
		return -EINVAL;
	*port_out = htons((uint16_t)p);
	if (inet_pton(AF_INET, addr, ip) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, addr, ip) == 1)
		*family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

int csd_spdk_tcp_bytes(const struct csd_spdk_endpoints *e, uint64_t *in, uint64_t *out)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST },
		.req = { .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u,
			 .idiag_ext = 1 << (INET_DIAG_INFO - 1),
			 .id.idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } },
	};
	uint8_t buf[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	int family, family2, fd, ret = -ENOENT;
	ssize_t n;

	if (parse_endpoint(e->local_addr, e->local_port, &family, msg.req.id.idiag_src,
			   &msg.req.id.idiag_sport) ||
	    parse_endpoint(e->peer_addr, e->peer_port, &family2, msg.req.id.idiag_dst,
			   &msg.req.id.idiag_dport) || family != family2)
		return -EINVAL;
	msg.req.sdiag_family = (uint8_t)family;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (send(fd, &msg, sizeof(msg), 0) != (ssize_t)sizeof(msg)) {
		ret = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	/* an exact lookup answers with one message: the socket, or an error */
	if (!NLMSG_OK(nlh, (size_t)n) || nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		goto out;
	{
		struct inet_diag_msg *m = NLMSG_DATA(nlh);
		int len = (int)(nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));

		for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len);
		     a = RTA_NEXT(a, len)) {
			struct tcp_info ti = { 0 };

			if (a->rta_type != INET_DIAG_INFO)
				continue;
			size_t have = RTA_PAYLOAD(a);

			memcpy(&ti, RTA_DATA(a), have < sizeof(ti) ? have : sizeof(ti));
			*in = ti.tcpi_bytes_received;
			/* sent once (not acknowledged: an answer just sent counts before its ACK) */
			*out = ti.tcpi_bytes_sent - ti.tcpi_bytes_retrans;
			ret = 0;
		}
	}
out:
	close(fd);
	return ret;
}
