/* Lock-free rotation handshake between the snapshot job and the writer. */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "snapshot_internal.h"

void kc_snapshot_gate_init(struct kc_snapshot_gate *g)
{
	atomic_store(&g->status, 0);
	atomic_store(&g->state, KC_SNAPSHOT_GATE_IDLE);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

static void nap(void)
{
	struct timespec d = { 0, 50 * 1000 }; /* 50 us */

	nanosleep(&d, NULL);
}

int kc_snapshot_gate_begin(struct kc_snapshot_gate *g, unsigned timeout_ms)
{
	int expect = KC_SNAPSHOT_GATE_IDLE;
	uint64_t deadline = kc_now_us() + (uint64_t)timeout_ms * 1000u;

	if (!atomic_compare_exchange_strong(&g->state, &expect, KC_SNAPSHOT_GATE_REQUESTED))
		return -EBUSY;
	for (;;) {
		if (atomic_load_explicit(&g->state, memory_order_acquire) == KC_SNAPSHOT_GATE_PAUSED)
			return 0;
		if (kc_now_us() >= deadline) {
			expect = KC_SNAPSHOT_GATE_REQUESTED;
			if (atomic_compare_exchange_strong(&g->state, &expect,
							   KC_SNAPSHOT_GATE_IDLE))
				return -ETIMEDOUT;
			return 0; /* the writer paused just now */
		}
		nap();
	}
}

void kc_snapshot_gate_end(struct kc_snapshot_gate *g, int status)
{
	atomic_store_explicit(&g->status, status, memory_order_relaxed);
	atomic_store_explicit(&g->state, KC_SNAPSHOT_GATE_IDLE, memory_order_release);
}

int kc_snapshot_gate_pause(struct kc_snapshot_gate *g)
{
	int expect = KC_SNAPSHOT_GATE_REQUESTED;
	unsigned spins = 0;

	if (!atomic_compare_exchange_strong(&g->state, &expect, KC_SNAPSHOT_GATE_PAUSED))
		return -ECANCELED;
	/* the job renames and mkdirs now: microseconds; spin, then yield */
	while (atomic_load_explicit(&g->state, memory_order_acquire) == KC_SNAPSHOT_GATE_PAUSED) {
		if (++spins < 1000)
			cpu_relax();
		else
			sched_yield();
	}
	return atomic_load_explicit(&g->status, memory_order_relaxed);
}
