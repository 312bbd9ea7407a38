/*  rules: division levels, kinds of community and volunteer stars (see rules.h). */
#include "rules.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#define REGISTRY_HOURS_X100 100 //  hundredths of an hour per hour

static const char *const s_level_names[REGISTRY_LEVEL_COUNT] = {
    "province", "city", "district", "street", "community"};
static const size_t s_level_code_lens[REGISTRY_LEVEL_COUNT] = {2, 4, 6, 9, 12};

//  Hours for each star level (LF 4.8 as the issue fixes it), index 0 for one star.
static const int s_star_hours[REGISTRY_STARS_MAX] = {100, 300, 600, 1000, 1500};

//  Endings of a villagers' committee's name, as DOMAIN.md section 1 words the rule (村
//  alone would match all three; the long forms say what the rule is about).
static const char *const s_village_endings[] = {"村民委员会", "村委会", "村"};
//  Endings of a parent that is a town (镇) or a township (乡, also 民族乡). A street office
//  ends in 街道, a development zone in 区 or 园区: both are urban.
static const char *const s_rural_parent_endings[] = {"镇", "乡"};

const char *
registry_level_name (registry_level_t level)
{
    assert (level >= 0 && level < REGISTRY_LEVEL_COUNT);
    return s_level_names[level];
}

int
registry_level_parse (const char *name, registry_level_t *level)
{
    assert (name && level);
    for (int i = 0; i < REGISTRY_LEVEL_COUNT; i++)
        if (strcmp (name, s_level_names[i]) == 0) {
            *level = (registry_level_t) i;
            return 0;
        }
    return -1;
}

size_t
registry_level_code_len (registry_level_t level)
{
    assert (level >= 0 && level < REGISTRY_LEVEL_COUNT);
    return s_level_code_lens[level];
}

const char *
registry_division_level_for_code (const char *code)
{
    assert (code);
    size_t len = strnlen (code, REGISTRY_DIVISION_CODE_LEN_MAX + 1);
    for (size_t i = 0; i < len; i++)
        if (code[i] < '0' || code[i] > '9') return NULL;
    for (int i = 0; i < REGISTRY_LEVEL_COUNT; i++)
        if (s_level_code_lens[i] == len) return s_level_names[i];
    return NULL;
}

//  True when text ends with ending. NB: byte comparison is enough for UTF-8, since a
//  character's lead byte never equals a continuation byte: a match cannot start inside
//  a character.
static bool
s_ends_with (const char *text, const char *ending)
{
    size_t len = strlen (text);
    size_t ending_len = strlen (ending);
    return len >= ending_len && memcmp (text + len - ending_len, ending, ending_len) == 0;
}

static bool
s_ends_with_any (const char *text, const char *const *endings, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (s_ends_with (text, endings[i])) return true;
    return false;
}

const char *
registry_community_kind (const char *name, const char *parent_name)
{
    assert (name);
    size_t village_count = sizeof s_village_endings / sizeof s_village_endings[0];
    if (s_ends_with_any (name, s_village_endings, village_count))
        return REGISTRY_KIND_VILLAGE;
    //  Only the parent's ending counts: 新镇镇 is a town, 胜芳镇居民委员会 (a community
    //  named after its town) is not a parent at all, and 鼎盛东街道 is a street office.
    size_t rural_count = sizeof s_rural_parent_endings / sizeof s_rural_parent_endings[0];
    if (parent_name && s_ends_with_any (parent_name, s_rural_parent_endings, rural_count))
        return REGISTRY_KIND_RURAL_COMMUNITY;
    return REGISTRY_KIND_URBAN_COMMUNITY;
}

int
registry_volunteer_stars (int64_t hours_x100)
{
    int stars = 0;
    while (stars < REGISTRY_STARS_MAX
           && hours_x100 >= (int64_t) s_star_hours[stars] * REGISTRY_HOURS_X100)
        stars++;
    return stars;
}

int
registry_volunteer_star_hours (int stars)
{
    assert (stars >= 1 && stars <= REGISTRY_STARS_MAX);
    return s_star_hours[stars - 1];
}
