/*  Registry against real PostgreSQL, Redis and bus: divisions import, people and records,
    masking and the audit of unmasked reads, scopes, idempotency, statistics and cache. */
#include "sq_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define COMMUNITY "131002001007"  //  吉祥社区居民委员会, 安次区
#define OTHER "131002001010"      //  same street
#define FAR "510402001002" //  in Panzhihua

static bus_t *s_bus;
static sq_test_registry_t *s_registry;
static sq_mdp_client_t *s_client;
static sq_db_t *s_db;
static sq_sub_t *s_sub; //  tracks the registry stream from seq 0 through the whole run
static char s_csv[1024];

static sq_test_reply_t *
s_call (const char *cmd, const char *args, const char *role, const char *scope)
{
    return sq_test_call (s_client, "registry", cmd, args, role, scope, NULL);
}

//  Calls and asserts ok; returns the reply.
static sq_test_reply_t *
s_ok (const char *cmd, const char *args, const char *role, const char *scope)
{
    sq_test_reply_t *reply = s_call (cmd, args, role, scope);
    if (!reply->ok)
        fail_msg ("%s %s failed: %s %s (%s)", cmd, args, reply->code, reply->message,
                  reply->field);
    return reply;
}

//  Calls and asserts the error code and field.
static void
s_fails (const char *cmd, const char *args, const char *role, const char *scope,
         const char *code, const char *field)
{
    sq_test_reply_t *reply = s_call (cmd, args, role, scope);
    if (reply->ok)
        fail_msg ("%s %s succeeded, expected %s", cmd, args, code);
    if (strcmp (reply->code, code) || (field && strcmp (reply->field, field)))
        fail_msg ("%s %s: got %s/%s (%s), expected %s/%s", cmd, args, reply->code, reply->field,
                  reply->message, code, field ? field : "*");
    sq_test_reply_destroy (&reply);
}

static int
s_setup (void **state)
{
    const char *conninfo = sq_test_db_fresh ("registry");
    s_bus = sq_test_bus_start ();
    s_registry = sq_test_registry_start (s_bus, conninfo);
    s_client = sq_mdp_client_new (bus_endpoint_commands (s_bus));
    s_db = sq_test_db_connect (conninfo);
    s_sub = sq_sub_new (bus_endpoint_events_out (s_bus), bus_endpoint_commands (s_bus));
    sq_sub_track (s_sub, "registry", 0);
    snprintf (s_csv, sizeof s_csv, "%s", sq_test_divisions_path ());
    return 0;
}

static int
s_teardown (void **state)
{
    sq_sub_destroy (&s_sub);
    sq_mdp_client_destroy (&s_client);
    sq_test_registry_stop (&s_registry);
    bus_destroy (&s_bus);
    sq_db_destroy (&s_db);
    return 0;
}

//  Counts the file's rows per level independently of the service's parser.
static void
s_file_counts (int64_t counts[5])
{
    static const char *levels[] = {",province,", ",city,", ",district,", ",street,",
                                   ",community,"};
    FILE *f = fopen (s_csv, "r");
    assert_non_null (f);
    char line[1024];
    memset (counts, 0, 5 * sizeof *counts);
    while (fgets (line, sizeof line, f))
        for (int i = 0; i < 5; i++)
            if (strstr (line, levels[i]))
                counts[i]++;
    fclose (f);
}

static void
test_import_counts_match_file (void **state)
{
    char args[1200];
    snprintf (args, sizeof args, "{\"path\":\"%s\"}", s_csv);
    sq_test_reply_t *reply = s_ok ("division.import", args, "operator", "");
    int64_t counts[5];
    s_file_counts (counts);
    const msgpack_object *levels = sq_obj_get (reply->result, "levels");
    static const char *names[] = {"province", "city", "district", "street", "community"};
    int64_t total = 0;
    for (int i = 0; i < 5; i++) {
        assert_int_equal (sq_test_int (levels, names[i]), counts[i]);
        total += counts[i];
    }
    assert_int_equal (sq_test_int (reply->result, "total"), total);
    assert_int_equal (sq_test_int (reply->result, "inserted"), total);
    char *rows = sq_test_db_value (s_db, "SELECT count(*) FROM registry.division");
    assert_int_equal (strtoll (rows, NULL, 10), total);
    free (rows);
    sq_test_reply_destroy (&reply);

    //  Idempotent: the same file again changes nothing.
    reply = s_ok ("division.import", args, "operator", "");
    assert_int_equal (sq_test_int (reply->result, "inserted"), 0);
    assert_int_equal (sq_test_int (reply->result, "updated"), 0);
    assert_int_equal (sq_test_int (reply->result, "unchanged"), total);
    sq_test_reply_destroy (&reply);
    s_fails ("division.import", args, "community_staff", COMMUNITY, "forbidden", "actor.role");
}

static void
test_import_rejects_malformed_file (void **state)
{
    char path[] = "/tmp/shequ-bad-divisions-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *text = "code,name,level,parent_code\n99,测试省,province,\n9901,测试市,city,99\n"
                       "990101,坏区,district,9901\n99010100,短码,street,990101\n";
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
    char args[200];
    snprintf (args, sizeof args, "{\"path\":\"%s\"}", path);
    sq_test_reply_t *reply = s_call ("division.import", args, "operator", "");
    assert_false (reply->ok);
    assert_string_equal (reply->code, "invalid");
    assert_string_equal (reply->field, "path");
    assert_non_null (strstr (reply->message, "line 5"));
    sq_test_reply_destroy (&reply);
    char *rows = sq_test_db_value (s_db, "SELECT count(*) FROM registry.division"
                                          " WHERE code LIKE '99%'");
    assert_string_equal (rows, "0"); //  nothing of the bad file was kept
    free (rows);
    unlink (path);
    s_fails ("division.import", "{\"path\":\"/nonexistent/divisions.csv\"}", "operator", "",
             "invalid", "path");
}

static void
test_division_lookups (void **state)
{
    sq_test_reply_t *reply = s_ok ("division.get", "{\"code\":\"" COMMUNITY "\"}", "resident", "");
    char text[64];
    assert_string_equal (sq_test_str (reply->result, "level", text, sizeof text), "community");
    assert_string_equal (sq_test_str (reply->result, "kind", text, sizeof text),
                         "urban_community");
    assert_string_equal (sq_test_str (reply->result, "parent", text, sizeof text), "131002001");
    assert_int_equal (sq_test_int (reply->result, "children"), 0);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("division.children", "{\"code\":\"131002001\"}", "resident", "");
    char *expected = sq_test_db_value (s_db, "SELECT count(*) FROM registry.division"
                                              " WHERE parent = '131002001'");
    assert_int_equal (sq_test_int (reply->result, "count"), strtoll (expected, NULL, 10));
    free (expected);
    sq_test_reply_destroy (&reply);
    s_fails ("division.get", "{\"code\":\"131002001099\"}", "resident", "", "not_found", "code");
    s_fails ("division.get", "{\"code\":\"13100\"}", "resident", "", "invalid", "code");
    s_fails ("division.get", "{}", "resident", "", "invalid", "code");
}

#define ZHANG "{\"id_number\":\"11010519491231002x\",\"name\":\"张三\",\"community\":\"" COMMUNITY \
              "\",\"residency\":\"registered\",\"phone\":\"138-1234-5678\",\"party_member\":true," \
              "\"care_groups\":[\"elderly_alone\"]}"

static char s_zhang[64]; //  id of the resident registered first

static void
test_resident_register_masks_and_audits (void **state)
{
    sq_test_reply_t *reply = s_ok ("resident.register", ZHANG, "community_staff", COMMUNITY);
    char text[64];
    sq_test_str (reply->result, "id", s_zhang, sizeof s_zhang);
    assert_string_equal (sq_test_str (reply->result, "id_number", text, sizeof text),
                         "110***********002X");
    assert_string_equal (sq_test_str (reply->result, "phone", text, sizeof text), "138****5678");
    assert_string_equal (sq_test_str (reply->result, "sex", text, sizeof text), "female");
    assert_string_equal (sq_test_str (reply->result, "birth_date", text, sizeof text),
                         "1949-12-31");
    sq_test_reply_destroy (&reply);

    //  Nothing personal is stored in clear.
    char *clear = sq_test_db_value (s_db, "SELECT count(*) FROM registry.resident WHERE"
                                          " position ('11010519491231002X' IN id_sealed::text"
                                          " || id_masked || id_index) > 0");
    assert_string_equal (clear, "0");
    free (clear);

    //  The same person again is a conflict, however the number is typed.
    s_fails ("resident.register", ZHANG, "community_staff", COMMUNITY, "conflict", "id_number");

    //  A street official sees masked values; staff of the community sees them in clear,
    //  and that read is recorded.
    char args[128];
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", s_zhang);
    reply = s_ok ("resident.get", args, "street_official", "131002001");
    assert_string_equal (sq_test_str (reply->result, "id_number", text, sizeof text),
                         "110***********002X");
    assert_null (sq_obj_get (reply->result, "care_groups"));
    sq_test_reply_destroy (&reply);
    char *before = sq_test_db_value (s_db, "SELECT count(*) FROM registry.personal_data_reads");
    reply = s_ok ("resident.get", args, "community_staff", COMMUNITY);
    assert_string_equal (sq_test_str (reply->result, "id_number", text, sizeof text),
                         "11010519491231002X");
    assert_string_equal (sq_test_str (reply->result, "phone", text, sizeof text), "13812345678");
    sq_test_reply_destroy (&reply);
    char *after = sq_test_db_value (s_db, "SELECT count(*) FROM registry.personal_data_reads");
    assert_int_equal (strtoll (after, NULL, 10), strtoll (before, NULL, 10) + 1);
    free (before);
    free (after);

    //  Outside the actor's scope: forbidden, for staff of another community too.
    s_fails ("resident.get", args, "community_staff", OTHER, "forbidden", "id");
    s_fails ("resident.register", ZHANG, "community_staff", OTHER, "forbidden", "community");

    //  Found by identity number without storing it in clear.
    reply = s_ok ("resident.find", "{\"id_number\":\"11010519491231002X\"}", "auditor", "");
    assert_string_equal (sq_test_str (reply->result, "id", text, sizeof text), s_zhang);
    sq_test_reply_destroy (&reply);
}

static void
test_bad_input_names_the_field (void **state)
{
    const char *staff = "community_staff";
    s_fails ("resident.register", "{\"id_number\":\"110105194912310021\",\"name\":\"李四\","
             "\"community\":\"" COMMUNITY "\",\"residency\":\"registered\"}", staff, COMMUNITY,
             "invalid", "id_number");
    s_fails ("resident.register", "{\"id_number\":\"110105194902300011\",\"name\":\"李四\","
             "\"community\":\"" COMMUNITY "\",\"residency\":\"registered\"}", staff, COMMUNITY,
             "invalid", "id_number");
    s_fails ("resident.register", "{\"id_number\":\"110105199001011232\",\"name\":\"李四\","
             "\"community\":\"" COMMUNITY "\",\"residency\":\"tourist\"}", staff, COMMUNITY,
             "invalid", "residency");
    s_fails ("resident.register", "{\"id_number\":\"110105199001011232\",\"name\":\"李四\","
             "\"community\":\"" COMMUNITY "\",\"residency\":\"floating\",\"phone\":\"12345\"}",
             staff, COMMUNITY, "invalid", "phone");
    s_fails ("resident.register", "{\"id_number\":\"110105199001011232\",\"name\":\"李四\","
             "\"community\":\"131002001099\",\"residency\":\"floating\"}", staff, "", "not_found",
             "community");
    s_fails ("resident.register", "{\"id_number\":\"110105199001011232\",\"name\":7,"
             "\"community\":\"" COMMUNITY "\",\"residency\":\"floating\"}", staff, COMMUNITY,
             "invalid", "name");
    s_fails ("resident.fly", "{}", staff, COMMUNITY, "invalid", "cmd");
    s_fails ("resident.register", ZHANG, "resident", COMMUNITY, "forbidden", "actor.role");
    s_fails ("resident.get", "{\"id\":\"no-such-resident\"}", "auditor", "", "not_found", "id");
}

static int64_t s_count (const char *sql);

//  Staff at every level (issue 6): community staff, street and district officials, and
//  staff.list returning the staff of exactly one division.
static void
test_staff_at_every_level (void **state)
{
    (void) state;
    const char *street = "131002001", *district = "131002";
    sq_test_reply_t *reply = s_ok ("staff.add", "{\"community\":\"" COMMUNITY "\",\"name\":"
                                   "\"赵六\",\"role\":\"secretary\"}", "community_staff",
                                   COMMUNITY);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("staff.add", "{\"division\":\"131002001\",\"name\":\"钱七\","
                  "\"role\":\"street_official\"}", "street_official", street);
    char official[64];
    sq_test_str (reply->result, "id", official, sizeof official);
    const msgpack_object *none = sq_obj_get (reply->result, "community");
    assert_true (none && none->type == MSGPACK_OBJECT_NIL);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("staff.add", "{\"division\":\"131002\",\"name\":\"孙八\","
                  "\"role\":\"district_official\"}", "district_official", district);
    sq_test_reply_destroy (&reply);
    //  Each official at the level of the role; community roles at a community only.
    s_fails ("staff.add", "{\"division\":\"131002\",\"name\":\"钱七\","
             "\"role\":\"street_official\"}", "operator", "", "invalid", "division");
    s_fails ("staff.add", "{\"division\":\"131002999\",\"name\":\"钱七\","
             "\"role\":\"street_official\"}", "operator", "", "not_found", "division");
    s_fails ("staff.add", "{\"community\":\"" COMMUNITY "\",\"name\":\"钱七\","
             "\"role\":\"street_official\"}", "operator", "", "invalid", "community");
    s_fails ("staff.add", "{\"division\":\"131002001\",\"name\":\"钱七\","
             "\"role\":\"secretary\"}", "operator", "", "invalid", "community");
    s_fails ("staff.add", "{\"division\":\"131002001\",\"name\":\"钱七\","
             "\"role\":\"street_official\"}", "street_official", "131002002", "forbidden",
             "division");
    //  staff.list: exactly that division, filtered by role when given.
    reply = s_ok ("staff.list", "{\"division\":\"131002001\"}", "operator", "");
    assert_int_equal (sq_test_int (reply->result, "count"), 1);
    const msgpack_object *list = sq_obj_get (reply->result, "staff");
    char id[64];
    assert_non_null (sq_test_str (&list->via.array.ptr[0], "id", id, sizeof id));
    assert_string_equal (id, official);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("staff.list", "{\"division\":\"" COMMUNITY "\",\"role\":\"secretary\"}",
                  "community_staff", COMMUNITY);
    assert_int_equal (sq_test_int (reply->result, "count"), 1);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("staff.list", "{\"division\":\"" COMMUNITY "\"}", "community_staff",
                  COMMUNITY);
    assert_true (sq_test_int (reply->result, "count") >= 1);
    sq_test_reply_destroy (&reply);
    s_fails ("staff.list", "{\"division\":\"1310\"}", "operator", "", "invalid", "division");
    s_fails ("staff.list", "{}", "operator", "", "invalid", "division");
    s_fails ("staff.list", "{\"division\":\"131002\",\"role\":\"boss\"}", "operator", "",
             "invalid", "role");
    s_fails ("staff.list", "{\"division\":\"131002\"}", "community_staff", COMMUNITY,
             "forbidden", "division");
    s_fails ("staff.list", "{\"division\":\"131002\"}", "resident", "", "forbidden",
             "actor.role");
    assert_int_equal (s_count ("SELECT count(*) FROM registry.staff WHERE community IS NULL"), 2);
}

static void
test_records_and_volunteer_stars (void **state)
{
    const char *staff = "community_staff";
    sq_test_reply_t *reply = s_ok ("grid.create", "{\"community\":\"" COMMUNITY
                                   "\",\"name\":\"第一网格\"}", staff, COMMUNITY);
    char grid[32], text[64];
    assert_string_equal (sq_test_str (reply->result, "code", grid, sizeof grid),
                         COMMUNITY "-001");
    sq_test_reply_destroy (&reply);
    reply = s_ok ("grid.create", "{\"community\":\"" COMMUNITY "\",\"name\":\"第二网格\"}", staff,
                  COMMUNITY);
    assert_string_equal (sq_test_str (reply->result, "code", text, sizeof text), COMMUNITY "-002");
    sq_test_reply_destroy (&reply);
    s_fails ("grid.create", "{\"community\":\"" COMMUNITY "\",\"name\":\"第一网格\"}", staff,
             COMMUNITY, "conflict", "name");

    char args[512];
    snprintf (args, sizeof args, "{\"community\":\"%s\",\"address\":\"银河南路1号2单元301\","
              "\"grid\":\"%s\"}", COMMUNITY, grid);
    reply = s_ok ("household.create", args, staff, COMMUNITY);
    sq_test_reply_destroy (&reply);
    snprintf (args, sizeof args, "{\"community\":\"%s\",\"address\":\"x\",\"grid\":\"%s-001\"}",
              COMMUNITY, OTHER);
    s_fails ("household.create", args, staff, "", "not_found", "grid");

    reply = s_ok ("org.register", "{\"community\":\"" COMMUNITY "\",\"kind\":\"owners_committee\","
                  "\"name\":\"吉祥小区业主委员会\"}", staff, COMMUNITY);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("staff.add", "{\"community\":\"" COMMUNITY "\",\"name\":\"王五\","
                  "\"role\":\"full_time\"}", staff, COMMUNITY);
    sq_test_reply_destroy (&reply);
    s_fails ("staff.add", "{\"community\":\"" COMMUNITY "\",\"name\":\"王五\",\"role\":\"boss\"}",
             staff, COMMUNITY, "invalid", "role");

    snprintf (args, sizeof args, "{\"resident\":\"%s\"}", s_zhang);
    reply = s_ok ("volunteer.register", args, staff, COMMUNITY);
    char volunteer[64];
    sq_test_str (reply->result, "id", volunteer, sizeof volunteer);
    sq_test_reply_destroy (&reply);
    s_fails ("volunteer.register", args, staff, COMMUNITY, "conflict", "resident");
    //  99.5 hours: no star yet; 100: one star.
    const char *last_hours = "3.5";
    for (int i = 0; i < 5; i++) {
        snprintf (args, sizeof args, "{\"volunteer\":\"%s\",\"hours\":%s,\"activity\":\"巡逻\","
                  "\"date\":\"2026-11-01\"}", volunteer, i == 4 ? last_hours : "24");
        reply = s_ok ("volunteer.log_hours", args, staff, COMMUNITY);
        assert_int_equal (sq_test_int (reply->result, "stars"), 0);
        sq_test_reply_destroy (&reply);
    }
    snprintf (args, sizeof args, "{\"volunteer\":\"%s\",\"hours\":0.5,\"activity\":\"巡逻\","
              "\"date\":\"2026-11-02\"}", volunteer);
    reply = s_ok ("volunteer.log_hours", args, staff, COMMUNITY);
    assert_int_equal (sq_test_int (reply->result, "stars"), 1);
    sq_test_reply_destroy (&reply);
    snprintf (args, sizeof args, "{\"volunteer\":\"%s\",\"hours\":25,\"activity\":\"x\","
              "\"date\":\"2026-11-02\"}", volunteer);
    s_fails ("volunteer.log_hours", args, staff, COMMUNITY, "invalid", "hours");
    snprintf (args, sizeof args, "{\"volunteer\":\"%s\",\"hours\":1,\"activity\":\"x\","
              "\"date\":\"2099-01-01\"}", volunteer);
    s_fails ("volunteer.log_hours", args, staff, COMMUNITY, "invalid", "date");
}

//  The figures straight from the tables, to compare with stats.get.
static int64_t
s_count (const char *sql)
{
    return sq_test_db_int (s_db, sql);
}

static void
s_check_stats (const char *division)
{
    char args[64], sql[512];
    snprintf (args, sizeof args, "{\"division\":\"%s\"}", division);
    sq_test_reply_t *reply = s_ok ("stats.get", args, "city_official", "");
    const msgpack_object *residents = sq_obj_get (reply->result, "residents");
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.resident WHERE status = 'active'"
              " AND community LIKE '%s%%'", division);
    assert_int_equal (sq_test_int (residents, "total"), s_count (sql));
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.resident WHERE status = 'active'"
              " AND party_member AND community LIKE '%s%%'", division);
    assert_int_equal (sq_test_int (reply->result, "party_members"), s_count (sql));
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.grid WHERE community LIKE '%s%%'",
              division);
    assert_int_equal (sq_test_int (reply->result, "grids"), s_count (sql));
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.division WHERE level = 'community'"
              " AND code LIKE '%s%%'", division);
    assert_int_equal (sq_test_int (sq_obj_get (reply->result, "communities"), "total"),
                      s_count (sql));
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.volunteer v JOIN registry.resident"
              " r ON r.id = v.resident WHERE r.status = 'active' AND r.community LIKE '%s%%'",
              division);
    assert_int_equal (sq_test_int (reply->result, "volunteers"), s_count (sql));
    sq_test_reply_destroy (&reply);
}

static void
test_stats_equal_database_through_cache (void **state)
{
    s_check_stats ("1310");
    s_check_stats ("131002");
    s_check_stats (COMMUNITY);
    //  Warm: the value is in Redis now, and still equal after a change.
    sq_cache_t *cache = sq_cache_new (NULL);
    size_t size = 0;
    char *cached = sq_cache_get (cache, "shequ:registry:stats:131002", &size);
    assert_non_null (cached);
    //  A value cached by another database that shares this Redis (another tier's
    //  platform), with the same xmin and count in its stamp, must not pass for ours: the
    //  stamp names its database. Forged here with a figure no database holds.
    char *bar = memchr (cached, '|', size);
    char *nl = memchr (cached, '\n', size);
    assert_true (bar && nl && bar < nl);
    char forged[512];
    int head = snprintf (forged, sizeof forged, "otherdb@1%.*s\n", (int) (nl - bar), bar);
    msgpack_sbuffer fake;
    msgpack_sbuffer_init (&fake);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &fake, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sq_pack_kv_int (&pk, "party_members", 999999);
    memcpy (forged + head, fake.data, fake.size);
    sq_cache_set (cache, "shequ:registry:stats:131002", forged, (size_t) head + fake.size, 60);
    msgpack_sbuffer_destroy (&fake);
    free (cached);
    sq_cache_destroy (&cache);
    s_check_stats ("131002");
    sq_test_reply_t *reply = s_ok ("resident.register", "{\"id_number\":\"110105199001011232\","
                                   "\"name\":\"李四\",\"community\":\"" OTHER "\","
                                   "\"residency\":\"floating\",\"party_member\":true}",
                                   "community_staff", OTHER);
    sq_test_reply_destroy (&reply);
    s_check_stats ("131002");
    s_check_stats ("1310");
    s_fails ("stats.get", "{\"division\":\"1310\"}", "district_official", "131002", "forbidden",
             "division");
}

static void
test_resident_list_pages_masked (void **state)
{
    sq_test_reply_t *reply = s_ok ("resident.list", "{\"division\":\"131002\"}",
                                   "street_official", "131002");
    int64_t expected = s_count ("SELECT count(*) FROM registry.resident WHERE status = 'active'"
                                " AND community LIKE '131002%'");
    assert_true (expected > 0);
    assert_int_equal (sq_test_int (reply->result, "total"), expected);
    const msgpack_object *rows = sq_obj_get (reply->result, "residents");
    assert_int_equal ((int64_t) rows->via.array.size, expected < 100 ? expected : 100);
    char text[64];
    for (uint32_t i = 0; i < rows->via.array.size; i++) {
        sq_test_str (&rows->via.array.ptr[i], "id_number", text, sizeof text);
        assert_non_null (strstr (text, "***********")); //  never in clear in a list
    }
    sq_test_reply_destroy (&reply);
    s_fails ("resident.list", "{\"division\":\"1310\"}", "street_official", "131002",
             "forbidden", "division");
    s_fails ("resident.list", "{\"division\":\"131002\",\"page\":0}", "operator", "",
             "invalid", "page");
}

static void
test_move_and_leave (void **state)
{
    char args[256], text[64];
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"community\":\"%s\"}", s_zhang, OTHER);
    sq_test_reply_t *reply = s_ok ("resident.move", args, "street_official", "131002001");
    assert_string_equal (sq_test_str (reply->result, "from", text, sizeof text), COMMUNITY);
    sq_test_reply_destroy (&reply);
    s_check_stats (COMMUNITY);
    s_check_stats (OTHER);
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"reason\":\"迁出本市\"}", s_zhang);
    reply = s_ok ("resident.leave", args, "community_staff", OTHER);
    sq_test_reply_destroy (&reply);
    s_fails ("resident.leave", args, "community_staff", OTHER, "conflict", "id");
    s_check_stats ("131002001");
}

static void
test_idem_returns_first_reply (void **state)
{
    const char *args = "{\"community\":\"" COMMUNITY "\",\"address\":\"幸福路8号\"}";
    sq_test_reply_t *first = sq_test_call (s_client, "registry", "household.create", args,
                                           "community_staff", COMMUNITY, "idem-household-1");
    sq_test_reply_t *again = sq_test_call (s_client, "registry", "household.create", args,
                                           "community_staff", COMMUNITY, "idem-household-1");
    assert_true (first->ok && again->ok);
    assert_int_equal (first->size, again->size);
    assert_memory_equal (first->raw, again->raw, first->size);
    assert_int_equal (s_count ("SELECT count(*) FROM registry.household WHERE address = '幸福路8号'"),
                      1);
    sq_test_reply_destroy (&first);
    sq_test_reply_destroy (&again);
    sq_test_reply_t *other = sq_test_call (s_client, "registry", "household.create",
                                           "{\"community\":\"" COMMUNITY "\",\"address\":\"别处\"}",
                                           "community_staff", COMMUNITY, "idem-household-1");
    assert_false (other->ok);
    assert_string_equal (other->code, "conflict");
    assert_string_equal (other->field, "idem");
    sq_test_reply_destroy (&other);
}

//  Every event the run emitted keeps its contract, seq runs 1..N without a gap, and every
//  event type of the registry was seen.
#define RACE_COMMUNITY "131002001014" //  永祥街社区, used by no other test here
#define RACE_THREADS 8
#define RACE_PEOPLE 24                //  each thread registers all of them
#define RACE_FIRST 7000               //  sq_test_id_number of the first, unused elsewhere

typedef struct {
    sq_mdp_client_t *client;
    int thread;
    int ok, conflict, refused, failed; //  registered, already registered, bad input
} s_registrar_t;

//  Registers the same RACE_PEOPLE as every other thread, each in its own order, and one
//  registration into a community that does not exist and one with a bad phone.
static void *
s_registrar (void *arg)
{
    s_registrar_t *r = arg;
    for (int k = 0; k < RACE_PEOPLE + 2; k++) {
        int person = RACE_FIRST + (k + r->thread * 5) % RACE_PEOPLE;
        char id_number[19], args[512];
        sq_test_id_number (person, id_number);
        const char *community = k == RACE_PEOPLE ? "131002001099" : RACE_COMMUNITY;
        const char *phone = k == RACE_PEOPLE + 1 ? "1390000" : "13900002222";
        snprintf (args, sizeof args, "{\"id_number\":\"%s\",\"name\":\"居民%d\","
                  "\"community\":\"%s\",\"residency\":\"floating\",\"phone\":\"%s\"}",
                  id_number, person, community, phone);
        sq_test_reply_t *reply = sq_test_call (r->client, "registry", "resident.register", args,
                                               "operator", "", NULL);
        if (reply->ok)
            r->ok++;
        else if (!strcmp (reply->code, "conflict") && !strcmp (reply->field, "id_number"))
            r->conflict++;
        else if (!strcmp (reply->code, k == RACE_PEOPLE ? "not_found" : "invalid")
                 && !strcmp (reply->field, k == RACE_PEOPLE ? "community" : "phone"))
            r->refused++;
        else
            r->failed++;
        sq_test_reply_destroy (&reply);
    }
    return NULL;
}

//  Concurrent registrations share one INSERT per group commit (resident.register's group
//  handler): each person is registered once whoever asks first, the others get conflict,
//  refusals name their field, and every registration has its one event.
static void
test_concurrent_registrations_once_each (void **state)
{
    int64_t events_before = sq_test_db_int (s_db, "SELECT count(*) FROM registry.outbox"
                                                  " WHERE type = 'registry.resident_registered'");
    pthread_t threads[RACE_THREADS];
    s_registrar_t registrars[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++) {
        registrars[t] = (s_registrar_t) {.thread = t};
        registrars[t].client = sq_mdp_client_new (bus_endpoint_commands (s_bus));
        assert_non_null (registrars[t].client);
    }
    for (int t = 0; t < RACE_THREADS; t++)
        assert_int_equal (pthread_create (&threads[t], NULL, s_registrar, &registrars[t]), 0);
    int ok = 0, conflict = 0, refused = 0, failed = 0;
    for (int t = 0; t < RACE_THREADS; t++) {
        pthread_join (threads[t], NULL);
        sq_mdp_client_destroy (&registrars[t].client);
        ok += registrars[t].ok;
        conflict += registrars[t].conflict;
        refused += registrars[t].refused;
        failed += registrars[t].failed;
    }
    assert_int_equal (failed, 0);
    assert_int_equal (ok, RACE_PEOPLE);
    assert_int_equal (conflict, (RACE_THREADS - 1) * RACE_PEOPLE);
    assert_int_equal (refused, 2 * RACE_THREADS);
    assert_int_equal (sq_test_db_int (s_db, "SELECT count(*) FROM registry.resident WHERE"
                                            " community = '" RACE_COMMUNITY "'"), RACE_PEOPLE);
    assert_int_equal (sq_test_db_int (s_db, "SELECT count(DISTINCT id_index) FROM"
                                            " registry.resident WHERE community = '"
                                            RACE_COMMUNITY "'"), RACE_PEOPLE);
    assert_int_equal (sq_test_db_int (s_db, "SELECT count(*) FROM registry.outbox WHERE type ="
                                            " 'registry.resident_registered'"),
                      events_before + RACE_PEOPLE);
    //  Each event names a resident that exists, once.
    assert_int_equal (sq_test_db_int (s_db, "SELECT count(DISTINCT r.id) FROM registry.resident r"
                                            " WHERE r.community = '" RACE_COMMUNITY "' AND"
                                            " EXISTS (SELECT 1 FROM registry.outbox o WHERE"
                                            " o.type = 'registry.resident_registered' AND"
                                            " o.div = r.community)"), RACE_PEOPLE);
}

static void
test_every_event_keeps_its_contract (void **state)
{
    static const char *types[] = {
        "divisions_imported", "grid_created", "household_created", "resident_registered",
        "resident_moved", "resident_left", "volunteer_registered", "volunteer_hours_logged",
        "org_registered", "staff_added", "official_added"};
    int seen[11] = {0};
    sq_error_t err;
    int64_t last = sq_outbox_last_seq (s_db, "registry", "registry", &err);
    assert_true (last > 10);
    uint64_t expected = 1;
    int64_t deadline = sq_clock_ms () + 20000;
    while ((int64_t) expected <= last && sq_clock_ms () < deadline) {
        sq_event_t *event = sq_sub_next (s_sub, 200);
        if (!event)
            continue;
        assert_int_equal (event->env.seq, expected++);
        char why[256];
        if (sq_test_contract_check (event, why, sizeof why))
            fail_msg ("%s seq %" PRIu64 ": %s", event->env.type, event->env.seq, why);
        for (int t = 0; t < 11; t++)
            seen[t] += strcmp (event->env.type + strlen ("registry."), types[t]) == 0;
        sq_event_destroy (&event);
    }
    assert_int_equal ((int64_t) expected, last + 1);
    for (int t = 0; t < 11; t++)
        if (!seen[t])
            fail_msg ("no registry.%s event was seen", types[t]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_import_counts_match_file),
        cmocka_unit_test (test_import_rejects_malformed_file),
        cmocka_unit_test (test_division_lookups),
        cmocka_unit_test (test_resident_register_masks_and_audits),
        cmocka_unit_test (test_bad_input_names_the_field),
        cmocka_unit_test (test_staff_at_every_level),
        cmocka_unit_test (test_records_and_volunteer_stars),
        cmocka_unit_test (test_stats_equal_database_through_cache),
        cmocka_unit_test (test_resident_list_pages_masked),
        cmocka_unit_test (test_move_and_leave),
        cmocka_unit_test (test_idem_returns_first_reply),
        cmocka_unit_test (test_concurrent_registrations_once_each),
        cmocka_unit_test (test_every_event_keeps_its_contract),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
