/* SPDX-License-Identifier: GPL-2.0 */
/* Headers that bindgen reads to generate src/sys/bindings_generated.rs. */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>

#include "helpers.h"
