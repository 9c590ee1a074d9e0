/* Stream sidecars: <stream>.meta.json written by the writer, read by the job. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "snapshot_internal.h"

#define META_MAX (1024 * 1024)

static bool name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	return len > 0 && len <= 200 && name[0] != '.' && strchr(name, '/') == NULL;
}

int kc_snapshot_meta_write(const char *dir, const struct kc_snapshot_stream_meta *m,
			   struct kc_err *err)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char *path = NULL, *tmp = NULL, *text = NULL;
	cJSON *o = NULL, *items = NULL;
	int rc;

	if (!name_ok(m->name))
		return kc_err_set(err, -EINVAL, "sidecar: bad stream name '%.64s'",
				  m->name ? m->name : "(null)");
	if ((m->family != AF_INET && m->family != AF_INET6) ||
	    inet_ntop(m->family, m->src, src, sizeof(src)) == NULL ||
	    inet_ntop(m->family, m->dst, dst, sizeof(dst)) == NULL)
		return kc_err_set(err, -EINVAL, "sidecar %s: bad address family %d", m->name,
				  m->family);
	if (m->items_json != NULL) {
		items = cJSON_Parse(m->items_json);
		if (items == NULL)
			return kc_err_set(err, -EINVAL, "sidecar %s: items_json is not JSON",
					  m->name);
	}
	o = cJSON_CreateObject();
	if (o == NULL)
		goto nomem;
	if (!cJSON_AddStringToObject(o, "stream", m->name) ||
	    !cJSON_AddStringToObject(o, "proto", m->ip_proto == 6 ? "tcp" :
				     m->ip_proto == 17 ? "udp" : "other") ||
	    !cJSON_AddNumberToObject(o, "ip_proto", m->ip_proto) ||
	    !cJSON_AddStringToObject(o, "src", src) ||
	    !cJSON_AddNumberToObject(o, "sport", m->sport) ||
	    !cJSON_AddStringToObject(o, "dst", dst) ||
	    !cJSON_AddNumberToObject(o, "dport", m->dport) ||
	    !cJSON_AddNumberToObject(o, "vlan", m->vlan) ||
	    !cJSON_AddBoolToObject(o, "truncated", m->truncated) ||
	    !cJSON_AddNumberToObject(o, "packets_lost", (double)m->packets_lost) ||
	    !cJSON_AddNumberToObject(o, "match_ts_us", (double)m->match_ts_us))
		goto nomem;
	if (m->truncated_reason &&
	    !cJSON_AddStringToObject(o, "truncated_reason", m->truncated_reason))
		goto nomem;
	if (m->matched && !cJSON_AddStringToObject(o, "matched", m->matched))
		goto nomem;
	if (items != NULL) {
		if (!cJSON_AddItemToObject(o, "items", items))
			goto nomem;
		items = NULL;
	}
	text = cJSON_PrintUnformatted(o);
	if (text == NULL || asprintf(&path, "%s/%s" KC_SNAPSHOT_META_SUFFIX, dir, m->name) < 0 ||
	    asprintf(&tmp, "%s/.%s.meta.tmp", dir, m->name) < 0)
		goto nomem;
	rc = snap_write_file(tmp, text, strlen(text), false);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		kc_err_set(err, rc, "sidecar %s: %s", path, strerror(-rc));
	}
	goto out;
nomem:
	rc = kc_err_set(err, -ENOMEM, "sidecar %s: out of memory", m->name);
out:
	cJSON_Delete(items);
	cJSON_Delete(o);
	free(text);
	free(path);
	free(tmp);
	return rc;
}

cJSON *snap_meta_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	cJSON *o;

	if (f == NULL)
		return NULL;
	buf = malloc(META_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, META_MAX + 1, f);
	fclose(f);
	if (n > META_MAX) {
		free(buf);
		return NULL;
	}
	o = cJSON_ParseWithLength(buf, n);
	free(buf);
	if (o != NULL && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}
