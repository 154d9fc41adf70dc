/* outlet: hands each change of the core to the hook main installed (see outlet.h). */
#include "daemon/core/outlet.h"

#include "daemon/core/supervisor.h"

void core_changed(struct supervisor *sup, const struct core_change *c)
{
	if (sup->outlet.changed)
		sup->outlet.changed(sup->outlet.ctx, c);
}
