/* bus_core: the broker (see broker.h) */
#include "shequ.h"
