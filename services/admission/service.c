/*  admission service: the command table and the helpers the handlers share. */
#include "admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const sq_command_t s_commands[] = {
    {"catalog.put", admission_catalog_put},
    {"catalog.remove", admission_catalog_remove},
    {"catalog.list", admission_catalog_list},
    {"application.submit", admission_application_submit},
    {"application.get", admission_application_get},
    {"application.list", admission_application_list},
    {"application.withdraw", admission_application_withdraw},
    {"application.review", admission_application_review},
    {"agreement.list", admission_agreement_list},
    {"agreement.sign", admission_agreement_sign},
    {"burden.get", admission_burden_get},
    {NULL, NULL}};

static const sq_command_t s_sweeps[] = {{"expire", admission_expire}, {NULL, NULL}};

void
admission_service_config (sq_service_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->name = "admission";
    config->schema = "admission";
    config->commands = s_commands;
    config->sweeps = s_sweeps;
}

int
admission_read_date (sq_ctx_t *ctx, const char *field, char out[11])
{
    if (sq_arg_str (ctx->args, field, true, 10, out, 11, &ctx->err) < 0)
        return -1;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int ok = strlen (out) == 10 && out[4] == '-' && out[7] == '-';
    for (int i = 0; ok && i < 10; i++)
        ok = i == 4 || i == 7 || (out[i] >= '0' && out[i] <= '9');
    if (ok) {
        int y = (int) strtol (out, NULL, 10), m = (int) strtol (out + 5, NULL, 10);
        int d = (int) strtol (out + 8, NULL, 10);
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        ok = y >= 2000 && y <= 2100 && m >= 1 && m <= 12 && d >= 1
             && d <= days[m - 1] + (m == 2 && leap);
    }
    if (!ok)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field,
                             "%s must be a real date YYYY-MM-DD between 2000 and 2100", field);
    return 0;
}

int
admission_read_code (sq_ctx_t *ctx, const char *field, bool required, const int *lengths,
                     char out[SQ_DIV_MAX])
{
    out[0] = 0;
    int rc = sq_arg_str (ctx->args, field, required, 12, out, SQ_DIV_MAX, &ctx->err);
    if (rc <= 0)
        return rc;
    for (int i = 0; lengths[i]; i++)
        if (sq_is_digits (out, (size_t) lengths[i]))
            return 1;
    return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s %s is not a division code of"
                         " the right level", field, out);
}

int
admission_catalog_version (sq_ctx_t *ctx, const char *county)
{
    const char *params[] = {county};
    PGresult *res = sq_db_query (ctx->db, "SELECT coalesce (max (version), 0)"
                                 " FROM admission.catalog_version WHERE county = $1",
                                 1, params, &ctx->err);
    if (!res)
        return -1;
    int version = (int) strtol (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    return version;
}
