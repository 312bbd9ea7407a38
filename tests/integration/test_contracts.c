/*  test_contracts: the event contracts under schemas/events and their checker,
    sq_test_contract_check. Every contract parses and is well formed; a hand-built valid
    event of every type passes; each way an event can break its contract is refused with a
    reason that names the field. Needs no database: events are built here, not emitted. */
#include "sq_json.h"
#include "sq_test.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define WHY_SIZE 512           //  room for a checker's reason
#define CONTRACTS_MAX 64       //  contract files this test expects at most
#define CONTRACT_TEXT_MAX 65536 //  largest contract file read here
#define DEPTH_MAX 8            //  deepest nesting walked here
#define PATH_SIZE 1024         //  longest file path built here

#define COMMUNITY "131002001007" //  吉祥社区居民委员会, 安次区
#define OTHER "131002001010"     //  兴安街社区, same street
#define RESIDENT "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
#define VOLUNTEER "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a60"
#define HOUSEHOLD "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a61"

//  One valid event of each registry type, as the service emits it.
typedef struct {
    const char *type; //  event type
    const char *div;  //  the envelope's div
    const char *data; //  the data map, JSON
} sample_t;

#define CASE_ID "01a207f3-52c1-7d0e-9a4b-3f2e1d0c9b8b"
//  The fields every disputes.case_* event starts with.
#define CASE_HEAD "\"case\":\"" CASE_ID "\",\"community\":\"" COMMUNITY "\","                   \
                  "\"category\":\"neighbour\",\"risk\":\"normal\","
#define APPLICATION "01a207f3-52c1-7d0e-9a4b-3f2e1d0c9b8a"
#define AGREEMENT "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define REASONS "[{\"rule\":\"negative_list\",\"seed\":\"LF 4.4\",\"field\":\"subject\"," \
                "\"message\":\"a community is never a responsible party for demolition\"}]"

//  The fields every ledger.transfer_* event starts with.
#define LEDGER_HEAD "\"transfer\":\"exp-2024-0001\",\"chain_seq\":42,"                   \
                    "\"debit\":\"community:" COMMUNITY ":public_service\","               \
                    "\"credit\":\"expense:" COMMUNITY ":volunteer_service\","             \
                    "\"amount\":120000,\"code\":\"expense\",\"hash\":"                \
                    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\""

static const sample_t s_samples[] = {
    {"disputes.case_filed", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"filed\",\"previous_status\":null,"
     "\"step\":1,\"deadline\":\"accept\",\"due\":1795000000000000,"
     "\"source\":\"visit\",\"people_involved\":2,\"parties\":2,\"grid\":\"" COMMUNITY "-001\"}"},
    {"disputes.case_accepted", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"accepted\",\"previous_status\":\"filed\","
     "\"step\":2,\"deadline\":\"resolve\",\"due\":1795000000000000}"},
    {"disputes.case_assigned", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"mediating\",\"previous_status\":\"accepted\","
     "\"step\":3,\"deadline\":\"resolve\",\"due\":1795000000000000,"
     "\"mediator\":\"mediator-17\"}"},
    {"disputes.case_recorded", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"mediating\",\"previous_status\":\"mediating\","
     "\"step\":4,\"deadline\":\"resolve\",\"due\":1795000000000000}"},
    {"disputes.case_paused", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"mediating\",\"previous_status\":\"mediating\","
     "\"step\":5,\"deadline\":null,\"due\":null}"},
    {"disputes.case_resumed", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"mediating\",\"previous_status\":\"mediating\","
     "\"step\":6,\"deadline\":\"resolve\",\"due\":1795000000000000}"},
    {"disputes.case_resolved", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"resolved\",\"previous_status\":\"mediating\","
     "\"step\":7,\"deadline\":\"followup\",\"due\":1795000000000000}"},
    {"disputes.case_failed", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"failed\",\"previous_status\":\"mediating\","
     "\"step\":7,\"deadline\":null,\"due\":null}"},
    {"disputes.case_escalated", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"street\",\"status\":\"escalated\",\"previous_status\":\"failed\","
     "\"step\":8,\"deadline\":\"accept\",\"due\":1795000000000000}"},
    {"disputes.case_overdue", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"mediating\",\"previous_status\":\"mediating\","
     "\"step\":4,\"deadline\":\"resolve\",\"due\":1795000000000000,"
     "\"missed\":\"resolve\",\"missed_due\":1795000000000000,\"auto_escalate\":true}"},
    {"disputes.case_closed", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"closed\",\"previous_status\":\"resolved\","
     "\"step\":8,\"deadline\":null,\"due\":null,"
     "\"performed\":true}"},
    {"disputes.case_withdrawn", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"withdrawn\",\"previous_status\":\"filed\","
     "\"step\":2,\"deadline\":null,\"due\":null}"},
    {"disputes.case_referred", COMMUNITY,
     "{" CASE_HEAD
     "\"level\":\"community\",\"status\":\"referred\",\"previous_status\":\"mediating\","
     "\"step\":5,\"deadline\":null,\"due\":null,"
     "\"to\":\"litigation\"}"},
    {"disputes.major_case_filed", "131002",
     "{\"case\":\"" CASE_ID "\",\"community\":\"" COMMUNITY "\",\"district\":\"131002\","
     "\"category\":\"land_requisition\",\"risk\":\"major\",\"people_involved\":12,"
     "\"level\":\"street\",\"source\":\"grid_patrol\"}"},
    {"admission.catalog_changed", "131002",
     "{\"county\":\"131002\",\"version\":3,\"change\":\"put\",\"list\":\"assist_government\","
     "\"code\":\"A-01\"}"},
    {"admission.submitted", "131002",
     "{\"application\":\"" APPLICATION "\",\"county\":\"131002\",\"department\":\"城管局\","
     "\"kind\":\"task\",\"status\":\"rejected\",\"track\":\"none\",\"catalog_version\":3,"
     "\"targets\":12,\"funds_per_community\":0,\"reasons\":" REASONS "}"},
    {"admission.rejected", "131002",
     "{\"application\":\"" APPLICATION "\",\"county\":\"131002\",\"department\":\"城管局\","
     "\"kind\":\"task\",\"by\":\"screening\",\"reasons\":" REASONS ",\"note\":null}"},
    {"admission.approved", "131002",
     "{\"application\":\"" APPLICATION "\",\"county\":\"131002\",\"department\":\"统计局\","
     "\"kind\":\"task\",\"track\":\"purchased_service\",\"catalog_version\":3,"
     "\"start\":\"2026-12-01\",\"end\":\"2026-12-31\",\"agreements\":true,"
     "\"targets\":[{\"community\":\"" COMMUNITY "\",\"funds\":500000}]}"},
    {"admission.withdrawn", "131002",
     "{\"application\":\"" APPLICATION "\",\"county\":\"131002\",\"department\":\"统计局\","
     "\"previous_status\":\"approved\"}"},
    {"admission.expired", "131002",
     "{\"application\":\"" APPLICATION "\",\"county\":\"131002\",\"department\":\"统计局\","
     "\"end\":\"2026-12-31\"}"},
    {"admission.agreement_signed", COMMUNITY,
     "{\"agreement\":\"" AGREEMENT "\",\"application\":\"" APPLICATION "\",\"community\":\""
     COMMUNITY "\",\"funds\":500000}"},
    {"ledger.transfer_posted", COMMUNITY,
     "{" LEDGER_HEAD ",\"pending\":false,\"reverses\":null}"},
    {"ledger.transfer_pending", COMMUNITY,
     "{" LEDGER_HEAD ",\"memo\":\"办公用品\",\"expires_at\":1795000000000000}"},
    {"ledger.transfer_voided", COMMUNITY,
     "{" LEDGER_HEAD ",\"reason\":\"expired\",\"memo\":null}"},
    {"ledger.appropriated", "131002",
     "{\"division\":\"131002\",\"year\":2026,\"profile\":\"langfang-2017\","
     "\"payer\":null,\"communities\":341,\"transfers\":684,\"amount\":{\"city\":511500000,"
     "\"district\":1193500000,\"total\":1705000000}}"},
    {"registry.resident_registered", COMMUNITY,
     "{\"resident\":\"" RESIDENT "\",\"community\":\"" COMMUNITY "\",\"grid\":\"" COMMUNITY
     "-001\",\"household\":\"" HOUSEHOLD "\",\"residency\":\"registered\",\"party_member\":true,"
     "\"sex\":\"female\",\"birth_year\":1949,\"id_number\":\"110***********002X\","
     "\"phone\":\"138****5678\"}"},
    {"registry.resident_moved", OTHER,
     "{\"resident\":\"" RESIDENT "\",\"from\":\"" COMMUNITY "\",\"community\":\"" OTHER "\","
     "\"grid\":null,\"residency\":\"floating\",\"party_member\":false}"},
    {"registry.resident_left", COMMUNITY,
     "{\"resident\":\"" RESIDENT "\",\"community\":\"" COMMUNITY "\",\"reason\":\"迁往外地\","
     "\"residency\":\"permanent\",\"party_member\":false}"},
    {"registry.volunteer_registered", COMMUNITY,
     "{\"volunteer\":\"" VOLUNTEER "\",\"resident\":\"" RESIDENT "\",\"community\":\"" COMMUNITY
     "\"}"},
    {"registry.volunteer_hours_logged", COMMUNITY,
     "{\"volunteer\":\"" VOLUNTEER "\",\"community\":\"" COMMUNITY "\",\"hours\":2.5,"
     "\"total_hours\":102.5,\"stars\":1,\"date\":\"2024-02-29\"}"},
    {"registry.grid_created", COMMUNITY,
     "{\"grid\":\"" COMMUNITY "-001\",\"community\":\"" COMMUNITY "\",\"name\":\"第一网格\"}"},
    {"registry.household_created", COMMUNITY,
     "{\"household\":\"" HOUSEHOLD "\",\"community\":\"" COMMUNITY "\",\"grid\":null}"},
    {"registry.org_registered", COMMUNITY,
     "{\"org\":\"" HOUSEHOLD "\",\"community\":\"" COMMUNITY "\",\"kind\":\"owners_committee\","
     "\"name\":\"幸福小区业主委员会\"}"},
    {"registry.staff_added", COMMUNITY,
     "{\"staff\":\"" HOUSEHOLD "\",\"community\":\"" COMMUNITY "\",\"role\":\"grid_worker\"}"},
    {"notify.delivered", COMMUNITY,
     "{\"delivery\":\"" HOUSEHOLD "\",\"event\":\"" HOUSEHOLD "\",\"event_type\":"
     "\"disputes.case_filed\",\"recipient\":\"" HOUSEHOLD "\",\"channel\":\"inbox\","
     "\"attempts\":1}"},
    {"notify.dead_lettered", "",
     "{\"delivery\":\"" HOUSEHOLD "\",\"event\":\"" HOUSEHOLD "\",\"event_type\":"
     "\"registry.divisions_imported\",\"recipient\":\"dept-water\",\"channel\":\"webhook\","
     "\"attempts\":12,\"error\":\"receiver answered HTTP 500\"}"},
    {"registry.official_added", "131002001",
     "{\"staff\":\"" HOUSEHOLD "\",\"division\":\"131002001\",\"role\":\"street_official\"}"},
    {"registry.divisions_imported", "",
     "{\"total\":10,\"inserted\":10,\"updated\":0,\"levels\":{\"province\":1,\"city\":1,"
     "\"district\":2,\"street\":2,\"community\":4},\"kinds\":{\"urban_community\":2,"
     "\"rural_community\":1,\"village\":1},\"file\":\"divisions.csv\"}"},
};
#define SAMPLE_COUNT (sizeof s_samples / sizeof s_samples[0])

// ---- helpers ----------------------------------------------------------------------------

static const char *
s_source_dir (void)
{
    const char *dir = getenv ("SHEQU_SOURCE_DIR");
    return dir && *dir ? dir : SQ_SOURCE_DIR;
}

//  Packs JSON text into buf (initialised here); fails the test on a parse error.
static void
s_json_pack (const char *json, msgpack_sbuffer *buf)
{
    msgpack_sbuffer_init (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    char why[WHY_SIZE] = "";
    if (sq_json_to_msgpack (json, strlen (json), &pk, why, sizeof why))
        fail_msg ("%s: %s", json, why);
}

//  An event decoded from envelope bytes, the way sq_sub builds one (bytes copied).
static sq_event_t *
s_event_from_bytes (const void *bytes, size_t size)
{
    sq_event_t *event = calloc (1, sizeof *event);
    assert_non_null (event);
    event->raw = malloc (size);
    assert_non_null (event->raw);
    memcpy (event->raw, bytes, size);
    event->raw_size = size;
    char why[WHY_SIZE];
    event->doc = sq_doc_new (event->raw, size, why, sizeof why);
    if (!event->doc)
        fail_msg ("sq_doc_new: %s", why);
    sq_error_t err;
    if (sq_envelope_decode (sq_doc_root (event->doc), &event->env, &err))
        fail_msg ("sq_envelope_decode: %s", err.message);
    assert_int_equal (sq_envelope_topic (&event->env, event->topic, sizeof event->topic), 0);
    return event;
}

//  A fresh envelope of type in div around data (raw msgpack of the data map).
static sq_event_t *
s_event_data (const char *type, const char *div, const void *data, size_t size)
{
    sq_envelope_t env = {0};
    sq_id_new (env.id);
    const char *dot = strchr (type, '.');
    if (dot && dot > type)
        snprintf (env.src, sizeof env.src, "%.*s", (int) (dot - type), type);
    else
        snprintf (env.src, sizeof env.src, "registry");
    env.seq = 1;
    snprintf (env.type, sizeof env.type, "%s", type);
    snprintf (env.div, sizeof env.div, "%s", div);
    env.at = sq_now_us ();
    snprintf (env.actor, sizeof env.actor, "test-actor");
    snprintf (env.cause, sizeof env.cause, "request-1");
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    sq_envelope_pack (&pk, &env, data, size);
    sq_event_t *event = s_event_from_bytes (buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    return event;
}

//  A fresh envelope of type in div around the JSON data map.
static sq_event_t *
s_event (const char *type, const char *div, const char *json)
{
    msgpack_sbuffer buf;
    s_json_pack (json, &buf);
    sq_event_t *event = s_event_data (type, div, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    return event;
}

//  Checks the event (then destroys it): accepted.
static void
s_accepts (sq_event_t *event)
{
    char why[WHY_SIZE] = "";
    if (sq_test_contract_check (event, why, sizeof why))
        fail_msg ("%s refused: %s", event->env.type, why);
    sq_event_destroy (&event);
}

//  Checks the event (then destroys it): refused with a reason containing fragment.
static void
s_refuses (sq_event_t *event, const char *fragment)
{
    char why[WHY_SIZE] = "";
    if (sq_test_contract_check (event, why, sizeof why) == 0)
        fail_msg ("%s accepted, expected a refusal for '%s'", event->env.type, fragment);
    if (!strstr (why, fragment))
        fail_msg ("%s refused with '%s', expected '%s'", event->env.type, why, fragment);
    sq_event_destroy (&event);
}

//  The sample of type, or NULL.
static const sample_t *
s_sample (const char *type)
{
    for (size_t i = 0; i < SAMPLE_COUNT; i++)
        if (strcmp (s_samples[i].type, type) == 0)
            return &s_samples[i];
    return NULL;
}

static sq_event_t *
s_sample_event (const char *type)
{
    const sample_t *sample = s_sample (type);
    assert_non_null (sample);
    return s_event (sample->type, sample->div, sample->data);
}

//  Reads a file into a malloc'd NUL-terminated string; NULL when it cannot.
static char *
s_file_text (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *text = calloc (1, CONTRACT_TEXT_MAX + 1);
    assert_non_null (text);
    size_t size = fread (text, 1, CONTRACT_TEXT_MAX + 1, file);
    fclose (file);
    assert_true (size <= CONTRACT_TEXT_MAX);
    return text;
}

static int
s_compare_text (const void *a, const void *b)
{
    return strcmp (a, b);
}

//  The types of the contract files under schemas/events, sorted. Returns their number.
static int
s_contract_types (char types[CONTRACTS_MAX][SQ_TYPE_MAX])
{
    char dir_path[PATH_SIZE];
    snprintf (dir_path, sizeof dir_path, "%s/schemas/events", s_source_dir ());
    DIR *dir = opendir (dir_path);
    assert_non_null (dir);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        size_t n = strlen (entry->d_name);
        if (n <= 5 || strcmp (entry->d_name + n - 5, ".json") != 0)
            continue;
        assert_true (count < CONTRACTS_MAX && n - 5 < SQ_TYPE_MAX);
        snprintf (types[count++], SQ_TYPE_MAX, "%.*s", (int) (n - 5), entry->d_name);
    }
    closedir (dir);
    qsort (types, (size_t) count, SQ_TYPE_MAX, s_compare_text);
    return count;
}

// ---- well-formedness, checked here independently of the checker ------------------------

static const char *const s_known_types[] = {"string", "integer", "number", "boolean", "map",
                                            "list", NULL};
static const char *const s_known_formats[] = {"masked_id_number", "masked_phone",
                                              "division_code", "community_code", "grid_code",
                                              "uuid", "date", NULL};

static bool
s_one_of (const msgpack_object *o, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (sq_obj_str_eq (o, list[i]))
            return true;
    return false;
}

static void s_fields_well_formed (const char *type, const msgpack_object *fields, int depth);

//  A field spec: a known type, a known format if any, a description, what maps and lists need.
static void
s_spec_well_formed (const char *type, const msgpack_object *key, const msgpack_object *spec,
                    int depth)
{
    assert_true (depth <= DEPTH_MAX);
    const msgpack_object *kind = sq_obj_get (spec, "type");
    const msgpack_object *format = sq_obj_get (spec, "format");
    const msgpack_object *description = sq_obj_get (spec, "description");
    int name_len = key ? (int) key->via.str.size : 2;
    const char *name = key ? key->via.str.ptr : "[]";
    if (!s_one_of (kind, s_known_types))
        fail_msg ("%s: field %.*s has no known type", type, name_len, name);
    if (format && !s_one_of (format, s_known_formats))
        fail_msg ("%s: field %.*s has an unknown format", type, name_len, name);
    if (!description || description->type != MSGPACK_OBJECT_STR || !description->via.str.size)
        fail_msg ("%s: field %.*s has no description", type, name_len, name);
    if (sq_obj_str_eq (kind, "map"))
        s_fields_well_formed (type, sq_obj_get (spec, "fields"), depth + 1);
    if (sq_obj_str_eq (kind, "list")) {
        assert_non_null (sq_obj_get (spec, "items"));
        s_spec_well_formed (type, NULL, sq_obj_get (spec, "items"), depth + 1);
    }
}

static void
s_fields_well_formed (const char *type, const msgpack_object *fields, int depth)
{
    assert_non_null (fields);
    assert_int_equal (fields->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < fields->via.map.size; i++)
        s_spec_well_formed (type, &fields->via.map.ptr[i].key, &fields->via.map.ptr[i].val,
                            depth);
    assert_false (sq_obj_get (fields, "name") && sq_obj_get (fields, "id_number"));
}

//  Parses the contract file of type the way the checker does and walks it.
static void
s_contract_well_formed (const char *type)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/schemas/events/%.*s.json", s_source_dir (), SQ_TYPE_MAX,
              type);
    char *text = s_file_text (path);
    assert_non_null (text);
    msgpack_sbuffer buf;
    s_json_pack (text, &buf);
    char why[WHY_SIZE];
    sq_doc_t *doc = sq_doc_new (buf.data, buf.size, why, sizeof why);
    if (!doc)
        fail_msg ("%s: %s", path, why);
    const msgpack_object *root = sq_doc_root (doc);
    assert_true (sq_obj_str_eq (sq_obj_get (root, "type"), type));
    char stream[SQ_TYPE_MAX];
    snprintf (stream, sizeof stream, "%.*s", (int) strcspn (type, "."), type);
    assert_true (sq_obj_str_eq (sq_obj_get (root, "stream"), stream));
    assert_true (s_one_of (sq_obj_get (root, "div"),
                           (const char *const[]){"community", "division", "none", "any", NULL}));
    assert_non_null (sq_obj_get (root, "description"));
    assert_int_equal (sq_obj_get (root, "additional")->type, MSGPACK_OBJECT_BOOLEAN);
    s_fields_well_formed (type, sq_obj_get (root, "data"), 0);
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
    free (text);
}

//  Every registry event type has a contract file; every contract file parses and is well
//  formed, the README lists it, and its sample event here passes the checker.
static void
test_every_contract_is_well_formed (void **state)
{
    static const char *const expected[] = {
        "registry.divisions_imported", "registry.grid_created", "registry.household_created",
        "registry.org_registered", "registry.resident_left", "registry.resident_moved",
        "registry.resident_registered", "registry.staff_added",
        "registry.volunteer_hours_logged", "registry.volunteer_registered"};
    char types[CONTRACTS_MAX][SQ_TYPE_MAX];
    int count = s_contract_types (types);
    for (size_t e = 0; e < sizeof expected / sizeof expected[0]; e++) {
        int found = 0;
        for (int i = 0; i < count; i++)
            found |= strcmp (types[i], expected[e]) == 0;
        if (!found)
            fail_msg ("schemas/events/%s.json is missing", expected[e]);
    }
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/schemas/events/README.md", s_source_dir ());
    char *readme = s_file_text (path);
    assert_non_null (readme);
    for (int i = 0; i < count; i++) {
        s_contract_well_formed (types[i]);
        if (!s_sample (types[i]))
            fail_msg ("%s has no sample event in s_samples", types[i]);
        if (!strstr (readme, types[i]))
            fail_msg ("schemas/events/README.md does not list %s", types[i]);
        s_accepts (s_sample_event (types[i]));
    }
    free (readme);
}

// ---- generic mutations of every sample, driven by its contract --------------------------

typedef enum { DROP, WRONG_TYPE, NIL, ADD_UNKNOWN } mutation_t;

//  A value of the wrong type for a field of type kind.
static void
s_pack_wrong (msgpack_packer *pk, const msgpack_object *kind)
{
    if (sq_obj_str_eq (kind, "string"))
        msgpack_pack_int (pk, 7);
    else if (sq_obj_str_eq (kind, "boolean"))
        msgpack_pack_int (pk, 1);
    else
        sq_pack_str (pk, "7");
}

//  Packs data with field dropped, retyped or nil, or with an unknown field added.
static void
s_pack_mutated (msgpack_sbuffer *buf, const msgpack_object *data, const msgpack_object *field,
                const msgpack_object *spec, mutation_t mutation)
{
    msgpack_sbuffer_init (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    uint32_t size = data->via.map.size;
    msgpack_pack_map (&pk, mutation == DROP ? size - 1 : mutation == ADD_UNKNOWN ? size + 1 : size);
    for (uint32_t i = 0; i < size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        bool hit = field && msgpack_object_equal (kv->key, *field);
        if (hit && mutation == DROP)
            continue;
        msgpack_pack_object (&pk, kv->key);
        if (hit && mutation == WRONG_TYPE)
            s_pack_wrong (&pk, sq_obj_get (spec, "type"));
        else if (hit && mutation == NIL)
            msgpack_pack_nil (&pk);
        else
            msgpack_pack_object (&pk, kv->val);
    }
    if (mutation == ADD_UNKNOWN)
        sq_pack_kv_str (&pk, "unexpected", "x");
}

//  Builds the sample of type with one mutation and checks the refusal names path.
static void
s_refuses_mutation (const sample_t *sample, const msgpack_object *field,
                    const msgpack_object *spec, mutation_t mutation, const char *fragment)
{
    sq_event_t *valid = s_event (sample->type, sample->div, sample->data);
    msgpack_sbuffer buf;
    s_pack_mutated (&buf, valid->env.data, field, spec, mutation);
    s_refuses (s_event_data (sample->type, sample->div, buf.data, buf.size), fragment);
    msgpack_sbuffer_destroy (&buf);
    sq_event_destroy (&valid);
}

//  For every field of every contract: dropped, wrongly typed and (unless nullable) nil are
//  refused; nullable fields accept nil; an unknown field is refused.
static void
test_every_field_is_enforced (void **state)
{
    for (size_t s = 0; s < SAMPLE_COUNT; s++) {
        const sample_t *sample = &s_samples[s];
        char path[PATH_SIZE];
        snprintf (path, sizeof path, "%s/schemas/events/%.*s.json", s_source_dir (),
                  SQ_TYPE_MAX, sample->type);
        char *text = s_file_text (path);
        assert_non_null (text);
        msgpack_sbuffer contract;
        s_json_pack (text, &contract);
        char why[WHY_SIZE];
        sq_doc_t *doc = sq_doc_new (contract.data, contract.size, why, sizeof why);
        assert_non_null (doc);
        const msgpack_object *fields = sq_obj_get (sq_doc_root (doc), "data");
        for (uint32_t i = 0; i < fields->via.map.size; i++) {
            const msgpack_object *key = &fields->via.map.ptr[i].key;
            const msgpack_object *spec = &fields->via.map.ptr[i].val;
            char name[PATH_SIZE / 4], missing[PATH_SIZE], typed[PATH_SIZE];
            snprintf (name, sizeof name, "data.%.*s", (int) key->via.str.size, key->via.str.ptr);
            snprintf (missing, sizeof missing, "%s: required field is missing", name);
            snprintf (typed, sizeof typed, "%s: is ", name);
            s_refuses_mutation (sample, key, spec, DROP, missing);
            s_refuses_mutation (sample, key, spec, WRONG_TYPE, typed);
            const msgpack_object *nullable = sq_obj_get (spec, "nullable");
            if (nullable && nullable->via.boolean) {
                sq_event_t *valid = s_event (sample->type, sample->div, sample->data);
                msgpack_sbuffer buf;
                s_pack_mutated (&buf, valid->env.data, key, spec, NIL);
                s_accepts (s_event_data (sample->type, sample->div, buf.data, buf.size));
                msgpack_sbuffer_destroy (&buf);
                sq_event_destroy (&valid);
            } else
                s_refuses_mutation (sample, key, spec, NIL, "is nil, not nullable");
        }
        s_refuses_mutation (sample, NULL, NULL, ADD_UNKNOWN, "data.unexpected: unknown field");
        sq_doc_destroy (&doc);
        msgpack_sbuffer_destroy (&contract);
        free (text);
    }
}

// ---- the cases the platform cares about, by name ----------------------------------------

static void
test_missing_unknown_and_wrong_type (void **state)
{
    s_refuses (s_event ("registry.resident_left", COMMUNITY,
                        "{\"resident\":\"" RESIDENT "\",\"community\":\"" COMMUNITY "\","
                        "\"residency\":\"permanent\",\"party_member\":false}"),
               "data.reason: required field is missing");
    s_refuses (s_event ("registry.household_created", COMMUNITY,
                        "{\"household\":\"" HOUSEHOLD "\",\"community\":\"" COMMUNITY "\","
                        "\"grid\":null,\"address\":\"幸福路8号\"}"),
               "data.address: unknown field");
    s_refuses (s_event ("registry.resident_moved", OTHER,
                        "{\"resident\":\"" RESIDENT "\",\"from\":\"" COMMUNITY "\","
                        "\"community\":\"" OTHER "\",\"grid\":null,\"residency\":\"floating\","
                        "\"party_member\":\"yes\"}"),
               "data.party_member: is a string, not of type boolean");
    s_refuses (s_event ("registry.grid_created", COMMUNITY,
                        "{\"grid\":\"" COMMUNITY "-001\",\"community\":\"" COMMUNITY "\","
                        "\"name\":null}"),
               "data.name: is nil, not nullable");
    //  A number field takes integers and floats; an integer field does not take floats.
    s_accepts (s_event ("registry.volunteer_hours_logged", COMMUNITY,
                        "{\"volunteer\":\"" VOLUNTEER "\",\"community\":\"" COMMUNITY "\","
                        "\"hours\":2,\"total_hours\":100,\"stars\":1,\"date\":\"2024-05-01\"}"));
    s_refuses (s_event ("registry.volunteer_hours_logged", COMMUNITY,
                        "{\"volunteer\":\"" VOLUNTEER "\",\"community\":\"" COMMUNITY "\","
                        "\"hours\":2,\"total_hours\":100,\"stars\":1.0,\"date\":\"2024-05-01\"}"),
               "data.stars: is a float, not of type integer");
}

static void
test_masking_and_privacy (void **state)
{
    const char *head = "{\"resident\":\"" RESIDENT "\",\"community\":\"" COMMUNITY "\","
                       "\"grid\":null,\"household\":null,\"residency\":\"registered\","
                       "\"party_member\":false,\"sex\":\"female\",\"birth_year\":1949,";
    struct {
        const char *tail;
        const char *reason;
    } cases[] = {
        {"\"id_number\":\"11010519491231002X\",\"phone\":null}",
         "data.id_number: 11010519491231002X is not masked"},
        {"\"id_number\":\"110***********002X\",\"phone\":\"13812345678\"}",
         "data.phone: 13812345678 is not masked"},
        {"\"id_number\":\"110**********1002X\",\"phone\":null}", "data.id_number:"},
        {"\"id_number\":\"110***********002x\",\"phone\":null}", "data.id_number:"},
        {"\"id_number\":\"******************\",\"phone\":null}", "data.id_number:"},
        {"\"id_number\":\"110***********002X\",\"phone\":\"138*****678\"}", "data.phone:"},
        {"\"id_number\":\"110***********002X\",\"phone\":\"128****5678\"}", "data.phone:"},
        {"\"id_number\":\"110***********002X\",\"phone\":null,\"name\":\"王芳\"}",
         "data: carries both name and id_number"},
        {"\"id_number\":110105,\"phone\":null}",
         "data.id_number: is an integer, not a masked string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[WHY_SIZE];
        snprintf (json, sizeof json, "%s%s", head, cases[i].tail);
        s_refuses (s_event ("registry.resident_registered", COMMUNITY, json), cases[i].reason);
    }
}

static void
test_formats (void **state)
{
    struct {
        const char *type;
        const char *data;
        const char *reason;
    } cases[] = {
        {"registry.grid_created",
         "{\"grid\":\"" COMMUNITY "-000\",\"community\":\"" COMMUNITY "\",\"name\":\"a\"}",
         "data.grid: " COMMUNITY "-000 is not a grid_code"},
        {"registry.grid_created",
         "{\"grid\":\"" COMMUNITY "-1\",\"community\":\"" COMMUNITY "\",\"name\":\"a\"}",
         "data.grid:"},
        {"registry.grid_created",
         "{\"grid\":\"" COMMUNITY "-001\",\"community\":\"" COMMUNITY "\",\"name\":\"\"}",
         "data.name: 0 bytes is outside its length limits"},
        {"registry.staff_added",
         "{\"staff\":\"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B\",\"community\":\"" COMMUNITY "\","
         "\"role\":\"director\"}",
         "data.staff: 0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B is not a uuid"},
        {"registry.staff_added",
         "{\"staff\":\"" HOUSEHOLD "\",\"community\":\"131002001\",\"role\":\"director\"}",
         "data.community: 131002001 is not a community_code"},
        {"registry.staff_added",
         "{\"staff\":\"" HOUSEHOLD "\",\"community\":\"" COMMUNITY "\",\"role\":\"mayor\"}",
         "data.role: mayor is not one of its enum"},
        {"registry.volunteer_hours_logged",
         "{\"volunteer\":\"" VOLUNTEER "\",\"community\":\"" COMMUNITY "\",\"hours\":2.5,"
         "\"total_hours\":2.5,\"stars\":0,\"date\":\"2023-02-29\"}",
         "data.date: 2023-02-29 is not a date"},
        {"registry.volunteer_hours_logged",
         "{\"volunteer\":\"" VOLUNTEER "\",\"community\":\"" COMMUNITY "\",\"hours\":0,"
         "\"total_hours\":2.5,\"stars\":0,\"date\":\"2024-05-01\"}",
         "data.hours: 0 is outside [0.01, 24]"},
        {"registry.volunteer_hours_logged",
         "{\"volunteer\":\"" VOLUNTEER "\",\"community\":\"" COMMUNITY "\",\"hours\":2.5,"
         "\"total_hours\":2.5,\"stars\":6,\"date\":\"2024-05-01\"}",
         "data.stars: 6 is outside [0, 5]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_refuses (s_event (cases[i].type, COMMUNITY, cases[i].data), cases[i].reason);
}

//  The nested maps of divisions_imported are as strict as the top level.
static void
test_nested_maps (void **state)
{
    const char *head = "{\"total\":10,\"inserted\":10,\"updated\":0,\"kinds\":{"
                       "\"urban_community\":2,\"rural_community\":1,\"village\":1},"
                       "\"file\":\"divisions.csv\",\"levels\":";
    struct {
        const char *levels;
        const char *reason;
    } cases[] = {
        {"{\"province\":1,\"city\":1,\"district\":2,\"street\":2,\"community\":4,\"town\":1}}",
         "data.levels.town: unknown field"},
        {"{\"province\":1,\"district\":2,\"street\":2,\"community\":4}}",
         "data.levels.city: required field is missing"},
        {"{\"province\":1,\"city\":\"1\",\"district\":2,\"street\":2,\"community\":4}}",
         "data.levels.city: is a string, not of type integer"},
        {"{\"province\":-1,\"city\":1,\"district\":2,\"street\":2,\"community\":4}}",
         "data.levels.province: -1 is outside"},
        {"[1,1,2,2,4]}", "data.levels: is a list, not of type map"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[WHY_SIZE];
        snprintf (json, sizeof json, "%s%s", head, cases[i].levels);
        s_refuses (s_event ("registry.divisions_imported", "", json), cases[i].reason);
    }
}

//  A data map with a duplicate key or a key that is not a string is refused.
static void
test_odd_keys (void **state)
{
    for (int odd = 0; odd < 2; odd++) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 4);
        sq_pack_kv_str (&pk, "staff", HOUSEHOLD);
        sq_pack_kv_str (&pk, "community", COMMUNITY);
        sq_pack_kv_str (&pk, "role", "director");
        if (odd == 0)
            sq_pack_kv_str (&pk, "role", "secretary");
        else {
            msgpack_pack_int (&pk, 1);
            msgpack_pack_int (&pk, 2);
        }
        s_refuses (s_event_data ("registry.staff_added", COMMUNITY, buf.data, buf.size),
                   odd == 0 ? "data.role: appears twice" : "data: a key is an integer");
        msgpack_sbuffer_destroy (&buf);
    }
}

// ---- the envelope -----------------------------------------------------------------------

static void
test_div_and_topic (void **state)
{
    //  A community event needs a community code in div, equal to data.community.
    sq_event_t *event = s_sample_event ("registry.grid_created");
    snprintf (event->env.div, sizeof event->env.div, "131002");
    sq_envelope_topic (&event->env, event->topic, sizeof event->topic);
    s_refuses (event, "div: \"131002\" is not a community code");
    event = s_sample_event ("registry.grid_created");
    event->env.div[0] = 0;
    sq_envelope_topic (&event->env, event->topic, sizeof event->topic);
    s_refuses (event, "div: \"\" is not a community code");
    event = s_sample_event ("registry.grid_created");
    snprintf (event->env.div, sizeof event->env.div, OTHER);
    sq_envelope_topic (&event->env, event->topic, sizeof event->topic);
    s_refuses (event, "div: \"" OTHER "\" is not data.community");
    //  divisions_imported has an empty div and the bare type as topic.
    event = s_sample_event ("registry.divisions_imported");
    assert_string_equal (event->topic, "registry.divisions_imported");
    snprintf (event->env.div, sizeof event->env.div, "13");
    sq_envelope_topic (&event->env, event->topic, sizeof event->topic);
    s_refuses (event, "div: \"13\" must be empty");
    //  The topic is "<type>.<div>", or the bare type when div is empty.
    event = s_sample_event ("registry.grid_created");
    snprintf (event->topic, sizeof event->topic, "registry.grid_created.%s", OTHER);
    s_refuses (event, "topic: \"registry.grid_created." OTHER "\" is not");
    event = s_sample_event ("registry.divisions_imported");
    snprintf (event->topic, sizeof event->topic, "registry.divisions_imported.");
    s_refuses (event, "topic:");
    event = s_sample_event ("registry.grid_created");
    snprintf (event->topic, sizeof event->topic, "registry.grid_created");
    s_refuses (event, "topic:");
}

static void
test_envelope_fields (void **state)
{
    sq_event_t *event = s_sample_event ("registry.staff_added");
    snprintf (event->env.src, sizeof event->env.src, "disputes");
    s_refuses (event, "src: \"disputes\" is not the contract's stream");
    event = s_sample_event ("registry.staff_added");
    event->env.seq = 0;
    s_refuses (event, "seq: must be 1 or more");
    event = s_sample_event ("registry.staff_added");
    event->env.id[0] = 0;
    s_refuses (event, "id: is empty");
    event = s_sample_event ("registry.staff_added");
    event->env.at = INT64_C (1546300800000000); //  2019-01-01
    s_refuses (event, "at: ");
    event = s_sample_event ("registry.staff_added");
    event->env.at = sq_now_us () + INT64_C (120000000);
    s_refuses (event, "at: ");
    event = s_sample_event ("registry.staff_added");
    event->env.at = sq_now_us () + INT64_C (30000000);
    s_accepts (event);
    s_refuses (s_event ("registry.nothing_happened", COMMUNITY, "{}"), "could not open contract");
    s_refuses (s_event ("../../etc/passwd", COMMUNITY, "{}"), "is not <service>.<event>");
    s_refuses (s_event ("registry", COMMUNITY, "{}"), "is not <service>.<event>");
}

//  Packs env as an envelope map with version v, an extra key and one key left out.
static void
s_pack_root (msgpack_sbuffer *buf, const sq_envelope_t *env, uint64_t v, const char *extra,
             const char *skip)
{
    const char *keys[] = {"id", "src", "type", "div", "actor", "corr", "cause"};
    const char *values[] = {env->id, env->src, env->type, env->div, env->actor, env->corr,
                            env->cause};
    msgpack_sbuffer_init (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 11 + (extra ? 1 : 0) - (skip ? 1 : 0));
    sq_pack_kv_uint (&pk, "v", v);
    sq_pack_kv_uint (&pk, "seq", env->seq);
    sq_pack_kv_int (&pk, "at", env->at);
    for (int i = 0; i < 7; i++)
        if (!skip || strcmp (skip, keys[i]) != 0)
            sq_pack_kv_str (&pk, keys[i], values[i]);
    if (extra)
        sq_pack_kv_str (&pk, extra, "x");
    sq_pack_str (&pk, "data");
    msgpack_pack_object (&pk, *env->data);
}

//  Replaces the event's bytes and doc with another envelope map (env stays as decoded).
static void
s_replace_root (sq_event_t *event, uint64_t v, const char *extra, const char *skip)
{
    msgpack_sbuffer buf;
    s_pack_root (&buf, &event->env, v, extra, skip);
    size_t size = buf.size;
    void *raw = malloc (size);
    assert_non_null (raw);
    memcpy (raw, buf.data, size);
    msgpack_sbuffer_destroy (&buf);
    char why[WHY_SIZE];
    sq_doc_t *doc = sq_doc_new (raw, size, why, sizeof why);
    assert_non_null (doc);
    //  env.data keeps pointing into the old doc, so that one is parked in a second event.
    sq_event_t *old = calloc (1, sizeof *old);
    assert_non_null (old);
    old->doc = event->doc, old->raw = event->raw;
    event->doc = doc, event->raw = raw, event->raw_size = size;
    s_refuses (event, v != 1 ? "v: must be 1" : extra ? "envelope: unknown key" : "is missing");
    sq_event_destroy (&old);
}

static void
test_envelope_map (void **state)
{
    s_replace_root (s_sample_event ("registry.staff_added"), 2, NULL, NULL);
    s_replace_root (s_sample_event ("registry.staff_added"), 1, "tenant", NULL);
    s_replace_root (s_sample_event ("registry.staff_added"), 1, NULL, "cause");
    //  Without a doc the checker reads the raw bytes; without either it refuses.
    sq_event_t *event = s_sample_event ("registry.staff_added");
    sq_event_t *holder = calloc (1, sizeof *holder);
    assert_non_null (holder);
    holder->doc = event->doc;
    event->doc = NULL;
    char why[WHY_SIZE] = "";
    assert_int_equal (sq_test_contract_check (event, why, sizeof why), 0);
    holder->raw = event->raw;
    event->raw = NULL;
    assert_int_equal (sq_test_contract_check (event, why, sizeof why), -1);
    assert_non_null (strstr (why, "neither doc nor raw"));
    sq_event_destroy (&event);
    sq_event_destroy (&holder);
}

// ---- the checker's own handling of contracts, on contracts written here -----------------

static char s_dir[PATH_SIZE / 4]; //  temporary source tree of the tests below

static void
s_write_contract (const char *type, const char *text)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/schemas/events/%.*s.json", s_dir, SQ_TYPE_MAX, type);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

//  A contract of type test.<name> around the given data fields and extra top-level text.
static void
s_write_test_contract (const char *name, const char *top, const char *fields)
{
    char type[SQ_TYPE_MAX], text[4096];
    snprintf (type, sizeof type, "test.%s", name);
    snprintf (text, sizeof text, "{\"type\":\"%s\",\"stream\":\"test\",\"description\":\"d\","
              "\"additional\":false,%s\"data\":{%s}}", type, top, fields);
    s_write_contract (type, text);
}

static int
s_tree_setup (void **state)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/shequ-contracts-XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/schemas", s_dir);
    assert_int_equal (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/schemas/events", s_dir);
    assert_int_equal (mkdir (path, 0700), 0);
    return 0;
}

static int
s_tree_teardown (void **state)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/schemas/events", s_dir);
    DIR *dir = opendir (path);
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        char file[PATH_SIZE + 256];
        snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
        if (entry->d_name[0] != '.')
            unlink (file);
    }
    if (dir)
        closedir (dir);
    rmdir (path);
    snprintf (path, sizeof path, "%s/schemas", s_dir);
    rmdir (path);
    rmdir (s_dir);
    return 0;
}

//  Points the checker at the temporary tree while fn runs.
static void
s_with_tree (void (*fn) (void))
{
    const char *saved = getenv ("SHEQU_SOURCE_DIR");
    char previous[PATH_SIZE];
    snprintf (previous, sizeof previous, "%s", saved ? saved : "");
    setenv ("SHEQU_SOURCE_DIR", s_dir, 1);
    fn ();
    if (saved)
        setenv ("SHEQU_SOURCE_DIR", previous, 1);
    else
        unsetenv ("SHEQU_SOURCE_DIR");
}

static void
s_malformed_contracts (void)
{
    struct {
        const char *name, *top, *fields, *reason;
    } cases[] = {
        {"bad_type", "", "\"a\":{\"type\":\"strin\",\"description\":\"d\"}", "type must be one of"},
        {"bad_format", "", "\"a\":{\"type\":\"string\",\"format\":\"phone\",\"description\":\"d\"}",
         "data.a: format has the wrong shape"},
        {"bad_applies", "",
         "\"a\":{\"type\":\"integer\",\"format\":\"date\",\"description\":\"d\"}",
         "data.a: format does not apply to this type"},
        {"bad_key", "", "\"a\":{\"type\":\"string\",\"maxLength\":3,\"description\":\"d\"}",
         "data.a: unknown key maxLength in field spec"},
        {"bad_description", "", "\"a\":{\"type\":\"string\"}", "data.a: description is missing"},
        {"bad_list", "", "\"a\":{\"type\":\"list\",\"description\":\"d\"}", "a list needs items"},
        {"bad_map", "", "\"a\":{\"type\":\"map\",\"description\":\"d\"}", "fields must be a map"},
        {"bad_limits", "", "\"a\":{\"type\":\"integer\",\"minimum\":5,\"maximum\":1,"
         "\"description\":\"d\"}", "minimum is above maximum"},
        {"bad_privacy", "", "\"name\":{\"type\":\"string\",\"description\":\"d\"},\"id_number\":"
         "{\"type\":\"string\",\"format\":\"masked_id_number\",\"description\":\"d\"}",
         "may not hold both name and id_number"},
        {"bad_id_number", "", "\"id_number\":{\"type\":\"string\",\"description\":\"d\"}",
         "must have format masked_id_number"},
        {"bad_phone", "", "\"x\":{\"type\":\"map\",\"description\":\"d\",\"fields\":{\"phone\":"
         "{\"type\":\"string\",\"description\":\"d\"}}}", "data.x.phone: a phone field must"},
        {"bad_div", "\"div\":\"street\",", "", "div must be one of"},
        {"bad_div_field", "\"div\":\"community\",\"div_field\":\"c\",",
         "\"c\":{\"type\":\"string\",\"format\":\"community_code\",\"nullable\":true,"
         "\"description\":\"d\"}", "div_field must name"},
        {"bad_top", "\"div\":\"none\",\"version\":2,", "", "unknown top-level key version"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char type[SQ_TYPE_MAX];
        snprintf (type, sizeof type, "test.%s", cases[i].name);
        const char *top = cases[i].top[0] ? cases[i].top : "\"div\":\"none\",";
        s_write_test_contract (cases[i].name, top, cases[i].fields);
        sq_event_t *event = s_event (type, "", "{}");
        char why[WHY_SIZE] = "";
        assert_int_equal (sq_test_contract_check (event, why, sizeof why), -1);
        if (!strstr (why, "is malformed") || !strstr (why, cases[i].reason))
            fail_msg ("%s: refused with '%s', expected '%s'", type, why, cases[i].reason);
        sq_event_destroy (&event);
    }
    s_write_contract ("test.bad_name", "{\"type\":\"test.other\",\"stream\":\"test\",\"div\":"
                      "\"none\",\"description\":\"d\",\"data\":{},\"additional\":false}");
    s_refuses (s_event ("test.bad_name", "", "{}"), "type must equal the file's name");
    s_write_contract ("test.bad_stream", "{\"type\":\"test.bad_stream\",\"stream\":\"other\","
                      "\"div\":\"none\",\"description\":\"d\",\"data\":{},\"additional\":false}");
    s_refuses (s_event ("test.bad_stream", "", "{}"), "stream must be the type's service");
    s_write_contract ("test.bad_json", "{\"type\":\"test.bad_json\",}");
    s_refuses (s_event ("test.bad_json", "", "{}"), "is malformed");
    s_write_contract ("test.bad_additional", "{\"type\":\"test.bad_additional\",\"stream\":"
                      "\"test\",\"div\":\"none\",\"description\":\"d\",\"data\":{}}");
    s_refuses (s_event ("test.bad_additional", "", "{}"), "additional must be true or false");
}

static void
test_malformed_contracts_are_refused (void **state)
{
    s_with_tree (s_malformed_contracts);
}

//  A contract with lists, maps in lists, an open map and optional fields.
static void
s_shapes (void)
{
    s_write_test_contract (
        "shapes", "\"div\":\"any\",",
        "\"tags\":{\"type\":\"list\",\"description\":\"d\",\"items\":{\"type\":\"string\","
        "\"enum\":[\"a\",\"b\"],\"description\":\"d\"}},"
        "\"points\":{\"type\":\"list\",\"description\":\"d\",\"items\":{\"type\":\"map\","
        "\"description\":\"d\",\"fields\":{\"x\":{\"type\":\"integer\",\"description\":\"d\"},"
        "\"label\":{\"type\":\"string\",\"required\":false,\"description\":\"d\"}}}},"
        "\"extra\":{\"type\":\"map\",\"description\":\"d\",\"fields\":{},\"additional\":true},"
        "\"ratio\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1,\"description\":\"d\"},"
        "\"division\":{\"type\":\"string\",\"format\":\"division_code\",\"required\":false,"
        "\"description\":\"d\"}");
    const char *valid = "{\"tags\":[\"a\",\"b\"],\"points\":[{\"x\":1},{\"x\":-2,\"label\":\"p\"}],"
                        "\"extra\":{\"anything\":[1,{\"deep\":true}]},\"ratio\":0.5}";
    s_accepts (s_event ("test.shapes", "", valid));
    s_accepts (s_event ("test.shapes", "131002", valid));
    s_refuses (s_event ("test.shapes", "13100", valid), "div: \"13100\" is neither empty");
    struct {
        const char *data, *reason;
    } cases[] = {
        {"{\"tags\":[\"c\"],\"points\":[],\"extra\":{},\"ratio\":0}", "data.tags[0]: c is not one"},
        {"{\"tags\":[],\"points\":[{\"x\":\"1\"}],\"extra\":{},\"ratio\":0}",
         "data.points[0].x: is a string, not of type integer"},
        {"{\"tags\":[],\"points\":[{\"x\":1,\"y\":2}],\"extra\":{},\"ratio\":0}",
         "data.points[0].y: unknown field"},
        {"{\"tags\":[],\"points\":[{\"x\":1},{}],\"extra\":{},\"ratio\":0}",
         "data.points[1].x: required field is missing"},
        {"{\"tags\":[],\"points\":[],\"extra\":{\"phone\":\"13812345678\"},\"ratio\":0}",
         "data.extra.phone: 13812345678 is not masked"},
        {"{\"tags\":[],\"points\":[],\"extra\":{\"p\":[{\"name\":\"王芳\",\"id_number\":"
         "\"110***********002X\"}]},\"ratio\":0}", "data.extra.p[0]: carries both name"},
        {"{\"tags\":[],\"points\":[],\"extra\":{},\"ratio\":1.5}", "data.ratio: 1.5 is outside"},
        {"{\"tags\":[],\"points\":[],\"extra\":{},\"ratio\":0,\"division\":\"1310020\"}",
         "data.division: 1310020 is not a division_code"},
        {"{\"tags\":\"a\",\"points\":[],\"extra\":{},\"ratio\":0}",
         "data.tags: is a string, not of type list"},
        {"{\"tags\":[],\"points\":[],\"extra\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":"
         "{\"h\":{\"i\":1}}}}}}}}},\"ratio\":0}", "nested deeper than"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_refuses (s_event ("test.shapes", "", cases[i].data), cases[i].reason);
}

static void
test_lists_and_open_maps (void **state)
{
    s_with_tree (s_shapes);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_every_contract_is_well_formed),
        cmocka_unit_test (test_every_field_is_enforced),
        cmocka_unit_test (test_missing_unknown_and_wrong_type),
        cmocka_unit_test (test_masking_and_privacy),
        cmocka_unit_test (test_formats),
        cmocka_unit_test (test_nested_maps),
        cmocka_unit_test (test_odd_keys),
        cmocka_unit_test (test_div_and_topic),
        cmocka_unit_test (test_envelope_fields),
        cmocka_unit_test (test_envelope_map),
        cmocka_unit_test (test_malformed_contracts_are_refused),
        cmocka_unit_test (test_lists_and_open_maps),
    };
    return cmocka_run_group_tests (tests, s_tree_setup, s_tree_teardown);
}
