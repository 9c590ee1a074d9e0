/*
 * Every worked example of kfl.md section 11, on items H and D as JSON and
 * (where the struct item has the field) as struct kc_item.
 */
#include "kfl_test.h"

/* Both representations must agree. */
#define BOTH_H(f, want)                         \
	do {                                    \
		EXPECT_JSON(f, H_JSON, want);   \
		EXPECT_ITEM(f, &h, want);       \
	} while (0)
#define BOTH_D(f, want)                         \
	do {                                    \
		EXPECT_JSON(f, D_JSON, want);   \
		EXPECT_ITEM(f, &d, want);       \
	} while (0)

int main(void)
{
	static struct kc_item h, d;

	t_item_h(&h);
	t_item_d(&d);

	BOTH_H("http", true);                                                   /* 1 */
	BOTH_H("http or dns", true);                                            /* 2 */
	BOTH_D("http or dns", true);
	BOTH_H("dns", false);                                                   /* 3 */
	BOTH_H("http and response.status == 503", true);                        /* 4 */
	BOTH_H("http and response.status >= 500 and response.status < 600", true); /* 5 */
	BOTH_H("response.status == r\"5.*\"", true);                            /* 6 */
	BOTH_H("response.status == r\"0\"", true);                              /* 7 */
	BOTH_H("response.status == r\"^50[0-9]$\"", true);                      /* 8 */
	BOTH_H("request.path == r\"/api/.*\"", false);                          /* 9 */
	BOTH_H("request.path == \"/catalogue\" and request.method == \"GET\"", true); /* 10 */
	/* 11, 12, 28: Kubernetes names exist in Kubeshark entries only */
	EXPECT_JSON("dst.name == \"catalogue.sock-shop\"", H_JSON, true);       /* 11 */
	EXPECT_ITEM("dst.name == \"catalogue.sock-shop\"", &h, false);
	EXPECT_JSON("dst.name.endsWith(\".sock-shop\") and src.namespace == \"sock-shop\"", H_JSON,
		    true);                                                      /* 12 */
	BOTH_H("request.headers[\"User-Agent\"].startsWith(\"kube-probe\")", true); /* 13 */
	BOTH_H("request.headers[\"user-agent\"] == \"kube-probe/1.27\"", false); /* 14 */
	BOTH_H("request.queryString.tags == \"red\"", true);                   /* 15 */
	BOTH_H("request.queryString.tags != \"red\"", false);
	BOTH_H("request.queryString.size > 3", true);                          /* 16 */
	BOTH_H("dst.port == 80", true);                                        /* 17 */
	BOTH_H("response.content.text.json().error == \"disk full\"", true);  /* 18 */
	BOTH_H("elapsedTime > 1000", true);                                    /* 19 */
	BOTH_H("timestamp >= datetime(\"3/13/2023, 2:37:46.172 AM\")", true); /* 20 */
	BOTH_H("timestamp == 1678675066172", false);                           /* 21 */
	BOTH_H("http and response.status == 404 or dns", false);               /* 22 */
	BOTH_D("http and response.status == 404 or dns", false);
	BOTH_D("(http and response.status == 404) or dns", true);              /* 23 */
	BOTH_H("false and true or true", false);                               /* 24 */
	BOTH_H("request.missing == \"x\" or http", false);                     /* 25 */
	BOTH_H("(request.missing == \"x\") or http", true);                    /* 26 */
	BOTH_H("!request.missing", false);                                     /* 27 */
	BOTH_H("!(request.missing == \"x\")", true);
	EXPECT_JSON("src.pod == nil", H_JSON, true);                           /* 28 */
	BOTH_H("!request.method == \"GET\"", true);                            /* 29 */
	BOTH_H("-1", false);                                                   /* 30 */
	BOTH_H("request.headers", false);
	BOTH_H("outgoing == \"false\"", true);                                 /* 31 */
	BOTH_H("\"10\" > \"9\"", true);                                        /* 32 */
	BOTH_H("request.method == 'GET'", false);                              /* 33 */
	BOTH_H("http and limit(10)", true);                                    /* 34 */
	{
		struct kc_kfl_prog *p = t_compile("http and limit(10)");
		CHECK(p && kc_kfl_prog_limit(p) == 10, "limit(10) value");
		kc_kfl_prog_free(p);
	}
	BOTH_H("redact(\"..Authorization\")", true);                           /* 35 */
	BOTH_D("dns and request.questions[0].name == \"carts-db.sock-shop.svc.cluster.local\"",
	       true);                                                          /* 36 */
	BOTH_D("response.answers.*.ip == \"10.101.46.75\"", true);             /* 37 */
	BOTH_D("dns and response.answers[0].ttl < 60", true);                  /* 38 */
	EXPECT_ERR("http && dns", 6);                                          /* 39 */
	EXPECT_ERR("request.method = \"GET\"", 16);
	EXPECT_ERR("request.path == \"\\d\"", 18);

	/* the collapse table of kfl.md section 7 */
	BOTH_H("request.missing == \"x\"", false);
	BOTH_H("request.missing != \"x\"", false);
	BOTH_H("request.missing == nil", false);
	BOTH_H("http or request.missing == \"x\"", true);

	/* documentation examples (end of section 11) */
	BOTH_H("http and response.status == r\"4.*\"", false);
	BOTH_H("http and response.status == 500", false);
	EXPECT_JSON("request.path == r\"/api/.*\"", "{\"request\":{\"path\":\"/v1/api/users\"}}", true);
	EXPECT_JSON("dst.namespace == \"\"", "{\"dst\":{\"namespace\":\"\"}}", true);

	kc_kfl_scratch_free(g_scratch);
	return test_done();
}
