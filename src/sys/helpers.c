// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders to static inline kernel functions, and the module parameters
 * (module_param defines static data, which the Rust module! macro of 6.12
 * cannot declare).
 */
#include <linux/moduleparam.h>
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
