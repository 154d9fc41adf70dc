/* http: the "http" key of the config: where the read-only metrics and status listener
 * listens, and how many workers still get series of their own. */
#include "config/config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/check.h"
#include "daemon/lib/strv.h"

static const char *const http_keys[] = { "listen", "worker_series_max", "allow_remote", NULL };

void lv_http_config_clear(struct lv_http_config *h)
{
	lv_strv_free(h->listen);
	memset(h, 0, sizeof *h);
}

/* Whether a "tcp:HOST:PORT" spec binds loopback only: 127.0.0.0/8 or [::1]. */
bool lv_listen_spec_is_loopback(const char *spec)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *hp = spec + 4, *end;
	unsigned char addr[16];

	if (strncmp(spec, "tcp:", 4) != 0)
		return true; /* unix: and fd: are local by nature */
	end = hp[0] == '[' ? strchr(hp, ']') : strrchr(hp, ':');
	if (!end || (size_t)(end - hp) >= sizeof host)
		return false;
	if (hp[0] == '[') {
		snprintf(host, sizeof host, "%.*s", (int)(end - hp - 1), hp + 1);
		return inet_pton(AF_INET6, host, addr) == 1 &&
		       !memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	}
	snprintf(host, sizeof host, "%.*s", (int)(end - hp), hp);
	return inet_pton(AF_INET, host, addr) == 1 && addr[0] == 127;
}

int cfg_parse_http(struct cfgerr *e, const json_t *root, struct lv_config *cfg)
{
	json_t *http = json_object_get(root, "http"), *listen, *v;
	struct lv_http_config *h = &cfg->http;
	long long series = 1000;
	size_t i;

	if (!http)
		return 0;
	if (!json_is_object(http))
		return cfg_fail(e, "", "http", "must be an object");
	listen = json_object_get(http, "listen");
	if (cfg_known_keys(e, http, "http", http_keys) < 0 ||
	    cfg_int(e, http, "http", "worker_series_max", 0, 1000000, &series) < 0 ||
	    cfg_bool(e, http, "http", "allow_remote", &h->allow_remote) < 0)
		return -1;
	if (!json_is_array(listen) || json_array_size(listen) == 0 ||
	    json_array_size(listen) > LV_HTTP_LISTEN_MAX)
		return cfg_fail(e, "http", "listen", "must be an array of 1 to %d addresses",
		                LV_HTTP_LISTEN_MAX);
	h->worker_series_max = (unsigned)series;
	if (!(h->listen = calloc(json_array_size(listen) + 1, sizeof *h->listen)))
		return cfg_fail(e, "http", "listen", "out of memory");
	json_array_foreach(listen, i, v) {
		char key[32];
		const char *spec = json_string_value(v);

		snprintf(key, sizeof key, "listen[%zu]", i);
		if (!spec || !(!strncmp(spec, "tcp:", 4) || !strncmp(spec, "unix:", 5)) ||
		    !(h->listen[i] = cfg_listen_spec(spec, cfg->dir)))
			return cfg_fail(e, "http", key, "must be \"tcp:HOST:PORT\", \"tcp:[IPV6]:PORT\" "
			                "or \"unix:PATH\"");
		if (!h->allow_remote && !lv_listen_spec_is_loopback(spec))
			return cfg_fail(e, "http", key, "%s is not a loopback address (127.x.x.x, [::1]): set "
			                "\"allow_remote\": true "
			                "to serve other hosts", spec + 4);
	}
	return 0;
}
