/* Configuration: typed set from text, file (cJSON), environment, checks. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config_internal.h"

#define FILE_MAX (1024 * 1024)
#define GCS_KEY_MAX (64 * 1024)

extern char **environ;

static const char *const src_names[] = { "default", "file", "env", "cli" };

const char *kc_config_source_name(enum kc_config_source src)
{
	return (unsigned)src < KC_ARRAY_SIZE(src_names) ? src_names[src] : "?";
}

#define FIELD(cfg, k, T) ((T *)(void *)((char *)(cfg) + (k)->off))

static void wipe_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Shown value: secrets never. */
static const char *shown(const struct kc_config_key *k, const char *v)
{
	return k->secret ? "***" : v;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const t[] = { "true", "1", "yes", "on" };
	static const char *const f[] = { "false", "0", "no", "off" };

	for (size_t i = 0; i < KC_ARRAY_SIZE(t); i++) {
		if (strcasecmp(v, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* "" or scheme://rest with a non-empty rest (bucket for gs/s3). */
static int check_url(const char *v, const char **why)
{
	const char *rest;

	if (v[0] == '\0')
		return 0;
	if (strncmp(v, "file://", 7) == 0) {
		rest = v + 7;
		if (*rest == '\0') {
			*why = "file:// needs a directory";
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(v, "gs://", 5) == 0 || strncmp(v, "s3://", 5) == 0) {
		rest = v + 5;
		if (*rest == '\0' || *rest == '/') {
			*why = "needs a bucket name";
			return -EINVAL;
		}
		for (const char *p = rest; *p && *p != '/'; p++) {
			if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
			      *p == '-' || *p == '.' || *p == '_')) {
				*why = "bucket names use a-z 0-9 - . _";
				return -EINVAL;
			}
		}
		return 0;
	}
	*why = "scheme must be file://, gs:// or s3://";
	return -EINVAL;
}

/* Apply text @p v to key @p k; @p where prefixes error messages. */
static int set_key(struct kc_config *cfg, const struct kc_config_key *k, const char *v,
		   enum kc_config_source src, const char *where, struct kc_err *err)
{
	size_t idx = config_key_index(k);
	const char *why = NULL;
	uint64_t u;
	bool b;
	int rc;

	if (src < cfg->src[idx])
		return 0; /* a higher-precedence source already set it */
	switch (k->type) {
	case KC_CFG_BOOL:
		if (parse_bool(v, &b) < 0)
			return kc_err_set(err, -EINVAL, "%s: key '%s': value '%s': not a boolean "
					  "(true/false, 1/0, yes/no, on/off)", where, k->name,
					  shown(k, v));
		*FIELD(cfg, k, bool) = b;
		break;
	case KC_CFG_U64:
	case KC_CFG_POW2:
		rc = kc_parse_u64(v, k->min, k->max, &u);
		if (rc == -EINVAL)
			return kc_err_set(err, rc, "%s: key '%s': value '%s': not an unsigned "
					  "decimal integer", where, k->name, shown(k, v));
		if (rc == -ERANGE)
			return kc_err_set(err, rc, "%s: key '%s': value '%s': out of range "
					  "[%llu, %llu]", where, k->name, shown(k, v),
					  (unsigned long long)k->min, (unsigned long long)k->max);
		if (k->type == KC_CFG_POW2 && (u & (u - 1)) != 0)
			return kc_err_set(err, -EINVAL, "%s: key '%s': value '%s': not a power "
					  "of two", where, k->name, shown(k, v));
		*FIELD(cfg, k, uint64_t) = u;
		break;
	case KC_CFG_ENUM: {
		int found = -1;

		for (int i = 0; k->choices[i] != NULL; i++)
			if (strcmp(v, k->choices[i]) == 0)
				found = i;
		if (found < 0) {
			char list[128] = "";

			for (int i = 0; k->choices[i] != NULL; i++) {
				strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
				strncat(list, k->choices[i], sizeof(list) - strlen(list) - 1);
			}
			return kc_err_set(err, -EINVAL, "%s: key '%s': value '%s': must be one of "
					  "%s", where, k->name, shown(k, v), list);
		}
		*FIELD(cfg, k, int) = found;
		break;
	}
	case KC_CFG_CRON:
	case KC_CFG_URL:
	case KC_CFG_STRING: {
		size_t len = strlen(v);
		char *copy;

		if (len > k->max)
			return kc_err_set(err, -ERANGE, "%s: key '%s': value %s%.40s%s: longer "
					  "than %llu bytes", where, k->name,
					  k->secret ? "" : "'", shown(k, v),
					  k->secret ? "" : "...'", (unsigned long long)k->max);
		if (len < k->min)
			return kc_err_set(err, -EINVAL, "%s: key '%s': value '%s': must not be "
					  "empty", where, k->name, shown(k, v));
		if (k->type == KC_CFG_CRON) {
			struct kc_cron c;
			struct kc_err cerr;

			if (kc_cron_parse(v, &c, &cerr) < 0)
				return kc_err_set(err, -EINVAL, "%s: key '%s': value '%s': %s",
						  where, k->name, v, cerr.msg);
		}
		if (k->type == KC_CFG_URL && check_url(v, &why) < 0)
			return kc_err_set(err, -EINVAL, "%s: key '%s': value '%s': %s", where,
					  k->name, shown(k, v), why);
		copy = strdup(v);
		if (copy == NULL)
			return kc_err_set(err, -ENOMEM, "%s: key '%s': out of memory", where,
					  k->name);
		if (k->secret)
			wipe_free(*FIELD(cfg, k, char *));
		else
			free(*FIELD(cfg, k, char *));
		*FIELD(cfg, k, char *) = copy;
		break;
	}
	}
	cfg->src[idx] = (unsigned char)src;
	return 0;
}

int kc_config_set(struct kc_config *cfg, const char *key, const char *value,
		  enum kc_config_source src, struct kc_err *err)
{
	const struct kc_config_key *k = key ? kc_config_key_find(key) : NULL;
	const char *where = src == KC_CONFIG_SRC_CLI ? "command line" : kc_config_source_name(src);

	if (k == NULL)
		return kc_err_set(err, -EINVAL, "%s: unknown key '%s'", where, key ? key : "(null)");
	if (value == NULL)
		return kc_err_set(err, -EINVAL, "%s: key '%s': no value", where, key);
	return set_key(cfg, k, value, src, where, err);
}

static void config_free(struct kc_config *cfg);

struct kc_config *kc_config_new(void)
{
	struct kc_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	for (size_t i = 0; i < kc_config_key_count(); i++) {
		const struct kc_config_key *k = kc_config_key_at(i);

		/* a default that does not pass its own checks is a table bug */
		if (set_key(cfg, k, k->def, KC_CONFIG_SRC_DEFAULT, "default", NULL) < 0) {
			config_free(cfg);
			errno = ENOMEM;
			return NULL;
		}
	}
	return cfg;
}

static const char *json_type(const cJSON *j)
{
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsNull(j))
		return "null";
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsObject(j))
		return "an object";
	return "invalid";
}

/* Turn one JSON value into the text form set_key() takes, checking its
 * JSON type against the key's type. */
static int json_text(const struct kc_config_key *k, const cJSON *j, char *buf, size_t cap,
		     const char **text, const char *where, struct kc_err *err)
{
	switch (k->type) {
	case KC_CFG_BOOL:
		if (!cJSON_IsBool(j))
			return kc_err_set(err, -EINVAL, "%s: key '%s': expected true or false, "
					  "got %s", where, k->name, json_type(j));
		*text = cJSON_IsTrue(j) ? "true" : "false";
		return 0;
	case KC_CFG_U64:
	case KC_CFG_POW2: {
		double d;

		if (!cJSON_IsNumber(j))
			return kc_err_set(err, -EINVAL, "%s: key '%s': expected a non-negative "
					  "integer, got %s", where, k->name, json_type(j));
		d = j->valuedouble;
		/* doubles are exact up to 2^53: enough for every range we have */
		if (!(d >= 0) || d != floor(d) || d > 9007199254740992.0)
			return kc_err_set(err, -EINVAL, "%s: key '%s': value %g: not a "
					  "non-negative integer", where, k->name, d);
		snprintf(buf, cap, "%llu", (unsigned long long)d);
		*text = buf;
		return 0;
	}
	default:
		if (!cJSON_IsString(j))
			return kc_err_set(err, -EINVAL, "%s: key '%s': expected a string, got %s",
					  where, k->name, json_type(j));
		*text = j->valuestring;
		return 0;
	}
}

int kc_config_load_json(struct kc_config *cfg, const char *json, size_t len, const char *origin,
			struct kc_err *err)
{
	char where[300];
	cJSON *root, *it;
	int rc = 0;

	snprintf(where, sizeof(where), "config file %s", origin);
	root = cJSON_ParseWithLength(json, len);
	if (root == NULL) {
		const char *at = cJSON_GetErrorPtr();
		size_t off = at && at >= json && at <= json + len ? (size_t)(at - json) : 0;
		size_t line = 1;

		for (size_t i = 0; i < off; i++)
			line += json[i] == '\n';
		return kc_err_set(err, -EINVAL, "%s: JSON syntax error near line %zu", where, line);
	}
	if (!cJSON_IsObject(root)) {
		rc = kc_err_set(err, -EINVAL, "%s: top level must be a JSON object", where);
		goto out;
	}
	cJSON_ArrayForEach(it, root) {
		const struct kc_config_key *k;
		const char *text = NULL;
		char num[32];

		if (it->string == NULL)
			continue;
		if (it->string[0] == '_')
			continue; /* "_comment" and friends */
		k = kc_config_key_find(it->string);
		if (k == NULL) {
			rc = kc_err_set(err, -EINVAL, "%s: unknown key '%s'", where, it->string);
			goto out;
		}
		rc = json_text(k, it, num, sizeof(num), &text, where, err);
		if (rc == 0)
			rc = set_key(cfg, k, text, KC_CONFIG_SRC_FILE, where, err);
		if (rc < 0)
			goto out;
	}
out:
	/* the tree may hold a secret */
	cJSON_ArrayForEach(it, root)
		if (cJSON_IsString(it) && it->valuestring != NULL)
			explicit_bzero(it->valuestring, strlen(it->valuestring));
	cJSON_Delete(root);
	return rc;
}

/* Read a whole small file into a NUL-terminated buffer. */
static int read_small(const char *path, size_t max, char **out, size_t *lenp)
{
	struct stat sb;
	char *buf;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	if (sb.st_size > (off_t)max) {
		rc = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			explicit_bzero(buf, len);
			free(buf);
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*lenp = len;
out:
	close(fd);
	return rc;
}

int kc_config_load_file(struct kc_config *cfg, const char *path, struct kc_err *err)
{
	char *buf;
	size_t len;
	int rc = read_small(path, FILE_MAX, &buf, &len);

	if (rc < 0)
		return kc_err_set(err, rc, "config file %s: %s", path,
				  rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
	rc = kc_config_load_json(cfg, buf, len, path, err);
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

int kc_config_load_env(struct kc_config *cfg, char *const *envp, struct kc_err *err)
{
	char name[128], where[160];

	if (envp == NULL)
		envp = environ;
	/* unknown KFLCAP_* names are errors (typos must not pass silently) */
	for (char *const *e = envp; *e != NULL; e++) {
		const char *eq = strchr(*e, '='), *kn = *e + 7;
		size_t i, len;

		if (strncmp(*e, "KFLCAP_", 7) != 0 || eq == NULL)
			continue;
		len = (size_t)(eq - kn);
		if (len == 6 && strncmp(kn, "CONFIG", 6) == 0)
			continue;
		for (i = 0; i < kc_config_key_count(); i++) {
			const char *kname = kc_config_key_at(i)->name;
			size_t j;

			if (strlen(kname) != len)
				continue;
			for (j = 0; j < len && toupper((unsigned char)kname[j]) == kn[j]; j++)
				;
			if (j == len)
				break;
		}
		if (i == kc_config_key_count())
			return kc_err_set(err, -EINVAL, "environment: unknown variable %.*s",
					  (int)KC_MIN((size_t)(eq - *e), 100), *e);
	}
	for (size_t i = 0; i < kc_config_key_count(); i++) {
		const struct kc_config_key *k = kc_config_key_at(i);
		const char *v;
		size_t j;
		int rc;

		/* seed name first, so the KFLCAP_ name wins when both are set */
		if (k->seed_env != NULL && (v = env_get(envp, k->seed_env)) != NULL) {
			snprintf(where, sizeof(where), "environment %s", k->seed_env);
			rc = set_key(cfg, k, v, KC_CONFIG_SRC_ENV, where, err);
			if (rc < 0)
				return rc;
		}
		memcpy(name, "KFLCAP_", 7);
		for (j = 0; k->name[j] != '\0' && j + 8 < sizeof(name); j++)
			name[7 + j] = (char)toupper((unsigned char)k->name[j]);
		name[7 + j] = '\0';
		if ((v = env_get(envp, name)) != NULL) {
			snprintf(where, sizeof(where), "environment %s", name);
			rc = set_key(cfg, k, v, KC_CONFIG_SRC_ENV, where, err);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

struct kc_config *kc_config_load(const char *path, char *const *envp, struct kc_err *err)
{
	struct kc_config *cfg = kc_config_new();
	int rc;

	if (cfg == NULL) {
		kc_err_set(err, -ENOMEM, "config: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	rc = path ? kc_config_load_file(cfg, path, err) : 0;
	if (rc == 0)
		rc = kc_config_load_env(cfg, envp, err);
	if (rc < 0) {
		kc_config_free(cfg);
		errno = -rc;
		return NULL;
	}
	return cfg;
}

static int replace(char **field, const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s%s", a, b) < 0)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

/* Relative paths are taken from the working directory at start-up, once:
 * the destination URL built from out_dir must be absolute (file://). */
static int absolute(char **field)
{
	char cwd[4096];
	const char *rel = *field;

	if (rel[0] == '/' || rel[0] == '\0')
		return 0;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -errno;
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	if (strcmp(rel, ".") == 0)
		rel = "";
	{
		char *abs = NULL;
		int rc;

		if (asprintf(&abs, "%s%s%s", cwd, rel[0] ? "/" : "", rel) < 0)
			return -ENOMEM;
		rc = replace(field, abs, "");
		free(abs);
		return rc;
	}
}

int kc_config_finish(struct kc_config *cfg, struct kc_err *err)
{
	struct kc_cron c;

	if (absolute(&cfg->out_dir) < 0 || absolute(&cfg->spool_dir) < 0)
		return kc_err_set(err, -EINVAL, "key 'out_dir': cannot make the path absolute");

	if (cfg->dest[0] == '\0') {
		int rc = cfg->gcs_bucket[0] ? replace(&cfg->dest, "gs://", cfg->gcs_bucket)
					    : replace(&cfg->dest, "file://", cfg->out_dir);

		if (rc == 0 && cfg->gcs_bucket[0] == '\0')
			rc = replace(&cfg->dest, cfg->dest, "/archive");
		if (rc < 0)
			return kc_err_set(err, rc, "config: out of memory");
	}
	if (cfg->spool_dir[0] == '\0' && replace(&cfg->spool_dir, cfg->out_dir, "/spool") < 0)
		return kc_err_set(err, -ENOMEM, "config: out of memory");
	if (kc_cron_parse(cfg->snapshot_cron, &c, NULL) < 0) /* checked at set */
		return kc_err_set(err, -EINVAL, "key 'snapshot_cron': invalid");
	c.local = cfg->snapshot_cron_local;
	cfg->snapshot_schedule = c;
	if (cfg->upload_backoff_base_ms > cfg->upload_backoff_max_ms)
		return kc_err_set(err, -EINVAL, "keys 'upload_backoff_base_ms' (%llu) and "
				  "'upload_backoff_max_ms' (%llu): base must not exceed max",
				  (unsigned long long)cfg->upload_backoff_base_ms,
				  (unsigned long long)cfg->upload_backoff_max_ms);
	if (strncmp(cfg->dest, "gs://", 5) == 0) {
		if (cfg->gcs_sa_key_json[0] == '\0')
			return kc_err_set(err, -EINVAL, "key 'dest' is %s: key 'gcs_sa_key_json' "
					  "(env GCS_SA_KEY_JSON) is required", cfg->dest);
		if (cfg->gcs_sa_key_json[0] != '{' && access(cfg->gcs_sa_key_json, R_OK) != 0)
			return kc_err_set(err, -EINVAL, "key 'gcs_sa_key_json': value '***': "
					  "neither inline JSON nor a readable file");
	}
	if (strncmp(cfg->dest, "s3://", 5) == 0 &&
	    (cfg->s3_access_key[0] == '\0' || cfg->s3_secret_key[0] == '\0'))
		return kc_err_set(err, -EINVAL, "key 'dest' is %s: keys 's3_access_key' and "
				  "'s3_secret_key' (env AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) "
				  "are required", cfg->dest);
	return 0;
}

int kc_config_source_of(const struct kc_config *cfg, const char *key)
{
	const struct kc_config_key *k = kc_config_key_find(key);

	return k ? cfg->src[config_key_index(k)] : -1;
}

int kc_config_print(const struct kc_config *cfg, FILE *out)
{
	cJSON *root = cJSON_CreateObject();
	char *text;
	int rc = 0;

	if (root == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < kc_config_key_count(); i++) {
		const struct kc_config_key *k = kc_config_key_at(i);
		cJSON *v = NULL;

		switch (k->type) {
		case KC_CFG_BOOL:
			v = cJSON_CreateBool(*FIELD(cfg, k, bool));
			break;
		case KC_CFG_U64:
		case KC_CFG_POW2:
			v = cJSON_CreateNumber((double)*FIELD(cfg, k, uint64_t));
			break;
		case KC_CFG_ENUM:
			v = cJSON_CreateString(k->choices[*FIELD(cfg, k, int)]);
			break;
		default: {
			const char *s = *FIELD(cfg, k, char *);

			v = cJSON_CreateString(k->secret && s[0] ? "***" : s);
			break;
		}
		}
		if (v == NULL || !cJSON_AddItemToObject(root, k->name, v)) {
			cJSON_Delete(v);
			cJSON_Delete(root);
			return -ENOMEM;
		}
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text == NULL)
		return -ENOMEM;
	if (fputs(text, out) == EOF || fputc('\n', out) == EOF || fflush(out) == EOF)
		rc = -EIO;
	free(text);
	return rc;
}

int kc_config_gcs_key(const struct kc_config *cfg, char **out, struct kc_err *err)
{
	size_t len;
	int rc;

	if (cfg->gcs_sa_key_json[0] == '\0')
		return kc_err_set(err, -ENOENT, "key 'gcs_sa_key_json': not configured");
	if (cfg->gcs_sa_key_json[0] == '{') {
		*out = strdup(cfg->gcs_sa_key_json);
		return *out ? 0 : kc_err_set(err, -ENOMEM, "gcs key: out of memory");
	}
	rc = read_small(cfg->gcs_sa_key_json, GCS_KEY_MAX, out, &len);
	if (rc < 0)
		return kc_err_set(err, rc, "key 'gcs_sa_key_json': key file: %s",
				  rc == -EFBIG ? "larger than 64 KiB" : strerror(-rc));
	return 0;
}

void kc_config_free(struct kc_config *cfg)
{
	config_free(cfg);
}

/* Also for kc_config_new()'s own failure path: the compiler pairs
 * kc_config_free() with the public constructors only (malloc attribute). */
static void config_free(struct kc_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < kc_config_key_count(); i++) {
		const struct kc_config_key *k = kc_config_key_at(i);

		if (k->type == KC_CFG_STRING || k->type == KC_CFG_CRON || k->type == KC_CFG_URL)
			wipe_free(*FIELD(cfg, k, char *));
	}
	explicit_bzero(cfg, sizeof(*cfg));
	free(cfg);
}
