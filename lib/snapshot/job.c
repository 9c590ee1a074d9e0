/* The snapshot job thread: sleep until the next cron time, snapshot, repeat. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "snapshot_internal.h"

/* Wake at least once a second so wall-clock jumps (NTP, manual changes) are
 * noticed: the deadline is a wall-clock time, the wait is not. */
static void wait_until(struct kc_snapshot *s, time_t deadline)
{
	while (!s->stop && !s->trigger) {
		struct timespec now, until;

		clock_gettime(CLOCK_REALTIME, &now);
		if (deadline >= 0 && now.tv_sec >= deadline)
			return;
		until.tv_sec = now.tv_sec + 1;
		until.tv_nsec = 0;
		if (deadline >= 0 && deadline < until.tv_sec)
			until.tv_sec = deadline;
		pthread_cond_timedwait(&s->cond, &s->lock, &until);
	}
}

static void *job_main(void *arg)
{
	struct kc_snapshot *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		time_t next = kc_cron_next(&s->p.schedule, (time_t)snap_wall_sec());
		struct kc_err err = { "" };
		int rc;

		wait_until(s, next); /* next < 0: only a trigger or stop wakes us */
		if (s->stop)
			break;
		s->trigger = false;
		pthread_mutex_unlock(&s->lock);
		rc = kc_snapshot_run_once(s, NULL, 0, &err);
		pthread_mutex_lock(&s->lock);
		(void)rc; /* counted and kept in last_error by run_once */
		if (next >= 0 && kc_cron_next(&s->p.schedule, next) < (time_t)snap_wall_sec())
			s->st.missed_schedules++;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int kc_snapshot_job_start(struct kc_snapshot *s, struct kc_err *err)
{
	int rc;

	if (kc_cron_next(&s->p.schedule, (time_t)snap_wall_sec()) < 0)
		return kc_err_set(err, -EINVAL, "snapshot: the schedule never fires");
	pthread_mutex_lock(&s->lock);
	if (s->job_running) {
		pthread_mutex_unlock(&s->lock);
		return kc_err_set(err, -EALREADY, "snapshot: job already running");
	}
	s->stop = false;
	s->trigger = false;
	rc = pthread_create(&s->thread, NULL, job_main, s);
	if (rc == 0)
		s->job_running = true;
	pthread_mutex_unlock(&s->lock);
	if (rc != 0)
		return kc_err_set(err, -rc, "snapshot: pthread_create: %s", strerror(rc));
	pthread_setname_np(s->thread, "kc-snapshot");
	return 0;
}

void kc_snapshot_job_trigger(struct kc_snapshot *s)
{
	pthread_mutex_lock(&s->lock);
	s->trigger = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int kc_snapshot_job_stop(struct kc_snapshot *s, bool final_snapshot, struct kc_err *err)
{
	bool running;

	pthread_mutex_lock(&s->lock);
	running = s->job_running;
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (running) {
		pthread_join(s->thread, NULL);
		pthread_mutex_lock(&s->lock);
		s->job_running = false;
		pthread_mutex_unlock(&s->lock);
	}
	return final_snapshot ? kc_snapshot_run_once(s, NULL, 0, err) : 0;
}
