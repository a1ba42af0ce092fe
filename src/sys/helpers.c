// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders to static inline kernel functions, and the module parameters
 * (module_param defines static data, which the Rust module! macro of 6.12
 * cannot declare).
 */
#include <crypto/algapi.h>
#include <crypto/hash.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/string.h>
#include <linux/uio.h>
#include <linux/netdevice.h>
#include <linux/rculist.h>
#include <linux/skbuff.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/sched/task.h>
#include <linux/timekeeping.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/genetlink.h>
#include <net/gso.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netlink.h>
#include <net/ip.h>
#include <net/neighbour.h>
#include <net/route.h>
#include <net/inet_hashtables.h>
#include <net/inet6_hashtables.h>
#include <net/addrconf.h>
#include <net/ip6_route.h>

#include "helpers.h"

static unsigned short ctrl_port = 7300;
module_param(ctrl_port, ushort, 0444);
MODULE_PARM_DESC(ctrl_port,
		 "Control-channel TCP port of new network namespaces (1-65535, default 7300)");

unsigned short baton_param_ctrl_port(void)
{
	return ctrl_port;
}

/* Like IPVS's conn_tab_bits: the flow table of a namespace has
 * 2^conn_tab_bits buckets; size it near log2 of the connections expected. */
static unsigned int conn_tab_bits = 12;
module_param(conn_tab_bits, uint, 0444);
MODULE_PARM_DESC(conn_tab_bits,
		 "Flow table of each network namespace: 2^bits hash buckets (8-20, default 12)");

unsigned int baton_param_conn_tab_bits(void)
{
	return conn_tab_bits;
}

static unsigned int conn_max = 65536;
module_param(conn_max, uint, 0444);
MODULE_PARM_DESC(conn_max,
		 "Most handed-off connections (flows) a network namespace keeps (1-4194304, default 65536)");

unsigned int baton_param_conn_max(void)
{
	return conn_max;
}

MODULE_VERSION(BATON_VERSION);

const char *baton_version(void)
{
	return BATON_VERSION;
}

void *baton_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

struct net *baton_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

struct sk_buff *baton_genlmsg_new(void)
{
	return genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
}

struct sk_buff *baton_genlmsg_new_size(size_t payload)
{
	return genlmsg_new(payload, GFP_KERNEL);
}

void *baton_genlmsg_put_reply(struct sk_buff *skb, struct genl_info *info,
			      const struct genl_family *family, u8 cmd)
{
	return genlmsg_put_reply(skb, info, family, 0, cmd);
}

void baton_genlmsg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

int baton_genlmsg_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

void baton_nlmsg_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

/*
 * The family whose multicast groups notifications go to: set once it is
 * registered, cleared (and every sender out) before it is unregistered.
 */
static const struct genl_family __rcu *baton_events_family;

void baton_events_publish(const struct genl_family *family)
{
	rcu_assign_pointer(baton_events_family, family);
	if (!family)
		synchronize_rcu();
}

bool baton_events_listened(struct net *net, unsigned int group)
{
	const struct genl_family *family;
	bool listened;

	rcu_read_lock();
	family = rcu_dereference(baton_events_family);
	listened = family && genl_has_listeners(family, net, group);
	rcu_read_unlock();
	return listened;
}

/* A notification of command @cmd, NULL without memory or family. Atomic:
 * the packet path and the control channel's threads send them. */
struct sk_buff *baton_event_new(size_t payload, u8 cmd, void **hdr)
{
	const struct genl_family *family;
	struct sk_buff *skb = genlmsg_new(payload, GFP_ATOMIC);

	if (!skb)
		return NULL;
	rcu_read_lock();
	family = rcu_dereference(baton_events_family);
	*hdr = family ? genlmsg_put(skb, 0, 0, family, 0, cmd) : NULL;
	rcu_read_unlock();
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

/* Sends @skb (consumed) to @group's listeners in @net. */
int baton_event_send(struct sk_buff *skb, void *hdr, struct net *net,
		     unsigned int group)
{
	const struct genl_family *family;
	int ret = -ENOENT;

	genlmsg_end(skb, hdr);
	rcu_read_lock();
	family = rcu_dereference(baton_events_family);
	if (family)
		ret = genlmsg_multicast_netns(family, net, skb, 0, group,
					      GFP_ATOMIC);
	else
		nlmsg_free(skb);
	rcu_read_unlock();
	return ret;
}

const struct genl_info *baton_genl_info_dump(struct netlink_callback *cb)
{
	return genl_info_dump(cb);
}

/* A message of a dump, addressed as the answer to the dump's request. */
void *baton_genlmsg_put_dump(struct sk_buff *skb, struct netlink_callback *cb,
			     int flags, u8 cmd)
{
	const struct genl_info *info = genl_info_dump(cb);

	return genlmsg_put(skb, info->snd_portid, info->snd_seq, info->family,
			   flags, cmd);
}

void baton_genl_dump_check_consistent(struct netlink_callback *cb, void *hdr)
{
	genl_dump_check_consistent(cb, hdr);
}

void baton_genlmsg_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

void baton_extack_set(struct netlink_ext_ack *extack, const char *msg,
		      const struct nlattr *attr)
{
	if (!extack)
		return;
	extack->_msg = msg;
	if (attr)
		extack->bad_attr = attr;
}

struct nlattr *baton_nla_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start(skb, type);
}

void baton_nla_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_end(skb, start);
}

void baton_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_cancel(skb, start);
}

int baton_nla_len(const struct nlattr *nla)
{
	return nla_len(nla);
}

void *baton_nla_data(const struct nlattr *nla)
{
	return nla_data(nla);
}

/* A socket timeout of @ms milliseconds; UINT_MAX is none (block until done). */
static long baton_timeo(unsigned int ms)
{
	return ms == UINT_MAX ? MAX_SCHEDULE_TIMEOUT : msecs_to_jiffies(ms);
}

void baton_sock_set_timeouts(struct socket *sock, unsigned int rcv_ms,
			     unsigned int snd_ms)
{
	WRITE_ONCE(sock->sk->sk_rcvtimeo, baton_timeo(rcv_ms));
	WRITE_ONCE(sock->sk->sk_sndtimeo, baton_timeo(snd_ms));
}

/*
 * Control sockets: no Nagle (frames are small and latency matters), port
 * reuse for the listener, and abortive close: a kernel socket holds no
 * reference on its namespace, so nothing of it (FIN_WAIT, TIME_WAIT timers)
 * may outlive the release that the namespace's exit does.
 */
void baton_sock_prepare(struct socket *sock)
{
	sock_set_reuseaddr(sock->sk);
	sock_no_linger(sock->sk);
	tcp_sock_set_nodelay(sock->sk);
}

void baton_sock_set_rcvbuf(struct socket *sock, int bytes)
{
	sock_set_rcvbuf(sock->sk, bytes);
}

/* Marks the packets @sock sends (SO_MARK), and those of the sockets a
 * listener accepts, which inherit the mark. */
void baton_sock_set_mark(struct socket *sock, u32 mark)
{
	sock_set_mark(sock->sk, mark);
}

/*
 * Clears @sock's mark and sends an ACK of what it received at once: the
 * acknowledgements the mark had withheld are due.
 */
void baton_sock_unmark_ack(struct socket *sock)
{
	struct sock *sk = sock->sk;

	sock_set_mark(sk, 0);
	lock_sock(sk);
	if ((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT))
		__tcp_send_ack(sk, tcp_sk(sk)->rcv_nxt, 0);
	release_sock(sk);
}

u32 baton_skb_mark(const struct sk_buff *skb)
{
	return skb->mark;
}

/*
 * Whether a read of @sock would not block: data queued, the peer's FIN or
 * an error. Lockless: a hint that the next read confirms.
 */
bool baton_sock_readable(struct socket *sock)
{
	struct sock *sk = sock->sk;

	return !skb_queue_empty_lockless(&sk->sk_receive_queue) ||
	       (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) ||
	       READ_ONCE(sk->sk_err);
}

void baton_sock_set_freebind(struct socket *sock)
{
	ip_sock_set_freebind(sock->sk);
}

void baton_sock_set_v6only(struct socket *sock, bool on)
{
	lock_sock(sock->sk);
	sock->sk->sk_ipv6only = on;
	release_sock(sock->sk);
}

int baton_tcp_state(struct socket *sock, struct baton_tcp_state *out)
{
	struct sock *sk = sock->sk;
	struct tcp_sock *tp;

	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return -EINVAL;
	tp = tcp_sk(sk);
	lock_sock(sk);
	out->bytes_received = tp->bytes_received;
	out->snd_una = tp->snd_una;
	out->snd_nxt = tp->snd_nxt;
	out->rcv_nxt = tp->rcv_nxt;
	out->snd_wnd = tp->snd_wnd;
	out->ts_recent = tp->rx_opt.ts_recent;
	out->tsval_now = tcp_clock_ts(tp->tcp_usec_ts) + tp->tsoffset;
	out->mss_clamp = tp->rx_opt.mss_clamp;
	out->tstamp_ok = tp->rx_opt.tstamp_ok;
	out->sack_ok = tp->rx_opt.sack_ok;
	out->wscale_ok = tp->rx_opt.wscale_ok;
	out->snd_wscale = tp->rx_opt.snd_wscale;
	out->rcv_wscale = tp->rx_opt.rcv_wscale;
	out->state = sk->sk_state;
	release_sock(sk);
	return 0;
}

/*
 * The TCP socket (full, request or time-wait) of namespace net from local
 * (this host) to remote, with a reference the caller drops (sock_gen_put),
 * or NULL. The endpoints are of one family.
 */
static struct sock *baton_lookup(struct net *net,
				 const struct baton_endpoint *local,
				 const struct baton_endpoint *remote)
{
	struct inet_hashinfo *h = net->ipv4.tcp_death_row.hashinfo;
	struct sock *sk = NULL;

	if (local->family != remote->family)
		return NULL;
	rcu_read_lock();
	if (local->family == AF_INET) {
		__be32 laddr, raddr;

		memcpy(&laddr, local->addr, sizeof(laddr));
		memcpy(&raddr, remote->addr, sizeof(raddr));
		sk = inet_lookup_established(net, h, raddr, remote->port,
					     laddr, local->port, 0);
	} else if (IS_ENABLED(CONFIG_IPV6) && local->family == AF_INET6) {
		struct in6_addr laddr, raddr;

		memcpy(&laddr, local->addr, sizeof(laddr));
		memcpy(&raddr, remote->addr, sizeof(raddr));
		sk = __inet6_lookup_established(net, h, &raddr, remote->port,
						&laddr, ntohs(local->port),
						0, 0);
	}
	rcu_read_unlock();
	return sk;
}

/*
 * The full TCP socket of namespace net from local (this host) to remote,
 * with a reference the caller drops (sock_gen_put), or NULL: a request or
 * time-wait socket has no owner to abort or release.
 */
static struct sock *baton_lookup_full(struct net *net,
				      const struct baton_endpoint *local,
				      const struct baton_endpoint *remote)
{
	struct sock *sk = baton_lookup(net, local, remote);

	if (sk && !sk_fullsock(sk)) {
		sock_gen_put(sk);
		return NULL;
	}
	return sk;
}

/*
 * Aborts the TCP connection of namespace net from laddr:lport (this host)
 * to raddr:rport, as `ss -K` does: the stack sends its RST and the owner's
 * calls fail with ECONNABORTED. Process context. -ENOENT if there is no such
 * full socket. Addresses and ports in network byte order.
 */
int baton_tcp_abort(struct net *net, const struct baton_endpoint *local,
		    const struct baton_endpoint *remote)
{
	struct sock *sk;
	int err;

	sk = baton_lookup_full(net, local, remote);
	if (!sk)
		return -ENOENT;
	err = tcp_abort(sk, ECONNABORTED);
	sock_gen_put(sk);
	return err;
}

/*
 * Copies the n bytes sk's owner has received but not read (from copied_seq
 * on) to buf: 0, or -EBUSY if the receive queue does not hold them in
 * order. Under the socket's lock.
 */
static int baton_copy_unread(struct sock *sk, u8 *buf, u32 n)
{
	struct tcp_sock *tp = tcp_sk(sk);
	u32 seq = tp->copied_seq, done = 0;
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_receive_queue, skb) {
		u32 start = TCP_SKB_CB(skb)->seq, off, len;

		if (done == n)
			break;
		if (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_SYN)
			start++;
		if (after(start, seq))
			return -EBUSY;
		off = seq - start;
		if (off >= skb->len)
			continue;
		len = min_t(u32, skb->len - off, n - done);
		if (skb_copy_bits(skb, off, buf + done, len))
			return -EBUSY;
		done += len;
		seq += len;
	}
	return done == n ? 0 : -EBUSY;
}

/*
 * Gives up the TCP connection of namespace net from local (this host) to
 * remote for its move to another host, if it is idle: established, its
 * owner read the peer's bytes up to read_from and no further, the bytes
 * from there to rcv_nxt (at most room) are in order in the receive queue,
 * nothing came after rcv_nxt, and it sent up to snd_nxt with nothing
 * queued. The caller knows that the peer acknowledged snd_nxt (an
 * acknowledgment this socket may not have seen yet: it rides on the
 * segment the caller holds). Checked and closed under the socket's lock,
 * so that the owner can neither send nor read in between; the unread bytes
 * are copied to buf and dropped, as tcp_disconnect()
 * drops its queue: they go with the connection. Closed as tcp_abort() does
 * but without its RST: nothing reaches the peer, and the owner reads the
 * end of the stream. *out: the peer's handshake options. 0 given up,
 * -EBUSY not idle, -ENOENT no such connection. Process context; network
 * byte order.
 */
int baton_tcp_release(struct net *net, const struct baton_endpoint *local,
		      const struct baton_endpoint *remote, u32 rcv_nxt,
		      u32 snd_nxt, u32 read_from, u8 *buf, u32 room,
		      struct baton_tcp_syn *out)
{
	struct tcp_sock *tp;
	struct sock *sk;
	int err = -EBUSY;
	u32 unread;

	sk = baton_lookup_full(net, local, remote);
	if (!sk)
		return -ENOENT;
	lock_sock(sk);
	tp = tcp_sk(sk);
	unread = rcv_nxt - read_from;
	if (sk->sk_state == TCP_ESTABLISHED && tp->rcv_nxt == rcv_nxt &&
	    READ_ONCE(tp->copied_seq) == read_from && unread <= room &&
	    !tp->urg_data && RB_EMPTY_ROOT(&tp->out_of_order_queue) &&
	    tp->snd_nxt == snd_nxt && READ_ONCE(tp->write_seq) == snd_nxt &&
	    !baton_copy_unread(sk, buf, unread)) {
		out->mss_clamp = tp->rx_opt.mss_clamp;
		out->snd_wscale = tp->rx_opt.snd_wscale;
		out->sack_ok = tp->rx_opt.sack_ok ? 1 : 0;
		out->tstamp_ok = tp->rx_opt.tstamp_ok;
		out->wscale_ok = tp->rx_opt.wscale_ok;
		__skb_queue_purge(&sk->sk_receive_queue);
		WRITE_ONCE(tp->copied_seq, tp->rcv_nxt);
		local_bh_disable();
		bh_lock_sock(sk);
		tcp_done(sk);
		bh_unlock_sock(sk);
		local_bh_enable();
		err = 0;
	}
	release_sock(sk);
	sock_gen_put(sk);
	return err;
}

/*
 * How far the owner of skb's TCP socket has read its peer's bytes
 * (copied_seq), if skb carries new data of that socket (end_seq, after
 * skb's last byte in the socket's sequence space, is beyond its snd_nxt:
 * the output path passes the hooks before it moves snd_nxt): 1 with
 * *copied set, else 0 (a retransmission, a packet of no TCP socket). Any
 * context: the fields are read once, without the socket's lock.
 */
int baton_skb_tcp_read_seq(const struct sk_buff *skb, u32 end_seq, u32 *copied)
{
	struct sock *sk = skb->sk;
	const struct tcp_sock *tp;

	if (!sk || !sk_fullsock(sk) || sk->sk_type != SOCK_STREAM ||
	    sk->sk_protocol != IPPROTO_TCP)
		return 0;
	tp = tcp_sk(sk);
	if (!after(end_seq, READ_ONCE(tp->snd_nxt)))
		return 0;
	*copied = READ_ONCE(tp->copied_seq);
	return 1;
}

/*
 * Ends the TIME_WAIT (or FIN_WAIT2 mini-socket) of the TCP connection of
 * namespace net from laddr:lport to raddr:rport, if there is one: 1 if one
 * was ended, else 0. Process context; addresses and ports in network byte
 * order.
 */
int baton_tcp_end_timewait(struct net *net, const struct baton_endpoint *local,
			   const struct baton_endpoint *remote)
{
	struct sock *sk;

	sk = baton_lookup(net, local, remote);
	if (!sk)
		return 0;
	if (sk->sk_state != TCP_TIME_WAIT) {
		sock_gen_put(sk);
		return 0;
	}
	/*
	 * Unhashes it and drops the reference the lookup took. The ehash lock
	 * it takes is also taken in softirq (the receive path): BHs off, as
	 * inet_twsk_purge() does.
	 */
	local_bh_disable();
	inet_twsk_deschedule_put(inet_twsk(sk));
	local_bh_enable();
	return 1;
}

/*
 * Where the transport header of skb's IP packet starts (offset from
 * skb->data): after an IPv4 header and its options, or an IPv6 header and
 * its extension headers. -ENOENT if its protocol is not proto (IPv4's, or
 * proto6 for IPv6) or it is a fragment (a first one passes if first_ok);
 * -EINVAL if the IP header or an extension header is truncated. If frag
 * is not NULL, *frag tells whether the packet is a (first) fragment.
 */
static int baton_l4_offset(struct sk_buff *skb, u8 proto, u8 proto6,
			   bool first_ok, bool *frag)
{
	int noff = skb_network_offset(skb);
	u8 version;

	if (!pskb_may_pull(skb, noff + 1))
		return -EINVAL;
	version = skb_network_header(skb)[0] >> 4;
	if (version == 4) {
		const struct iphdr *iph;
		unsigned int ihl;

		if (!pskb_may_pull(skb, noff + sizeof(*iph)))
			return -EINVAL;
		iph = ip_hdr(skb);
		if (iph->protocol != proto)
			return -ENOENT;
		if (first_ok ? iph->frag_off & htons(IP_OFFSET) :
			       ip_is_fragment(iph))
			return -ENOENT;
		if (frag)
			*frag = ip_is_fragment(iph);
		ihl = iph->ihl * 4;
		if (ihl < sizeof(*iph) || !pskb_may_pull(skb, noff + ihl))
			return -EINVAL;
		return noff + ihl;
	}
	if (IS_ENABLED(CONFIG_IPV6) && version == 6) {
		__be16 frag_off;
		u8 nexthdr;
		int off;

		if (!pskb_may_pull(skb, noff + sizeof(struct ipv6hdr)))
			return -EINVAL;
		nexthdr = ipv6_hdr(skb)->nexthdr;
		off = ipv6_skip_exthdr(skb, noff + sizeof(struct ipv6hdr),
				       &nexthdr, &frag_off);
		if (off < 0)
			return -EINVAL;
		if (nexthdr != proto6)
			return -ENOENT;
		/* The offset bits; the more-fragments bit too unless first_ok. */
		if (ntohs(frag_off) & (first_ok ? ~0x7 : ~0x6))
			return -ENOENT;
		if (frag)
			*frag = ntohs(frag_off) & 0x1;
		return off;
	}
	return -ENOENT;
}

/*
 * Makes the IP and TCP headers (IPv4 options or IPv6 extension headers,
 * TCP options included) of a TCP packet linear, and writable if asked
 * (unsharing a cloned head as NAT does); returns them in *data, *len, from
 * the IP header on. -ENOENT: not a TCP packet or a fragment; -EINVAL:
 * headers truncated or malformed; -ENOMEM: cannot unshare.
 */
/*
 * The length of the TCP header at thoff (options included), made linear:
 * -EINVAL if it is truncated or its data offset is below 5 words.
 */
static int baton_tcp_doff(struct sk_buff *skb, int thoff)
{
	unsigned int doff;

	if (!pskb_may_pull(skb, thoff + sizeof(struct tcphdr)))
		return -EINVAL;
	doff = ((struct tcphdr *)(skb->data + thoff))->doff * 4;
	if (doff < sizeof(struct tcphdr) || !pskb_may_pull(skb, thoff + doff))
		return -EINVAL;
	return doff;
}

int baton_skb_tcp_headers(struct sk_buff *skb, bool writable, u8 **data,
			  unsigned int *len)
{
	int noff = skb_network_offset(skb);
	int thoff = baton_l4_offset(skb, IPPROTO_TCP, IPPROTO_TCP, false, NULL);
	int doff;

	if (thoff < 0)
		return thoff;
	doff = baton_tcp_doff(skb, thoff);
	if (doff < 0)
		return doff;
	if (writable && skb_ensure_writable(skb, thoff + doff))
		return -ENOMEM;
	*data = skb_network_header(skb);
	*len = thoff - noff + doff;
	return 0;
}

/*
 * The IP header (IPv4 options or IPv6 extension headers included) and TCP
 * ports of a TCP packet that is not a later fragment, whatever its TCP
 * header holds: enough to tell whether a packet that
 * baton_skb_tcp_headers refuses (a first fragment, a bad data offset)
 * belongs to a connection. *hdr_len is what baton_skb_tcp_headers would
 * return in *len (those headers made linear too), or 0 if it would refuse
 * the packet: the packet path walks the IP headers once.
 */
int baton_skb_tcp_ports(struct sk_buff *skb, u8 **data, unsigned int *len,
			unsigned int *hdr_len)
{
	int noff = skb_network_offset(skb);
	bool frag = false;
	int thoff = baton_l4_offset(skb, IPPROTO_TCP, IPPROTO_TCP, true, &frag);
	int doff;

	if (thoff < 0)
		return thoff;
	if (!pskb_may_pull(skb, thoff + 4))
		return -EINVAL;
	*hdr_len = 0;
	if (!frag) {
		doff = baton_tcp_doff(skb, thoff);
		if (doff > 0)
			*hdr_len = thoff - noff + doff;
	}
	*data = skb_network_header(skb);
	*len = thoff - noff + 4;
	return 0;
}

/*
 * Makes the first hdr_len bytes from the IP header on writable (a length
 * baton_skb_tcp_ports returned for this skb), unsharing a cloned head;
 * returns them in *data. -ENOMEM: cannot unshare.
 */
int baton_skb_tcp_writable(struct sk_buff *skb, unsigned int hdr_len, u8 **data)
{
	if (skb_ensure_writable(skb, skb_network_offset(skb) + hdr_len))
		return -ENOMEM;
	*data = skb_network_header(skb);
	return 0;
}

/*
 * Makes the first bytes of an ICMP (IPv4) or ICMPv6 (IPv6) packet, from
 * its IP header on, linear, and writable if asked: at most max bytes,
 * fewer if the packet is shorter (the stack has trimmed it to its IP
 * length); returns them in *data, *len. Where an ICMP error's headers lie
 * depends on lengths inside it, which the caller parses. -ENOENT: not
 * ICMP; -EINVAL: IP header truncated; -ENOMEM: cannot pull or unshare.
 */
int baton_skb_icmp_headers(struct sk_buff *skb, bool writable, unsigned int max,
			   u8 **data, unsigned int *len)
{
	int noff = skb_network_offset(skb);
	int off = baton_l4_offset(skb, IPPROTO_ICMP, IPPROTO_ICMPV6, true, NULL);
	unsigned int n;

	if (off < 0)
		return off;
	n = min_t(unsigned int, skb->len - noff, max);
	if (!pskb_may_pull(skb, noff + n))
		return -ENOMEM;
	if (writable && skb_ensure_writable(skb, noff + n))
		return -ENOMEM;
	*data = skb_network_header(skb);
	*len = n;
	return 0;
}

/*
 * What namespace net holds of the TCP connection from local (this host) to
 * remote: BATON_TCP_NONE, BATON_TCP_REQUEST (a request socket: the
 * handshake not complete), BATON_TCP_FULL or BATON_TCP_TIME_WAIT. Any
 * context.
 */
int baton_tcp_lookup(struct net *net, const struct baton_endpoint *local,
		     const struct baton_endpoint *remote)
{
	struct sock *sk;
	int ret;

	sk = baton_lookup(net, local, remote);
	if (!sk)
		return BATON_TCP_NONE;
	if (sk->sk_state == TCP_NEW_SYN_RECV)
		ret = BATON_TCP_REQUEST;
	else if (sk->sk_state == TCP_TIME_WAIT)
		ret = BATON_TCP_TIME_WAIT;
	else
		ret = BATON_TCP_FULL;
	sock_gen_put(sk);
	return ret;
}

/*
 * Who in namespace net takes a TCP segment from remote to local (this
 * host, the same family) that skb brought (its input interface counts, as
 * for the stack's own lookup): 1 a socket of that connection (full,
 * request or time-wait), 2 none but a listener on local whose mark is
 * mark, 0 neither. RCU read side (a hook).
 */
int baton_tcp_demux(struct net *net, const struct sk_buff *skb,
		    const struct baton_endpoint *local,
		    const struct baton_endpoint *remote, u32 mark)
{
	struct inet_hashinfo *h = net->ipv4.tcp_death_row.hashinfo;
	u16 lport = ntohs(local->port);
	struct sock *sk = NULL;
	int ret = 0;

	if (local->family != remote->family)
		return 0;
	rcu_read_lock();
	if (local->family == AF_INET) {
		int dif = skb->skb_iif, sdif = inet_sdif(skb);
		__be32 laddr, raddr;

		memcpy(&laddr, local->addr, sizeof(laddr));
		memcpy(&raddr, remote->addr, sizeof(raddr));
		sk = __inet_lookup_established(net, h, raddr, remote->port,
					       laddr, lport, dif, sdif);
		if (sk) {
			sock_gen_put(sk);
			ret = 1;
			goto out;
		}
		/* No reference taken on a listener. */
		sk = __inet_lookup_listener(net, h, NULL, 0, raddr,
					    remote->port, laddr, lport, dif,
					    sdif);
	} else if (IS_ENABLED(CONFIG_IPV6) && local->family == AF_INET6) {
		int dif = skb->skb_iif, sdif = inet6_sdif(skb);
		struct in6_addr laddr, raddr;

		memcpy(&laddr, local->addr, sizeof(laddr));
		memcpy(&raddr, remote->addr, sizeof(raddr));
		sk = __inet6_lookup_established(net, h, &raddr, remote->port,
						&laddr, lport, dif, sdif);
		if (sk) {
			sock_gen_put(sk);
			ret = 1;
			goto out;
		}
		/* No reference taken on a listener. */
		sk = inet6_lookup_listener(net, h, NULL, 0, &raddr,
					   remote->port, &laddr, lport, dif,
					   sdif);
	}
	ret = sk && READ_ONCE(sk->sk_mark) == mark ? 2 : 0;
out:
	rcu_read_unlock();
	return ret;
}

/*
 * The route of namespace net to via as the next hop of packets addressed
 * to someone else (FLOWI_FLAG_KNOWN_NH, as IPVS's direct routing asks),
 * with a reference: only if via is a unicast host on a directly connected
 * link (not through a gateway, not this host). NULL otherwise.
 */
struct rtable *baton_route_direct(struct net *net, __be32 via)
{
	struct flowi4 fl4 = {
		.daddr = via,
		.flowi4_flags = FLOWI_FLAG_KNOWN_NH,
	};
	struct rtable *rt;

	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return NULL;
	if (rt->rt_type != RTN_UNICAST || rt->rt_uses_gateway ||
	    rt->rt_gw_family != AF_INET || rt->rt_gw4 != via) {
		ip_rt_put(rt);
		return NULL;
	}
	return rt;
}

void baton_rt_put(struct rtable *rt)
{
	ip_rt_put(rt);
}

/*
 * Sends skb, a received IPv4 packet (pre-routing), out through rt (from
 * baton_route_direct) with its addresses unchanged, as IPVS's direct
 * routing does: to rt's next hop on its link. Consumes skb and the
 * reference on rt. Softirq.
 */
void baton_skb_send_via(struct net *net, struct sk_buff *skb,
			struct rtable *rt)
{
	skb_dst_drop(skb);
	skb_dst_set(skb, &rt->dst);
	nf_reset_ct(skb);
	skb_forward_csum(skb);
	skb_clear_tstamp(skb);
	/* Passed on as a router would: no ICMP from here for its size. */
	skb->ignore_df = 1;
	ip_local_out(net, NULL, skb);
}

/*
 * Whether skb, a received packet, fits rt's path as it is: its length, or
 * each segment's if it is a GSO packet, at most the route's MTU.
 */
bool baton_route_fits(const struct rtable *rt, const struct sk_buff *skb)
{
	unsigned int mtu = dst_mtu(&rt->dst);

	if (skb_is_gso(skb))
		return skb_gso_validate_network_len(skb, mtu);
	return skb->len <= mtu;
}

/*
 * Sends skb, a received IPv6 packet (pre-routing), with its addresses
 * unchanged to the host whose IPv4 address is via, on the link of rt (from
 * baton_route_direct for via): framed for the link-layer address that the
 * link's IPv4 neighbour entry of via holds (resolved first if it must be),
 * as MPLS sends a packet to a next hop of another family. A group member
 * is known by its IPv4 address; its IPv6 stack listens on the same link.
 * The caller checked that it fits (baton_route_fits). Consumes skb and the
 * reference on rt. Softirq.
 */
void baton_skb_send6_via(struct sk_buff *skb, struct rtable *rt, __be32 via)
{
	struct net_device *dev = rt->dst.dev;

	skb_dst_drop(skb);
	nf_reset_ct(skb);
	skb_forward_csum(skb);
	skb_clear_tstamp(skb);
	skb->dev = dev;
	skb->protocol = htons(ETH_P_IPV6);
	/* The route's reference keeps dev until the frame is queued. */
	neigh_xmit(NEIGH_ARP_TABLE, dev, &via, skb);
	ip_rt_put(rt);
}

bool baton_skb_csum_partial(const struct sk_buff *skb)
{
	return skb->ip_summed == CHECKSUM_PARTIAL;
}

/*
 * Copies up to len bytes of skb, from off bytes after its network header,
 * into buf (from the linear part and the fragments alike): the number
 * copied, 0 if there is nothing there. Any context.
 */
unsigned int baton_skb_copy(const struct sk_buff *skb, unsigned int off,
			    u8 *buf, unsigned int len)
{
	int start = skb_network_offset(skb) + (int)off;

	if (start < 0 || start >= (int)skb->len)
		return 0;
	len = min_t(unsigned int, len, skb->len - start);
	if (skb_copy_bits(skb, start, buf, len))
		return 0;
	return len;
}

/*
 * The bytes of skb from off bytes after its network header, up to len of
 * them (*got: how many), if they all lie in its linear part or all in one
 * of its page fragments (a NIC's or a veth's payload): NULL if they do
 * not (they straddle two parts, lie in the frag list or in memory the CPU
 * cannot read) or there are none. Any context.
 */
const u8 *baton_skb_linear(const struct sk_buff *skb, unsigned int off,
			   unsigned int len, unsigned int *got)
{
	int start = skb_network_offset(skb) + (int)off;
	unsigned int at, i;

	if (start < 0 || start >= (int)skb->len)
		return NULL;
	len = min_t(unsigned int, len, skb->len - start);
	if ((unsigned int)start + len <= skb_headlen(skb)) {
		*got = len;
		return skb->data + start;
	}
	if ((unsigned int)start < skb_headlen(skb) || !skb_frags_readable(skb))
		return NULL;
	at = skb_headlen(skb);
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *frag = &skb_shinfo(skb)->frags[i];
		unsigned int size = skb_frag_size(frag);
		const u8 *p;

		if ((unsigned int)start < at + size) {
			if ((unsigned int)start + len > at + size)
				return NULL;
			p = skb_frag_address_safe(frag);
			if (!p)
				return NULL;
			*got = len;
			return p + (start - at);
		}
		at += size;
	}
	return NULL;
}

/*
 * Whether the IP stack forwarded the packet: at post-routing, a packet
 * routed through this host rather than one of its own sockets'. IPv4's
 * ip_forward marks it before the forward hook (the mark lasts until it
 * leaves); IPv6 marks only multicast, but a packet this host sends
 * has no input interface.
 */
bool baton_skb_forwarded(const struct sk_buff *skb)
{
	if (IS_ENABLED(CONFIG_IPV6) && ip_hdr(skb)->version == 6)
		return skb->skb_iif != 0;
	return IPCB(skb)->flags & IPSKB_FORWARDED;
}

/*
 * The headers changed and their checksums were updated: a receive
 * checksum over the old bytes no longer holds.
 */
void baton_skb_csum_changed(struct sk_buff *skb)
{
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;
}

/*
 * The device of namespace net's route to the source address of the IP
 * packet data (IPv4 or IPv6, by its version), with a reference the caller
 * drops (dev_put); sets *proto to its ethertype. An error pointer if there
 * is none.
 */
static struct net_device *baton_inject_dev(struct net *net, const u8 *data,
					   unsigned int len, __be16 *proto)
{
	struct net_device *dev;

	if (len >= sizeof(struct iphdr) && data[0] >> 4 == 4) {
		const struct iphdr *iph = (const struct iphdr *)data;
		struct flowi4 fl4 = { .daddr = iph->saddr };
		struct rtable *rt = ip_route_output_key(net, &fl4);

		if (IS_ERR(rt))
			return ERR_CAST(rt);
		dev = rt->dst.dev;
		dev_hold(dev);
		ip_rt_put(rt);
		*proto = htons(ETH_P_IP);
		return dev;
	}
	if (IS_ENABLED(CONFIG_IPV6) && len >= sizeof(struct ipv6hdr) &&
	    data[0] >> 4 == 6) {
		const struct ipv6hdr *ip6h = (const struct ipv6hdr *)data;
		struct flowi6 fl6 = { .daddr = ip6h->saddr };
		struct dst_entry *dst = ip6_route_output(net, NULL, &fl6);
		int err = dst->error;

		if (err) {
			dst_release(dst);
			return ERR_PTR(err);
		}
		dev = dst->dev;
		dev_hold(dev);
		dst_release(dst);
		*proto = htons(ETH_P_IPV6);
		return dev;
	}
	return ERR_PTR(-EINVAL);
}

/*
 * Delivers an IP packet (IPv4 or IPv6) built by baton to this namespace's
 * stack as if it had arrived on the device that leads to its source
 * address (so reverse path checks hold).
 */
int baton_inject(struct net *net, const u8 *data, unsigned int len)
{
	struct net_device *dev;
	struct sk_buff *skb;
	__be16 proto;
	int err = 0;

	dev = baton_inject_dev(net, data, len, &proto);
	if (IS_ERR(dev))
		return PTR_ERR(dev);
	skb = alloc_skb(LL_MAX_HEADER + len, GFP_KERNEL);
	if (!skb) {
		err = -ENOMEM;
		goto out;
	}
	skb_reserve(skb, LL_MAX_HEADER);
	skb_put_data(skb, data, len);
	skb_reset_mac_header(skb);
	skb_reset_network_header(skb);
	skb->protocol = proto;
	skb->pkt_type = PACKET_HOST;
	skb->dev = dev;
	if (netif_rx(skb) != NET_RX_SUCCESS)
		err = -ENOBUFS;
out:
	dev_put(dev);
	return err;
}

/*
 * A copy (clone: the data is shared) of a packet seen at PRE_ROUTING, kept
 * to be received again later, with a reference on its input device. NULL
 * if it has no device or there is no memory. Any context.
 */
struct sk_buff *baton_skb_hold(struct sk_buff *skb)
{
	struct sk_buff *copy;

	if (!skb->dev)
		return NULL;
	copy = skb_clone(skb, GFP_ATOMIC);
	if (!copy)
		return NULL;
	dev_hold(copy->dev);
	return copy;
}

/*
 * Receives a packet kept by baton_skb_hold again, from the start of the
 * stack (its headers are where PRE_ROUTING saw them), and drops the device
 * reference; the skb is consumed. Any context.
 */
void baton_skb_reinject(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;

	netif_rx(skb);
	dev_put(dev);
}

/* Frees a packet kept by baton_skb_hold. */
void baton_skb_free_held(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;

	kfree_skb(skb);
	dev_put(dev);
}

void baton_rcu_read_lock(void)
{
	rcu_read_lock();
}

void baton_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

void baton_call_rcu(struct callback_head *head, void (*func)(struct callback_head *head))
{
	call_rcu(head, func);
}

void baton_rcu_barrier(void)
{
	rcu_barrier();
}

struct hlist_node *baton_hlist_first_rcu(struct hlist_head *head)
{
	return rcu_dereference(hlist_first_rcu(head));
}

struct hlist_node *baton_hlist_next_rcu(struct hlist_node *node)
{
	return rcu_dereference(hlist_next_rcu(node));
}

void baton_hlist_add_head_rcu(struct hlist_node *node, struct hlist_head *head)
{
	hlist_add_head_rcu(node, head);
}

/* Unlinks; the node may still be read until a grace period has passed. */
void baton_hlist_del_rcu(struct hlist_node *node)
{
	hlist_del_rcu(node);
}

void baton_spin_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

void baton_spin_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

/* Whether addr is one of this namespace's own (unicast) addresses. */
bool baton_addr_is_local(struct net *net, const struct baton_endpoint *addr)
{
	if (addr->family == AF_INET) {
		__be32 a;

		memcpy(&a, addr->addr, sizeof(a));
		return inet_addr_type(net, a) == RTN_LOCAL;
	}
	if (IS_ENABLED(CONFIG_IPV6) && addr->family == AF_INET6) {
		struct in6_addr a;

		memcpy(&a, addr->addr, sizeof(a));
		return ipv6_chk_addr(net, &a, NULL, 0);
	}
	return false;
}

struct task_struct *baton_kthread_run(int (*fn)(void *), void *data,
				      const char *name)
{
	struct task_struct *task;

	task = kthread_create(fn, data, "%s", name);
	if (IS_ERR(task))
		return task;
	get_task_struct(task);
	wake_up_process(task);
	return task;
}

void baton_put_task_struct(struct task_struct *task)
{
	put_task_struct(task);
}

u64 baton_now_ms(void)
{
	return div_u64(ktime_get_boottime_ns(), NSEC_PER_MSEC);
}

void baton_usleep_range(unsigned long min_us, unsigned long max_us)
{
	usleep_range(min_us, max_us);
}

int baton_hmac_sha256_new(const u8 *key, unsigned int keylen,
			  struct crypto_shash **out)
{
	struct crypto_shash *tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	int err;

	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	err = crypto_shash_setkey(tfm, key, keylen);
	if (err) {
		crypto_free_shash(tfm);
		return err;
	}
	*out = tfm;
	return 0;
}

void baton_crypto_free_shash(struct crypto_shash *tfm)
{
	crypto_free_shash(tfm);
}

/* One digest over several buffers, with a descriptor on the stack (the
 * transform is shared; each call has its own descriptor). */
int baton_hmac_digest(struct crypto_shash *tfm, const struct kvec *parts,
		      unsigned int nparts, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	unsigned int i;
	int err;

	desc->tfm = tfm;
	err = crypto_shash_init(desc);
	for (i = 0; !err && i < nparts; i++)
		err = crypto_shash_update(desc, parts[i].iov_base,
					  parts[i].iov_len);
	if (!err)
		err = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return err;
}

bool baton_crypto_memneq(const void *a, const void *b, size_t len)
{
	return crypto_memneq(a, b, len);
}

void baton_memzero_explicit(void *p, size_t len)
{
	memzero_explicit(p, len);
}

void __percpu *baton_alloc_percpu(size_t size, size_t align)
{
	return __alloc_percpu(size, align);
}

void *baton_raw_cpu_ptr(void __percpu *ptr)
{
	return raw_cpu_ptr(ptr);
}

void *baton_per_cpu_ptr(void __percpu *ptr, int cpu)
{
	return per_cpu_ptr(ptr, cpu);
}

/* The first possible CPU after @cpu (-1: the first of all), or -1. */
int baton_next_possible_cpu(int cpu)
{
	unsigned int next = cpumask_next(cpu, cpu_possible_mask);

	return next < nr_cpu_ids ? (int)next : -1;
}
