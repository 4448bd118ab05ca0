/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP target: puts a csdlab drive (struct csd_subsys) on a TCP port. One TCP connection
 * per queue, any number of hosts, one epoll event loop that never waits on one client; every
 * byte that crosses a socket is counted by direction and PDU type.
 */
#ifndef CSD_TCP_H
#define CSD_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csd/device.h"
#include "csd/link.h"

/* A host that must authenticate (DH-HMAC-CHAP), with its secrets in DHHC-1 form. */
struct csd_tcp_host_secret {
	const char *hostnqn;
	const char *secret;		/* the host's: it proves itself with it */
	const char *ctrl_secret;	/* the controller's, for bidirectional; NULL: none */
	const char *dhchap_hash;	/* this host's preferred hash; NULL: the target's */
	const char *dhchap_dhgroup;	/* this host's preferred DH group; NULL: the target's */
};

struct csd_tcp_target_config {
	size_t sz;			/* sizeof(struct csd_tcp_target_config) */
	const char *addr;		/* default 127.0.0.1 */
	uint16_t port;			/* default 4420; 0 picks a free port */
	const char *advertise_addr;	/* in the discovery log; default: addr */
	const char *const *allowed_hosts; /* host NQNs; NULL: any host */
	size_t nallowed;
	uint32_t maxh2cdata;		/* default 128 KiB */
	bool verbose;			/* connection events on stderr */
	/*
	 * Slow clients (slowloris) lose their connection: one that has not sent ICReq and
	 * Connect within handshake_ms of connecting, or that has a PDU half sent and completes
	 * none within pdu_ms. 0: 10000 ms each.
	 */
	uint32_t handshake_ms;
	uint32_t pdu_ms;
	/*
	 * NVMe in-band authentication: when host_secrets is set, only the hosts listed may
	 * connect, and each queue they open must pass DH-HMAC-CHAP (within handshake_ms) before
	 * it may do anything else. The controller prefers dhchap_hash (default "sha256") and
	 * dhchap_dhgroup (default "ffdhe2048"; "null" for none) among what the host offers.
	 */
	const struct csd_tcp_host_secret *host_secrets;
	size_t nhost_secrets;
	bool allow_unauthenticated;	/* hosts without a secret may connect too, unauthenticated */
	const char *dhchap_hash;
	const char *dhchap_dhgroup;
	/*
	 * Connections at once; more are accepted and closed at once. 0: the descriptor limit
	 * (RLIMIT_NOFILE) less 64 for everything else. Should descriptors run out all the same,
	 * a new connection is shed (a spare descriptor kept for it) and accepting pauses 100 ms:
	 * the loop never spins on a listening socket it cannot serve.
	 */
	unsigned max_connections;
	/*
	 * A controller whose host set no keep alive (KATO 0) and has no command outstanding is
	 * closed after this many ms without a command. 0: 120000.
	 */
	uint32_t idle_ms;
	/*
	 * After an event the loop keeps polling (epoll_wait without sleeping) this long before it
	 * sleeps, so that a host's next command, sent as soon as its last completion arrived, is
	 * taken without a wakeup (which costs several microseconds under virtualisation, the
	 * better part of a 4 KiB read at QD1). 0: 50 us; negative: never poll.
	 */
	int32_t busy_poll_us;
};

struct csd_tcp_target;

int csd_tcp_target_create(struct csd_subsys *subsys, const struct csd_tcp_target_config *cfg,
			  struct csd_tcp_target **out, char *err, size_t err_size);
/* The port actually listened on. */
uint16_t csd_tcp_target_port(const struct csd_tcp_target *t);
/* Serve until csd_tcp_target_stop(); returns 0 or a negative errno. */
int csd_tcp_target_run(struct csd_tcp_target *t);
/* Async-signal-safe: makes run() return after closing every connection. */
void csd_tcp_target_stop(struct csd_tcp_target *t);
void csd_tcp_target_destroy(struct csd_tcp_target *t);

/*
 * Replace the hosts that must authenticate and their secrets (csd-target does it on SIGHUP).
 * New Connects and every new authentication (a host's Negotiate, re-authentication included)
 * use them; hosts already connected stay connected. Only for a target created with host
 * secrets; on an error (named in err) nothing changes. Thread-safe.
 */
int csd_tcp_target_set_host_secrets(struct csd_tcp_target *t,
				    const struct csd_tcp_host_secret *secrets, size_t n, char *err,
				    size_t err_size);

/* All traffic since the start (connections that closed included); thread-safe. */
void csd_tcp_target_traffic(struct csd_tcp_target *t, struct csd_tcp_traffic *out);
/* Connections open now. */
unsigned csd_tcp_target_connections(struct csd_tcp_target *t);

#endif
