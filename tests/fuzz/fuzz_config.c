/* fuzz_config: the config validator on arbitrary JSON, the way a file or a runtime "add"
 * reaches it. Every path must fail with a message or succeed, and free what it made. */
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct lv_config *cfg = NULL;
	struct lv_pool_config pool;
	char err[LV_ERRBUF];

	if (!root)
		return 0;
	if (lv_config_from_json(root, "/etc/loopvisor", &cfg, err, sizeof err) == 0)
		lv_config_free(cfg);
	if (lv_pool_config_from_json(root, "/etc/loopvisor", "pool", &pool, err, sizeof err) == 0)
		lv_pool_config_clear(&pool);
	json_decref(root);
	return 0;
}
