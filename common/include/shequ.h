/*  shequ.h: the one header a service includes (STYLE.md). */
#ifndef SHEQU_H
#define SHEQU_H

#include "sq_codec.h"
#include "sq_config.h"
#include "sq_envelope.h"
#include "sq_log.h"
#include "sq_mdp.h"
#include "sq_util.h"

#endif
