/* outlet_consumers: fills the core's outlet (core/outlet.h) with the daemon's consumers of
 * its changes. main installs it before the first pool is made. */
#ifndef LV_OUTLET_CONSUMERS_H
#define LV_OUTLET_CONSUMERS_H

struct supervisor;

void outlet_consumers_install(struct supervisor *sup);

#endif
