/* SPDX-License-Identifier: GPL-2.0 */
/* Headers that bindgen reads to generate src/sys/bindings_generated.rs. */
#include <crypto/hash.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "helpers.h"
