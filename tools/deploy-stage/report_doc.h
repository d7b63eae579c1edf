/* report_doc.h — deploy-stage report DEPLOY: one document built from the
 * journal (report_doc.c), printed as it is (json) or rendered (text:
 * report_text.c, html: report_html.c). Every function returning char * or
 * cJSON * hands it to the caller. The document's members are listed in
 * deploy-stage(1), "THE DEPLOY REPORT". */
#ifndef DEPLOY_STAGE_REPORT_DOC_H
#define DEPLOY_STAGE_REPORT_DOC_H

#include "deploy-stage.h"

/* The report of deployment d of view, every string in it redacted. */
cJSON *deploy_report_doc(const struct journal_view *view, const struct deployment *d, const struct lock_info *li,
			 const char *service);
/* The document as readable text, and as one self-contained HTML page that
 * is also well-formed XML (no script, no external asset). */
char *deploy_report_text(const cJSON *doc);
char *deploy_report_html(const cJSON *doc);
/* The history (an array of deployment summaries) as an HTML page. */
char *history_html_page(const cJSON *rows, const char *service);
/* Writes text to -o FILE (atomically, never through a symbolic link) or to
 * stdout; EXIT_OK, or EXIT_UNKNOWN after one line on stderr. */
int report_write(const struct run *r, const char *text);

/* html escaping into b: & < > " ' */
void html_escaped(struct buf *b, const char *s);

#endif
