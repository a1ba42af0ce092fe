// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin for the benchmark (BENCH_INSN=1): counts the guest
 * instructions each vCPU executes and writes the running totals, with the
 * host's wall-clock time, to a file every few milliseconds:
 *
 *   qemu-system-x86_64 ... -plugin insn.so,out=FILE[,ms=20][,snap=PATH]
 *
 *   <seconds.nanoseconds> <all vCPUs> <vCPU 0> <vCPU 1> ...
 *
 * Under TCG a guest's CPU time depends on what the host does beside it
 * (rounds of one workload differ by 2-3x), while the instructions a
 * request costs do not: bench/insn.py reads these totals at the times the
 * workload's edges were marked (files the guest creates on a host
 * directory, whose modification times are the host's clock).
 *
 * A halted vCPU executes nothing, so an idle guest adds little. Counted by
 * translation block, at its entry: a block left early (a fault, an
 * interrupt) counts whole, which is noise of a few in a million.
 *
 * With snap=PATH it also profiles: when the file PATH.<k> appears (k = 0,
 * 1, 2...), an even k starts a window and an odd k ends it, writing
 * <out>.prof.<k>: "<block address> <instructions in the block> <times
 * run>" for every block run in the window (bench/insn_profile.py names
 * the addresses).
 *
 * The plugin API of QEMU 7.2 (plugin version 1), declared here for the
 * few calls used: Debian ships no qemu-plugin.h.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };

void qemu_plugin_register_vcpu_tb_trans_cb(
	qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb));
void qemu_plugin_register_vcpu_tb_exec_cb(
	struct qemu_plugin_tb *tb, void (*cb)(unsigned int vcpu, void *udata),
	enum qemu_plugin_cb_flags flags, void *udata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
				    void (*cb)(qemu_plugin_id_t id, void *udata),
				    void *udata);

#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;

/* vCPUs counted; a guest with more counts the rest in the last slot. */
#define MAX_VCPUS 16

/* One translated block: a block translated again gets another. */
struct block {
	uint64_t vaddr;
	uint64_t runs;
	uint32_t insns;
};

/* Each slot is written by its vCPU's thread only, read by the writer. */
static uint64_t count[MAX_VCPUS];
static unsigned int vcpus_seen;
static FILE *out;
static const char *out_path;
static unsigned int period_ms = 20;
static pthread_t writer;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* Profiling (snap=PATH): every block ever translated, under blocks_lock. */
static const char *snap_path;
static unsigned int snap_next;
static struct block **blocks;
static size_t nblocks, blocks_cap;
static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_exec(unsigned int vcpu, void *udata)
{
	unsigned int i = vcpu < MAX_VCPUS ? vcpu : MAX_VCPUS - 1;
	struct block *b = udata;
	uint64_t n = b->insns;

	unsigned int seen = __atomic_load_n(&vcpus_seen, __ATOMIC_RELAXED);

	while (seen <= i &&
	       !__atomic_compare_exchange_n(&vcpus_seen, &seen, i + 1, 1,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	__atomic_fetch_add(&count[i], n, __ATOMIC_RELAXED);
	if (snap_path)
		__atomic_fetch_add(&b->runs, 1, __ATOMIC_RELAXED);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct block *b = calloc(1, sizeof(*b));

	(void)id;
	if (!b)
		abort();
	b->vaddr = qemu_plugin_tb_vaddr(tb);
	b->insns = (uint32_t)qemu_plugin_tb_n_insns(tb);
	if (snap_path) {
		pthread_mutex_lock(&blocks_lock);
		if (nblocks == blocks_cap) {
			size_t cap = blocks_cap ? 2 * blocks_cap : 65536;
			struct block **grown = realloc(blocks, cap * sizeof(*blocks));

			if (!grown)
				abort();
			blocks = grown;
			blocks_cap = cap;
		}
		blocks[nblocks++] = b;
		pthread_mutex_unlock(&blocks_lock);
	}
	/*
	 * A block is never freed: QEMU may run a translation after it was
	 * replaced, and the profile keeps its count.
	 */
	qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS, b);
}

/* Ends or starts a profile window: the runs since the last edge are taken
 * (and zeroed); an odd edge writes them. */
static void snapshot(unsigned int k)
{
	char path[4096];
	FILE *f = NULL;
	size_t i;

	if (k % 2 == 1) {
		snprintf(path, sizeof(path), "%s.prof.%u", out_path, k);
		f = fopen(path, "w");
		if (!f)
			perror(path);
	}
	pthread_mutex_lock(&blocks_lock);
	for (i = 0; i < nblocks; i++) {
		uint64_t runs = __atomic_exchange_n(&blocks[i]->runs, 0, __ATOMIC_RELAXED);

		if (f && runs)
			fprintf(f, "%llx %u %llu\n", (unsigned long long)blocks[i]->vaddr,
				blocks[i]->insns, (unsigned long long)runs);
	}
	pthread_mutex_unlock(&blocks_lock);
	if (f)
		fclose(f);
}

/* Takes every profile edge whose file appeared since the last look. */
static void check_snapshots(void)
{
	char path[4096];

	for (;;) {
		snprintf(path, sizeof(path), "%s.%u", snap_path, snap_next);
		if (access(path, F_OK))
			return;
		snapshot(snap_next++);
	}
}

static void write_line(void)
{
	struct timespec now;
	uint64_t c[MAX_VCPUS], total = 0;
	unsigned int i, n = __atomic_load_n(&vcpus_seen, __ATOMIC_RELAXED);

	clock_gettime(CLOCK_REALTIME, &now);
	for (i = 0; i < MAX_VCPUS; i++) {
		c[i] = __atomic_load_n(&count[i], __ATOMIC_RELAXED);
		total += c[i];
	}
	pthread_mutex_lock(&out_lock);
	if (out) {
		fprintf(out, "%lld.%09ld %llu", (long long)now.tv_sec, now.tv_nsec,
			(unsigned long long)total);
		for (i = 0; i < n; i++)
			fprintf(out, " %llu", (unsigned long long)c[i]);
		fputc('\n', out);
		fflush(out);
	}
	pthread_mutex_unlock(&out_lock);
}

static void *writer_main(void *arg)
{
	struct timespec period = {
		.tv_sec = period_ms / 1000,
		.tv_nsec = (long)(period_ms % 1000) * 1000000,
	};

	(void)arg;
	for (;;) {
		write_line();
		if (snap_path)
			check_snapshots();
		nanosleep(&period, NULL);
	}
	return NULL;
}

static void on_exit_(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	write_line();
	pthread_mutex_lock(&out_lock);
	fclose(out);
	out = NULL;
	pthread_mutex_unlock(&out_lock);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
			       int argc, char **argv)
{
	const char *path = NULL;
	int i;

	(void)info;
	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4)) {
			path = argv[i] + 4;
		} else if (!strncmp(argv[i], "snap=", 5)) {
			snap_path = argv[i] + 5;
		} else if (!strncmp(argv[i], "ms=", 3)) {
			period_ms = (unsigned int)strtoul(argv[i] + 3, NULL, 10);
			if (period_ms == 0 || period_ms > 10000) {
				fprintf(stderr, "insn: ms must be 1 to 10000\n");
				return -1;
			}
		} else {
			fprintf(stderr, "insn: unknown argument %s\n", argv[i]);
			return -1;
		}
	}
	if (!path) {
		fprintf(stderr, "insn: out=FILE is required\n");
		return -1;
	}
	out_path = path;
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
	if (pthread_create(&writer, NULL, writer_main, NULL)) {
		fprintf(stderr, "insn: cannot start its writer thread\n");
		return -1;
	}
	pthread_detach(writer);
	return 0;
}
