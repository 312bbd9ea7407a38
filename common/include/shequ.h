/*  shequ.h: the one header a service includes (STYLE.md). */
#ifndef SHEQU_H
#define SHEQU_H

#include "sq_cache.h"
#include "sq_codec.h"
#include "sq_config.h"
#include "sq_db.h"
#include "sq_envelope.h"
#include "sq_inbox.h"
#include "sq_log.h"
#include "sq_mdp.h"
#include "sq_outbox.h"
#include "sq_sub.h"
#include "sq_util.h"

#endif
