/*  sq_migrate: versioned SQL migrations, applied at start under an advisory lock.

    Each service owns one PostgreSQL schema. Its migrations are files
    `schemas/<service>/NNN_<what>.sql`; the tables every service needs (outbox, inbox,
    idempotency keys) are `schemas/common/NNN_<what>.sql`, applied into each service's schema
    before the service's own. Applied versions are kept in `<schema>.schema_migrations`
    (track, version). Several replicas starting together serialise on the lock; the first
    applies, the others find nothing left to do. Each file runs in one transaction. */
#ifndef SQ_MIGRATE_H
#define SQ_MIGRATE_H

#include "sq_db.h"

#define SQ_MIGRATE_FILES_MAX 512      //  most migration files per track
#define SQ_MIGRATE_FILE_SIZE_MAX (1 << 20) //  largest migration file, bytes

//  The directory holding the schemas/ tree: SHEQU_SCHEMAS_DIR or the source tree's.
const char *sq_migrate_dir (void);

//  Applies the common track and then the service's track into schema. Returns the number
//  of files applied, or -1 with err set (nothing of a failed file is left applied).
int sq_migrate_run (sq_db_t *db, const char *schema, const char *service, sq_error_t *err);

//  Splits SQL text into statements on semicolons outside quotes, comments and dollar
//  quotes. Calls fn for each non-empty statement; stops at the first non-zero return.
int sq_migrate_split (const char *sql, int (*fn) (const char *stmt, void *arg), void *arg);

#endif
