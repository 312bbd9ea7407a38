/*  test_registry_rules: volunteer stars, kinds of community, division levels (rules.h).
    Names are real ones from ../shared/data/divisions/divisions.csv, with their parents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "registry/rules.h"

#define HOURS(h) ((int64_t) (h) * 100) //  hours in the hundredths rules.h counts

static void
test_stars (void **state)
{
    static const int thresholds[REGISTRY_STARS_MAX] = {100, 300, 600, 1000, 1500};
    assert_int_equal (registry_volunteer_stars (0), 0);
    assert_int_equal (registry_volunteer_stars (-HOURS (5)), 0);
    for (int stars = 1; stars <= REGISTRY_STARS_MAX; stars++) {
        int64_t at = HOURS (thresholds[stars - 1]);
        assert_int_equal (registry_volunteer_star_hours (stars), thresholds[stars - 1]);
        assert_int_equal (registry_volunteer_stars (at), stars);
        assert_int_equal (registry_volunteer_stars (at - 1), stars - 1); //  0.01 h short
        assert_int_equal (registry_volunteer_stars (at + 1), stars);
    }
    assert_int_equal (registry_volunteer_stars (HOURS (99)), 0);
    assert_int_equal (registry_volunteer_stars (HOURS (1499)), 4);
    assert_int_equal (registry_volunteer_stars (HOURS (100000)), 5);
    assert_int_equal (registry_volunteer_stars (INT64_MAX), 5);
}

static void
s_assert_kind (const char *name, const char *parent, const char *kind)
{
    const char *got = registry_community_kind (name, parent);
    if (strcmp (got, kind) != 0)
        fail_msg ("%s under %s: %s, expected %s", name, parent ? parent : "(none)", got, kind);
}

static void
test_community_kinds (void **state)
{
    //  Villagers' committees, whatever their parent: 村民委员会, 村委会, bare 村.
    s_assert_kind ("韭菜坪村村民委员会", "格萨拉彝族乡", REGISTRY_KIND_VILLAGE);
    s_assert_kind ("孙东庄村民委员会", "落垡镇", REGISTRY_KIND_VILLAGE);
    s_assert_kind ("辛立村村委会", "永清镇", REGISTRY_KIND_VILLAGE);
    s_assert_kind ("小哲垡村委会", "云鹏道街道", REGISTRY_KIND_VILLAGE);
    s_assert_kind ("瓦干村", "依西肯乡", REGISTRY_KIND_VILLAGE);
    s_assert_kind ("十八站鄂伦春族村", "十八站鄂伦春族乡", REGISTRY_KIND_VILLAGE);
    //  Residents' committees under a street office: urban.
    s_assert_kind ("渡口社区居民委员会", "大河中路街道", REGISTRY_KIND_URBAN_COMMUNITY);
    s_assert_kind ("东山坞居委会", "光明街道", REGISTRY_KIND_URBAN_COMMUNITY);
    s_assert_kind ("滨河西院社区居民委员会", "鼎盛东街道", REGISTRY_KIND_URBAN_COMMUNITY);
    //  ... under a town or a township (民族乡 too): rural.
    s_assert_kind ("喇撒田社区居民委员会", "永兴镇", REGISTRY_KIND_RURAL_COMMUNITY);
    s_assert_kind ("红星社区居民委员会", "红果彝族乡", REGISTRY_KIND_RURAL_COMMUNITY);
    s_assert_kind ("春城居委会", "长虹镇", REGISTRY_KIND_RURAL_COMMUNITY);
    s_assert_kind ("宏图社区", "宏图镇", REGISTRY_KIND_RURAL_COMMUNITY);
    s_assert_kind ("国营李庄农场生活区", "大柳河镇", REGISTRY_KIND_RURAL_COMMUNITY);
    s_assert_kind ("国营小务农场生活区", "大留镇镇", REGISTRY_KIND_RURAL_COMMUNITY);
    s_assert_kind ("东关一街街道委员会", "霸州镇", REGISTRY_KIND_RURAL_COMMUNITY);
    //  A community named after its town is still a residents' committee; 镇 in its own name
    //  does not count, only the parent's ending does.
    s_assert_kind ("胜芳镇居民委员会", "胜芳镇", REGISTRY_KIND_RURAL_COMMUNITY);
    s_assert_kind ("胜芳镇居民委员会", "光明街道", REGISTRY_KIND_URBAN_COMMUNITY);
    //  ... under a development zone, neither town nor township: urban.
    s_assert_kind ("河北廊坊广阳经济开发区虚拟社区", "河北廊坊广阳经济开发区",
                   REGISTRY_KIND_URBAN_COMMUNITY);
    s_assert_kind ("君庭社区居民委员会", "廊坊龙河高新技术产业开发区",
                   REGISTRY_KIND_URBAN_COMMUNITY);
    s_assert_kind ("宏泰龙邸居民委员会", "廊坊龙河高新技术产业开发区",
                   REGISTRY_KIND_URBAN_COMMUNITY);
    s_assert_kind ("建设道居民委员会", "霸州镇", REGISTRY_KIND_RURAL_COMMUNITY);
    //  A parent with 镇 or 乡 inside its name but not at its end is no town (made-up
    //  parents: the file has none).
    s_assert_kind ("渡口社区居民委员会", "新镇街道", REGISTRY_KIND_URBAN_COMMUNITY);
    s_assert_kind ("渡口社区居民委员会", "乡村振兴示范区", REGISTRY_KIND_URBAN_COMMUNITY);
    //  Unknown parent: not a town, so urban.
    s_assert_kind ("渡口社区居民委员会", NULL, REGISTRY_KIND_URBAN_COMMUNITY);
    s_assert_kind ("渡口社区居民委员会", "", REGISTRY_KIND_URBAN_COMMUNITY);
    //  居民委员会 does not end in 村民委员会, though both end in 民委员会.
    s_assert_kind ("新村居民委员会", "光明街道", REGISTRY_KIND_URBAN_COMMUNITY);
    //  A village under a development zone stays a village.
    s_assert_kind ("南流邵村村民委员会", "固安温泉休闲商务产业园区", REGISTRY_KIND_VILLAGE);
}

static void
test_levels (void **state)
{
    assert_string_equal (registry_division_level_for_code ("13"), "province");
    assert_string_equal (registry_division_level_for_code ("1310"), "city");
    assert_string_equal (registry_division_level_for_code ("131002"), "district");
    assert_string_equal (registry_division_level_for_code ("131002001"), "street");
    assert_string_equal (registry_division_level_for_code ("131002001001"), "community");
    assert_null (registry_division_level_for_code (""));
    assert_null (registry_division_level_for_code ("1"));
    assert_null (registry_division_level_for_code ("131"));
    assert_null (registry_division_level_for_code ("1310020010"));
    assert_null (registry_division_level_for_code ("1310020010011"));
    assert_null (registry_division_level_for_code ("13a0"));
    assert_null (registry_division_level_for_code ("131002001-001"));

    registry_level_t level;
    assert_int_equal (registry_level_parse ("street", &level), 0);
    assert_int_equal (level, REGISTRY_LEVEL_STREET);
    assert_int_equal (registry_level_parse ("town", &level), -1);
    assert_int_equal (registry_level_parse ("Street", &level), -1);
    for (int i = 0; i < REGISTRY_LEVEL_COUNT; i++) {
        const char *name = registry_level_name ((registry_level_t) i);
        assert_int_equal (registry_level_parse (name, &level), 0);
        assert_int_equal (level, i);
    }
    assert_int_equal (registry_level_code_len (REGISTRY_LEVEL_PROVINCE), 2);
    assert_int_equal (registry_level_code_len (REGISTRY_LEVEL_COMMUNITY), 12);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_stars),
        cmocka_unit_test (test_community_kinds),
        cmocka_unit_test (test_levels),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
