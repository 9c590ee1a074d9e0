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
	if (text == NULL)
		goto nomem;
	path = snap_fmt("%s/%s" KC_SNAPSHOT_META_SUFFIX, dir, m->name);
	tmp = snap_fmt("%s/.%s.meta.tmp", dir, m->name);
	if (path == NULL || tmp == NULL)
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

/*
 * 5-tuple of a stream from its first packet, for the manifest (the sidecar
 * may be missing after a crash). Ethernet, up to two VLAN tags, IPv4 or IPv6
 * (skipping hop-by-hop, routing, destination-options and first-fragment
 * headers), then TCP/UDP ports. Returns NULL when the packet is not that.
 */
static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

cJSON *snap_flow_from_packet(const uint8_t *p, size_t len)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	size_t off = 14, l4;
	uint16_t et;
	uint8_t proto;
	int vlans = 0;
	cJSON *o;

	if (len < 14)
		return NULL;
	et = be16(p + 12);
	while ((et == 0x8100 || et == 0x88a8) && vlans < 2 && len >= off + 4) {
		et = be16(p + off + 2);
		off += 4;
		vlans++;
	}
	if (et == 0x0800) {
		size_t ihl;

		if (len < off + 20 || (p[off] >> 4) != 4)
			return NULL;
		ihl = (size_t)(p[off] & 0x0f) * 4;
		if (ihl < 20 || len < off + ihl)
			return NULL;
		proto = p[off + 9];
		inet_ntop(AF_INET, p + off + 12, src, sizeof(src));
		inet_ntop(AF_INET, p + off + 16, dst, sizeof(dst));
		/* a non-first fragment carries no ports */
		l4 = (be16(p + off + 6) & 0x1fff) ? len : off + ihl;
	} else if (et == 0x86dd) {
		if (len < off + 40 || (p[off] >> 4) != 6)
			return NULL;
		proto = p[off + 6];
		inet_ntop(AF_INET6, p + off + 8, src, sizeof(src));
		inet_ntop(AF_INET6, p + off + 24, dst, sizeof(dst));
		l4 = off + 40;
		for (int i = 0; i < 4 && l4 + 8 <= len; i++) {
			if (proto == 0 || proto == 43 || proto == 60) {
				proto = p[l4];
				l4 += ((size_t)p[l4 + 1] + 1) * 8;
			} else if (proto == 44) {
				bool first = (be16(p + l4 + 2) & 0xfff8) == 0;

				proto = p[l4];
				l4 = first ? l4 + 8 : len; /* later fragments: no ports */
			} else {
				break;
			}
		}
	} else {
		return NULL;
	}
	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "proto", proto == 6 ? "tcp" : proto == 17 ? "udp" : "other");
	cJSON_AddNumberToObject(o, "ip_proto", proto);
	cJSON_AddStringToObject(o, "src", src);
	cJSON_AddStringToObject(o, "dst", dst);
	if ((proto == 6 || proto == 17) && l4 + 4 <= len) {
		cJSON_AddNumberToObject(o, "sport", be16(p + l4));
		cJSON_AddNumberToObject(o, "dport", be16(p + l4 + 2));
	}
	if (vlans > 0)
		cJSON_AddNumberToObject(o, "vlan", be16(p + 14) & 0x0fff);
	return o;
}
