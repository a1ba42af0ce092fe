/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers for kernel functions and macros that are static inline and so
 * cannot be called from Rust directly. Each one is a one-line forwarder; the
 * Rust wrappers in src/sys/ state the safety requirements.
 */
#ifndef BATON_HELPERS_H
#define BATON_HELPERS_H

#include <linux/types.h>

struct net;
struct sk_buff;
struct genl_info;
struct genl_family;
struct netlink_ext_ack;
struct netlink_callback;
struct nlattr;
struct socket;
struct task_struct;
struct rtable;

/* Module parameters (module_param is a macro that defines static data). */
unsigned short baton_param_ctrl_port(void);
unsigned int baton_param_conn_tab_bits(void);
unsigned int baton_param_conn_max(void);
const char *baton_version(void);

/* Network namespaces. */
void *baton_net_generic(const struct net *net, unsigned int id);

/* Generic netlink. */
struct net *baton_genl_info_net(const struct genl_info *info);
struct sk_buff *baton_genlmsg_new(void);
struct sk_buff *baton_genlmsg_new_size(size_t payload);
void *baton_genlmsg_put_reply(struct sk_buff *skb, struct genl_info *info,
			      const struct genl_family *family, u8 cmd);
void baton_genlmsg_end(struct sk_buff *skb, void *hdr);
int baton_genlmsg_reply(struct sk_buff *skb, struct genl_info *info);
void baton_nlmsg_free(struct sk_buff *skb);
const struct genl_info *baton_genl_info_dump(struct netlink_callback *cb);
void *baton_genlmsg_put_dump(struct sk_buff *skb, struct netlink_callback *cb,
			     int flags, u8 cmd);
void baton_genl_dump_check_consistent(struct netlink_callback *cb, void *hdr);
void baton_genlmsg_cancel(struct sk_buff *skb, void *hdr);
void baton_extack_set(struct netlink_ext_ack *extack, const char *msg,
		      const struct nlattr *attr);
struct nlattr *baton_nla_nest_start(struct sk_buff *skb, int type);
void baton_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
void baton_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start);
int baton_nla_len(const struct nlattr *nla);
void *baton_nla_data(const struct nlattr *nla);

/* Kernel sockets. */
void baton_sock_set_timeouts(struct socket *sock, unsigned int rcv_ms,
			     unsigned int snd_ms);
void baton_sock_prepare(struct socket *sock);

void baton_sock_set_rcvbuf(struct socket *sock, int bytes);
bool baton_sock_readable(struct socket *sock);
void baton_sock_set_freebind(struct socket *sock);
void baton_sock_set_v6only(struct socket *sock, bool on);
void baton_sock_set_mark(struct socket *sock, u32 mark);
void baton_sock_unmark_ack(struct socket *sock);
u32 baton_skb_mark(const struct sk_buff *skb);
void baton_events_publish(const struct genl_family *family);
bool baton_events_listened(struct net *net, unsigned int group);
struct sk_buff *baton_event_new(size_t payload, u8 cmd, void **hdr);
int baton_event_send(struct sk_buff *skb, void *hdr, struct net *net,
		     unsigned int group);

/* What a handoff needs of an accepted TCP socket (read under its lock). */
struct baton_tcp_state {
	u64 bytes_received;	/* in-order payload bytes from the peer */
	u32 snd_una;
	u32 snd_nxt;
	u32 rcv_nxt;
	u32 snd_wnd;		/* peer's window, scaled */
	u32 ts_recent;		/* peer's latest TSval */
	u32 tsval_now;		/* our TSval now (clock + per-socket offset) */
	u16 mss_clamp;		/* MSS from the peer's SYN (clamped) */
	u8 tstamp_ok;
	u8 sack_ok;
	u8 wscale_ok;
	u8 snd_wscale;		/* the peer's shift */
	u8 rcv_wscale;		/* our shift */
	u8 state;		/* TCP_ESTABLISHED... */
};
int baton_tcp_state(struct socket *sock, struct baton_tcp_state *out);
struct sk_buff *baton_skb_hold(struct sk_buff *skb);
void baton_skb_reinject(struct sk_buff *skb);
void baton_skb_free_held(struct sk_buff *skb);
/*
 * A TCP endpoint of either family: the address in network order (the first
 * 4 bytes for AF_INET), the port in network byte order.
 */
struct baton_endpoint {
	u8 addr[16];
	__be16 port;
	u16 family;		/* AF_INET or AF_INET6 */
};
int baton_tcp_end_timewait(struct net *net, const struct baton_endpoint *local,
			   const struct baton_endpoint *remote);
int baton_tcp_abort(struct net *net, const struct baton_endpoint *local,
		    const struct baton_endpoint *remote);
/* What a released connection's stack knew of the peer's handshake. */
struct baton_tcp_syn {
	u16 mss_clamp;
	u8 snd_wscale;		/* the peer's shift, with wscale_ok */
	u8 sack_ok;
	u8 tstamp_ok;
	u8 wscale_ok;
};
int baton_tcp_release(struct net *net, const struct baton_endpoint *local,
		      const struct baton_endpoint *remote, u32 rcv_nxt,
		      u32 snd_nxt, u32 read_from, u8 *buf, u32 room,
		      struct baton_tcp_syn *out);
int baton_skb_tcp_read_seq(const struct sk_buff *skb, u32 end_seq, u32 *copied);

/* Packets. */
int baton_skb_tcp_headers(struct sk_buff *skb, bool writable, u8 **data,
			  unsigned int *len);
int baton_skb_tcp_ports(struct sk_buff *skb, u8 **data, unsigned int *len,
			unsigned int *hdr_len);
int baton_skb_tcp_writable(struct sk_buff *skb, unsigned int hdr_len, u8 **data);
int baton_skb_icmp_headers(struct sk_buff *skb, bool writable, unsigned int max,
			   u8 **data, unsigned int *len);
/* What baton_tcp_lookup() found. */
#define BATON_TCP_NONE 0
#define BATON_TCP_REQUEST 1
#define BATON_TCP_FULL 2
#define BATON_TCP_TIME_WAIT 3
int baton_tcp_lookup(struct net *net, const struct baton_endpoint *local,
		     const struct baton_endpoint *remote);
bool baton_skb_csum_partial(const struct sk_buff *skb);
bool baton_skb_forwarded(const struct sk_buff *skb);
const u8 *baton_skb_linear(const struct sk_buff *skb, unsigned int off,
			   unsigned int len, unsigned int *got);
unsigned int baton_skb_copy(const struct sk_buff *skb, unsigned int off,
			    u8 *buf, unsigned int len);
void baton_skb_csum_changed(struct sk_buff *skb);
int baton_inject(struct net *net, const u8 *data, unsigned int len);
bool baton_addr_is_local(struct net *net, const struct baton_endpoint *addr);
int baton_tcp_demux(struct net *net, const struct sk_buff *skb,
		    const struct baton_endpoint *local,
		    const struct baton_endpoint *remote, u32 mark);

/* Routes. */
struct rtable *baton_route_direct(struct net *net, __be32 via);
void baton_rt_put(struct rtable *rt);
void baton_skb_send_via(struct net *net, struct sk_buff *skb,
			struct rtable *rt);
bool baton_route_fits(const struct rtable *rt, const struct sk_buff *skb);
void baton_skb_send6_via(struct sk_buff *skb, struct rtable *rt, __be32 via);

/* RCU lists. */
struct hlist_head;
struct hlist_node;
void baton_rcu_read_lock(void);
void baton_rcu_read_unlock(void);
struct callback_head;
void baton_call_rcu(struct callback_head *head, void (*func)(struct callback_head *head));
void baton_rcu_barrier(void);
struct hlist_node *baton_hlist_first_rcu(struct hlist_head *head);
struct hlist_node *baton_hlist_next_rcu(struct hlist_node *node);
void baton_hlist_add_head_rcu(struct hlist_node *node, struct hlist_head *head);
void baton_hlist_del_rcu(struct hlist_node *node);

/* Locks. */
struct spinlock;
void baton_spin_lock_bh(struct spinlock *lock);
void baton_spin_unlock_bh(struct spinlock *lock);

/* Crypto (HMAC-SHA256 for the control channel). */
struct crypto_shash;
struct kvec;
int baton_hmac_sha256_new(const u8 *key, unsigned int keylen,
			  struct crypto_shash **out);
void baton_crypto_free_shash(struct crypto_shash *tfm);
int baton_hmac_digest(struct crypto_shash *tfm, const struct kvec *parts,
		      unsigned int nparts, u8 *out);
bool baton_crypto_memneq(const void *a, const void *b, size_t len);
void baton_memzero_explicit(void *p, size_t len);

/* Per-CPU memory. */
void __percpu *baton_alloc_percpu(size_t size, size_t align);
void *baton_raw_cpu_ptr(void __percpu *ptr);
void *baton_per_cpu_ptr(void __percpu *ptr, int cpu);
int baton_next_possible_cpu(int cpu);

/* Kernel threads and time. */
struct task_struct *baton_kthread_run(int (*fn)(void *), void *data,
				      const char *name);
void baton_put_task_struct(struct task_struct *task);
u64 baton_now_ms(void);
void baton_usleep_range(unsigned long min_us, unsigned long max_us);

#endif /* BATON_HELPERS_H */
