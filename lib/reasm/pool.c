/* Core context: configuration checks, the chunk pool and its memcap. The pool
 * is the only memory this module allocates, once, at create. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reasm_internal.h"

void kc_reasm_cfg_default(struct kc_reasm_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->chunk_size = KC_REASM_DEFAULT_CHUNK_SIZE;
	cfg->n_chunks = KC_REASM_DEFAULT_N_CHUNKS;
	cfg->memcap_bytes = 0;
	cfg->max_dir_bytes = KC_REASM_DEFAULT_MAX_DIR_BYTES;
	cfg->max_dir_segs = KC_REASM_DEFAULT_MAX_DIR_SEGS;
	cfg->dir_limit_policy = KC_REASM_POLICY_GAP;
	cfg->memcap_policy = KC_REASM_POLICY_GAP;
}

static int check_cfg(const struct kc_reasm_cfg *cfg, struct kc_err *err)
{
	uint64_t pool_bytes;

	if (cfg == NULL)
		return kc_err_set(err, -EINVAL, "reasm: no configuration");
	if (cfg->chunk_size < KC_REASM_MIN_CHUNK_SIZE || cfg->chunk_size > KC_REASM_MAX_CHUNK_SIZE)
		return kc_err_set(err, -EINVAL, "reasm chunk_size %u: outside [%u, %u]",
				  cfg->chunk_size, KC_REASM_MIN_CHUNK_SIZE,
				  KC_REASM_MAX_CHUNK_SIZE);
	if (cfg->n_chunks < 1 || cfg->n_chunks > KC_REASM_MAX_N_CHUNKS)
		return kc_err_set(err, -EINVAL, "reasm n_chunks %u: outside [1, %u]",
				  cfg->n_chunks, KC_REASM_MAX_N_CHUNKS);
	pool_bytes = (uint64_t)cfg->chunk_size * cfg->n_chunks;
	if (cfg->memcap_bytes > pool_bytes)
		return kc_err_set(err, -EINVAL,
				  "reasm memcap_bytes %llu: above the pool size %llu",
				  (unsigned long long)cfg->memcap_bytes,
				  (unsigned long long)pool_bytes);
	if (cfg->max_dir_bytes < 1 || cfg->max_dir_bytes > KC_REASM_MAX_WINDOW)
		return kc_err_set(err, -EINVAL, "reasm max_dir_bytes %u: outside [1, %u]",
				  cfg->max_dir_bytes, KC_REASM_MAX_WINDOW);
	if (cfg->max_dir_segs < 1 || cfg->max_dir_segs > KC_REASM_MAX_DIR_SEGS_LIMIT)
		return kc_err_set(err, -EINVAL, "reasm max_dir_segs %u: outside [1, %u]",
				  cfg->max_dir_segs, KC_REASM_MAX_DIR_SEGS_LIMIT);
	if (cfg->dir_limit_policy > KC_REASM_POLICY_DROP)
		return kc_err_set(err, -EINVAL, "reasm dir_limit_policy %u: unknown",
				  cfg->dir_limit_policy);
	if (cfg->memcap_policy > KC_REASM_POLICY_DROP)
		return kc_err_set(err, -EINVAL, "reasm memcap_policy %u: unknown",
				  cfg->memcap_policy);
	return 0;
}

struct kc_reasm_core *kc_reasm_core_create(const struct kc_reasm_cfg *cfg, struct kc_err *err)
{
	struct kc_reasm_core *core;
	uint32_t i;
	int rc;

	rc = check_cfg(cfg, err);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	core = aligned_alloc(KC_CACHE_LINE, sizeof(*core));
	if (core == NULL)
		goto fail_core;
	memset(core, 0, sizeof(*core));
	core->chunks = calloc(cfg->n_chunks, sizeof(*core->chunks));
	if (core->chunks == NULL)
		goto fail_chunks;
	core->data = malloc((size_t)cfg->n_chunks * cfg->chunk_size);
	if (core->data == NULL)
		goto fail_data;

	core->chunk_size = cfg->chunk_size;
	core->n_chunks = cfg->n_chunks;
	core->max_dir_bytes = cfg->max_dir_bytes;
	core->max_dir_segs = cfg->max_dir_segs;
	core->dir_limit_policy = cfg->dir_limit_policy;
	core->memcap_policy = cfg->memcap_policy;
	core->memcap.cap = cfg->memcap_bytes != 0 ? cfg->memcap_bytes
						  : (uint64_t)cfg->chunk_size * cfg->n_chunks;
	/* Free list in index order, so a fresh pool hands out chunk 0 first. */
	for (i = 0; i < cfg->n_chunks; i++)
		core->chunks[i].next = i + 2 <= cfg->n_chunks ? i + 2 : 0;
	core->free_head = 1;
	return core;

fail_data:
	free(core->chunks);
fail_chunks:
	free(core);
fail_core:
	kc_err_set(err, -ENOMEM, "reasm: cannot allocate a pool of %u chunks of %u bytes",
		   cfg->n_chunks, cfg->chunk_size);
	errno = ENOMEM;
	return NULL;
}

void kc_reasm_core_destroy(struct kc_reasm_core *core)
{
	if (core == NULL)
		return;
	free(core->data);
	free(core->chunks);
	free(core);
}

const struct kc_reasm_stats *kc_reasm_core_stats(const struct kc_reasm_core *core)
{
	return &core->stats;
}

const struct kc_memcap *kc_reasm_core_memcap(const struct kc_reasm_core *core)
{
	return &core->memcap;
}

uint32_t kc_reasm_core_chunks_used(const struct kc_reasm_core *core)
{
	return core->used;
}

uint32_t pool_take(struct kc_reasm_core *core)
{
	uint32_t link = core->free_head;

	/* The memcap is checked first so its refused counter sees every "no";
	 * an empty free list can only happen when the cap equals the pool. */
	if (kc_memcap_take(&core->memcap, core->chunk_size) < 0)
		return 0;
	if (kc_unlikely(link == 0)) {
		kc_memcap_give(&core->memcap, core->chunk_size);
		core->memcap.refused++;
		return 0;
	}
	core->free_head = chunk_at(core, link)->next;
	core->used++;
	return link;
}

void pool_give(struct kc_reasm_core *core, uint32_t link)
{
	chunk_at(core, link)->next = core->free_head;
	core->free_head = link;
	core->used--;
	kc_memcap_give(&core->memcap, core->chunk_size);
}
