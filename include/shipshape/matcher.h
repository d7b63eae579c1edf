/* matcher.h — label matchers in Alertmanager's syntax, for silences,
 * maintenance windows and inhibit rules:
 *
 *   name="value"   the label equals value (an absent label is "")
 *   name!="value"  it does not
 *   name=~"re"     it matches the regular expression, anchored at both ends
 *   name!~"re"     it does not
 *
 * The value may be unquoted when it holds no space, comma, quote, brace,
 * =, ! or ~;
 * a quoted one takes \" \\ and \n escapes. Regular expressions are POSIX
 * extended ones (regcomp(3)), anchored as Alertmanager anchors its own:
 * "web.*" matches "webserver", not "a webserver"; a repetition of a
 * repetition ("a++", "a*{2}") is refused. A list is written one
 * matcher per argument, or comma-separated inside optional braces:
 * {alertname="Down",severity=~"critical|page"}. */
#ifndef SHIPSHAPE_MATCHER_H
#define SHIPSHAPE_MATCHER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

enum matcher_op { MATCH_EQ, MATCH_NE, MATCH_RE, MATCH_NRE };

struct matcher {
	char *name, *value;
	enum matcher_op op;
	regex_t re; /* MATCH_RE, MATCH_NRE */
};

struct matchers {
	struct matcher *m;
	size_t n;
};

/* Parses text (one matcher, or a list as above) and appends to ms.
 * Returns 0, or -1 with a message in err naming what is wrong; ms keeps
 * what it had. */
int matchers_parse(struct matchers *ms, const char *text, char *err, size_t errsize);
/* True when every matcher holds for labels (an object of strings); an
 * empty list matches everything. */
bool matchers_match(const struct matchers *ms, const cJSON *labels);
/* The list in canonical syntax: {a="b", c=~"d"} (a new string). */
char *matchers_format(const struct matchers *ms);
/* As Alertmanager's API v2 has them: [{"name","value","isRegex","isEqual"}]. */
cJSON *matchers_to_json(const struct matchers *ms);
/* The reverse; -1 with err on a malformed list. */
int matchers_from_json(struct matchers *ms, const cJSON *list, char *err, size_t errsize);
void matchers_free(struct matchers *ms);

#endif
