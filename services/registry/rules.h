/*  rules: the registry's pure rules — division levels and codes, kinds of community
    (DOMAIN.md section 1) and volunteer star levels (LF 4.8). No I/O, no state. */
#ifndef REGISTRY_RULES_H
#define REGISTRY_RULES_H

#include <stddef.h>
#include <stdint.h>

//  The five levels of the official division codes, top down.
typedef enum {
    REGISTRY_LEVEL_PROVINCE = 0, //  2 digits
    REGISTRY_LEVEL_CITY,         //  4 digits
    REGISTRY_LEVEL_DISTRICT,     //  6 digits: district, county, county-level city, zone
    REGISTRY_LEVEL_STREET,       //  9 digits: street office, town, township, zone
    REGISTRY_LEVEL_COMMUNITY,    //  12 digits: residents' or villagers' committee
    REGISTRY_LEVEL_COUNT
} registry_level_t;

#define REGISTRY_DIVISION_CODE_LEN_MAX 12 //  digits of a community code
#define REGISTRY_DIVISION_CODE_SIZE 13    //  with the terminator

//  Kinds of community (DOMAIN.md section 1); funding depends on them.
#define REGISTRY_KIND_VILLAGE "village"
#define REGISTRY_KIND_URBAN_COMMUNITY "urban_community"
#define REGISTRY_KIND_RURAL_COMMUNITY "rural_community"

#define REGISTRY_STARS_MAX 5 //  highest volunteer star level

//  Returns the level's name as the divisions file spells it ("province" ... "community").
const char *registry_level_name (registry_level_t level);

//  Finds the level called name. Returns 0 with *level set, or -1 for an unknown name.
int registry_level_parse (const char *name, registry_level_t *level);

//  Returns the number of digits of a code at level (2, 4, 6, 9 or 12).
size_t registry_level_code_len (registry_level_t level);

//  Returns the level's name for a division code by its length ("province" for 2 digits ...
//  "community" for 12), or NULL when code is not all digits of one of those lengths.
const char *registry_division_level_for_code (const char *code);

//  Returns the kind of a community from its official name and its parent's (static):
//  a name ending in 村民委员会, 村委会 or 村 is a village; any other is a residents'
//  committee, rural under a parent ending in 镇 or 乡, urban otherwise (parent_name may be
//  NULL when unknown, which reads as urban).
const char *registry_community_kind (const char *name, const char *parent_name);

//  Returns the volunteer star level, 0 to REGISTRY_STARS_MAX, for the total service time
//  in hundredths of an hour: one star from 100 hours, then 300, 600, 1000 and 1500.
int registry_volunteer_stars (int64_t hours_x100);

//  Returns the hours of service needed for a star level from 1 to REGISTRY_STARS_MAX.
int registry_volunteer_star_hours (int stars);

#endif
