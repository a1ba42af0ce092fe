// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders to static inline kernel functions, and the module parameters
 * (module_param defines static data, which the Rust module! macro of 6.12
 * cannot declare).
 */
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/sched/task.h>
#include <linux/timekeeping.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netlink.h>

#include "helpers.h"

static unsigned short ctrl_port = 7300;
module_param(ctrl_port, ushort, 0444);
MODULE_PARM_DESC(ctrl_port,
		 "Control-channel TCP port of new network namespaces (1-65535, default 7300)");

unsigned short baton_param_ctrl_port(void)
{
	return ctrl_port;
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

void baton_sock_set_timeouts(struct socket *sock, unsigned int rcv_ms,
			     unsigned int snd_ms)
{
	WRITE_ONCE(sock->sk->sk_rcvtimeo, msecs_to_jiffies(rcv_ms));
	WRITE_ONCE(sock->sk->sk_sndtimeo, msecs_to_jiffies(snd_ms));
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
