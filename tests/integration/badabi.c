/* badabi: a module built for a future job ABI, which loopvisord must refuse to run. */
#include <loopvisor/job.h>

static int never_start(lv_ctx *ctx)
{
	(void)ctx;
	return 0;
}

__attribute__((visibility("default"))) const struct lv_job loopvisor_job = {
	.abi_version = LV_JOB_ABI_VERSION + 1, .name = "badabi", .start = never_start,
};
