/*  admission: the service's shared declarations (issue 4; DOMAIN.md section 3).
    Commands and events are listed in services/admission/README.md. */
#ifndef ADMISSION_H
#define ADMISSION_H

#include "screening.h"
#include "shequ.h"
#include "sq_service.h"

#define ADMISSION_TEXT_MAX 200         //  titles, names, departments, references, bytes
#define ADMISSION_DESCRIPTION_MAX 2000 //  free description, bytes
#define ADMISSION_CODE_MAX 64          //  catalogue item codes
#define ADMISSION_TARGETS_MAX 5000     //  communities one application may name
#define ADMISSION_FUNDS_MAX 100000000000LL //  10^11 fen (a billion yuan) per community
#define ADMISSION_PAGE_SIZE 100        //  rows per page of a list

void admission_service_config (sq_service_config_t *config);

//  Reads a YYYY-MM-DD date argument into out. Returns 0, or -1 with ctx->err set.
int admission_read_date (sq_ctx_t *ctx, const char *field, char out[11]);

//  Reads a division code argument of one of the given lengths (0-terminated list).
int admission_read_code (sq_ctx_t *ctx, const char *field, bool required, const int *lengths,
                         char out[SQ_DIV_MAX]);

//  The county's current catalogue version (0 before any change), or -1 with ctx->err set.
int admission_catalog_version (sq_ctx_t *ctx, const char *county);

sq_handler_fn admission_catalog_put, admission_catalog_remove, admission_catalog_list;
sq_handler_fn admission_application_submit, admission_application_get,
    admission_application_list, admission_application_withdraw, admission_application_review;
sq_handler_fn admission_agreement_list, admission_agreement_sign, admission_burden_get;
sq_handler_fn admission_expire; //  sweep

#endif
