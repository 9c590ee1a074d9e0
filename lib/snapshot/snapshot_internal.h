/* Private to lib/snapshot. */
#ifndef KC_SNAPSHOT_INTERNAL_H
#define KC_SNAPSHOT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "kc_snapshot.h"

struct kc_snapshot {
	char *out_dir, *spool_dir, *live_dir, *rot_dir;
	char *kfl, *host;
	struct kc_snapshot_params p;   /* string members point at the copies above */
	struct kc_snapshot_ops ops;

	pthread_mutex_t run_lock;      /* one snapshot at a time */
	pthread_mutex_t lock;          /* stats, last_error, job flags */
	pthread_cond_t cond;
	struct kc_snapshot_stats st;
	uint64_t last_name_ts;         /* <ts> of the last entry named (run_lock) */
	char last_error[512];
	bool locks_ready;
	bool job_running, stop, trigger;
	pthread_t thread;
};

/* Wall-clock seconds for schedules and entry names. Not time(): glibc reads
 * it from the kernel's last tick (CLOCK_REALTIME_COARSE), up to a tick behind
 * clock_gettime, so a job woken at second T by the precise clock could still
 * name its entry T - 1, the previous entry's name. */
static inline uint64_t snap_wall_sec(void)
{
	return kc_wall_us() / 1000000u;
}

/* fsutil.c */
char *snap_fmt(const char *fmt, ...) kc_printf_like(1, 2); /* NULL on ENOMEM */
int snap_mkdir(const char *path);                    /* mkdir 0700, EEXIST ok */
int snap_fsync_path(const char *path);               /* open + fsync (file or dir) */
int snap_write_file(const char *path, const void *data, size_t len, bool sync);
int snap_rm_rf(const char *path);                    /* our own trees only; no symlink follow */
int snap_du(const char *path, uint64_t *bytes);      /* sum of regular file sizes */
/* Sorted names in @dir (excluding . and ..); free with snap_names_free. */
int snap_list(const char *dir, char ***names, size_t *n);
void snap_names_free(char **names, size_t n);
bool snap_is_dir(const char *path);
bool snap_exists(const char *path);

/* meta.c: read <dir>/<name>.meta.json into a cJSON object (NULL if absent/bad) */
struct cJSON *snap_meta_read(const char *path);
/* meta.c: {"proto","ip_proto","src","dst","sport","dport"[,"vlan"]} of an
 * Ethernet frame, or NULL if it is not IPv4/IPv6 */
struct cJSON *snap_flow_from_packet(const uint8_t *p, size_t len);

#endif
