/* registry_core: see service.h */
#include "shequ.h"
