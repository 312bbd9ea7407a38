/*  route: who hears of an event, on which channels, with which template (issue 6). Pure;
    unit-tested.

    Routing rules are data, not code: a rule matches an event type (exactly, or every type
    under a prefix ending in '.') within a territory scope, and names its recipients: the
    staff of a role at the event's community, street or district; named people; the person
    or system a data field names; or the subscribers whose topics match. It lists its
    channels in the order they are tried (the next when one fails for good), a template and
    a priority. Division codes nest by prefix: a community's 12 digits start with its
    street's 9 and its district's 6. */
#ifndef NOTIFY_ROUTE_H
#define NOTIFY_ROUTE_H

#include "template.h"

#include "sq_codec.h"
#include "sq_envelope.h"

#include <stdbool.h>

#define NOTIFY_RULE_ID_MAX 64          //  longest rule id + 1
#define NOTIFY_ROLE_MAX 32             //  longest role name + 1
#define NOTIFY_PEOPLE_MAX 16           //  most named people in one rule
#define NOTIFY_RULES_MAX 1024          //  most rules held, and matched for one event
#define NOTIFY_TERRITORIES_MAX 256     //  most territories one event sends a rule to
#define NOTIFY_TOPICS_MAX 32           //  most topic prefixes of one subscription
#define NOTIFY_ADDRESS_MAX 512         //  longest address (URL, e-mail, phone, recipient) + 1
#define NOTIFY_SUBSCRIBER_MAX SQ_TEXT_ID_MAX //  longest subscriber id + 1

#define NOTIFY_COMMUNITY_DIGITS 12
#define NOTIFY_STREET_DIGITS 9
#define NOTIFY_DISTRICT_DIGITS 6

typedef enum {
    NOTIFY_NORMAL = 0, //  waits for quiet hours to end, folds into digests
    NOTIFY_URGENT      //  bypasses both
} notify_priority_t;

typedef enum {
    NOTIFY_TO_ROLE = 0,    //  staff of role in the territory at level (of the event's div)
    NOTIFY_TO_PEOPLE,      //  the people listed in the rule
    NOTIFY_TO_FIELD,       //  the person or system whose id a data field holds
    NOTIFY_TO_SUBSCRIBERS, //  every subscription whose topics match the event
    NOTIFY_AUDIENCE_COUNT
} notify_audience_t;

typedef enum {
    NOTIFY_AT_COMMUNITY = 0,
    NOTIFY_AT_STREET,
    NOTIFY_AT_DISTRICT,
    NOTIFY_LEVEL_COUNT
} notify_level_t;

typedef struct {
    char id[NOTIFY_RULE_ID_MAX];        //  stable name, unique among the rules
    char match[SQ_TYPE_MAX];            //  an event type, a prefix ending in '.', or "" (all)
    char scope[SQ_DIV_MAX];             //  division the event's div must lie in; "" everywhere
    notify_audience_t audience;
    char role[NOTIFY_ROLE_MAX];         //  TO_ROLE: a role of DESIGN.md ("community_staff")
    notify_level_t level;               //  TO_ROLE: where the staff are looked up
    char territory_field[NOTIFY_NAME_MAX]; //  TO_ROLE: "" the event's div, "community" a data
                                        //  field, "targets.community" that key of each element
                                        //  of a list
    char people[NOTIFY_PEOPLE_MAX][SQ_TEXT_ID_MAX]; //  TO_PEOPLE: their ids
    int people_count;
    char recipient_field[NOTIFY_NAME_MAX]; //  TO_FIELD: the data field holding the id
    notify_channel_t channels[NOTIFY_CHANNEL_COUNT]; //  tried in this order; none for
    int channel_count;                  //  TO_SUBSCRIBERS (each subscription names its own)
    char template_key[NOTIFY_RULE_ID_MAX]; //  "" the event type's own template, else its name
    notify_priority_t priority;
} notify_rule_t;

//  One rule that matches an event, and where to look its recipients up.
typedef struct {
    const notify_rule_t *rule;          //  borrowed from the caller's rules
    char lookup_div[SQ_DIV_MAX];        //  TO_ROLE from the div: the community, street or
                                        //  district code; "" for the other audiences and for
                                        //  a territory_field (see notify_rule_territories)
} notify_match_t;

//  A subscription of a person or a department's system (`subscription.put`).
typedef struct {
    char subscriber[NOTIFY_SUBSCRIBER_MAX];
    notify_channel_t channel;
    char address[NOTIFY_ADDRESS_MAX];   //  URL, e-mail address, phone or inbox recipient
    char topics[NOTIFY_TOPICS_MAX][SQ_TOPIC_MAX]; //  prefixes of "<type>.<div>"
    int topic_count;
} notify_subscription_t;

//  Names as the wire spells them (static; NULL when out of range); parse returns -1 for an
//  unknown name.
const char *notify_priority_name (notify_priority_t priority);
int notify_priority_parse (const char *name, notify_priority_t *priority);
const char *notify_audience_name (notify_audience_t audience);
int notify_audience_parse (const char *name, notify_audience_t *audience);
const char *notify_level_name (notify_level_t level);
int notify_level_parse (const char *name, notify_level_t *level);

//  Checks a rule before it is stored (`rule.put`): id, match and scope well formed, a known
//  role for staff, people or field given as the audience needs, one to four distinct
//  channels (none for subscribers). Returns 0, or -1 with err (`invalid`, naming the field
//  at fault).
int notify_rule_check (const notify_rule_t *rule, sq_error_t *err);

//  True when rule matches an event of type within div: exact type or prefix, and div inside
//  the rule's scope (an event without a div only when the rule has no scope).
bool notify_rule_matches (const notify_rule_t *rule, const char *type, const char *div);

//  The code of the level's territory inside div (its first 12, 9 or 6 digits) into out.
//  Returns 0, or -1 when div is too short to hold it (an event about a district has no
//  community) or not digits.
int notify_level_code (notify_level_t level, const char *div, char out[SQ_DIV_MAX]);

//  Finds the rules of rule_count that match an event, in a fixed order whatever the order of
//  rules: exact types before prefixes, longer prefixes first, narrower scopes first, then by
//  id. A staff rule whose level the div cannot give (community staff for a district event)
//  is left out. Returns the number written to out, or -1 when more than out_max match.
int notify_route_match (const notify_rule_t *rules, int rule_count, const char *type,
                        const char *div, notify_match_t *out, int out_max);

//  The territories at which a staff rule's recipients are looked up for one event: the
//  level's code of the div, or of each value of the rule's territory_field (deduplicated, in
//  the order met). Returns the number written to out, 0 when there is none, -1 when more
//  than out_max.
int notify_rule_territories (const notify_rule_t *rule, const sq_envelope_t *env,
                             char (*out)[SQ_DIV_MAX], int out_max);

//  True when a topic prefix selects the event "<type>.<div>" (or "<type>" without div):
//  "" selects everything; a prefix ending inside the type must end at a boundary of its
//  words ("disputes", "disputes.", "disputes.case_filed"; "disputes.case" selects nothing:
//  NB stricter than ZeroMQ's prefixes), one ending inside the div at any digit.
bool notify_topic_matches (const char *prefix, const char *type, const char *div);

//  True when any of the subscription's topics selects the event.
bool notify_subscription_matches (const notify_subscription_t *subscription, const char *type,
                                  const char *div);

//  The rules that ship with the service (issue 6), static.
const notify_rule_t *notify_rules_default (int *count);

#endif
