/* The reports as one self-contained HTML file (issue 13).
 *
 * The page lives in src/lib/analysis/report.html: HTML, CSS and a vanilla-JavaScript renderer
 * that draws tables and inline SVG plots from the report's JSON. It is kept there, as the file
 * it is, rather than as C string literals (where every quote and backslash of the JavaScript
 * would need escaping and clang-format would re-wrap it). The Makefile turns it into
 * build/gen/report_html.inc, a comma-separated list of its bytes made by od and sed (POSIX
 * tools, no generator to build), which this file includes; html.o depends on it in every build
 * mode (release, asan, tsan, fuzz) and `make lint` generates it before clang-tidy reads this
 * file. -Ibuild/gen is on the include path of every mode.
 *
 * rd_report_html copies the template, replacing the marker @@KIND@@ by the kind (HTML-escaped:
 * it lands in text and in a double-quoted attribute) and @@DATA@@ by the JSON, which sits in a
 * <script type="application/json"> element. The JSON is escaped so that no input can end that
 * element early or change how the HTML parser reads it: every '<', '>' and '&' becomes \u003c,
 * \u003e, \u0026 (so neither "</script" nor "<!--" can occur, in any letter case), U+2028 and
 * U+2029 become \u2028 and \u2029, and control characters other than tab, newline and carriage
 * return become \u00XX. Valid JSON can hold these characters only inside strings, where the
 * escapes decode to the same text, so JSON.parse gives back the very value; invalid JSON stays
 * invalid and still cannot break out. Output is appended to b; an allocation failure leaves
 * b->oom set (rd_buf's sticky flag), as for the other writers. */
#include <string.h>

#include "analysis_int.h"

static const unsigned char report_tpl[] = {
#include "report_html.inc"
};

void an_html_text(rd_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '&': rd_buf_puts(b, "&amp;"); break;
        case '<': rd_buf_puts(b, "&lt;"); break;
        case '>': rd_buf_puts(b, "&gt;"); break;
        case '"': rd_buf_puts(b, "&quot;"); break;
        case '\'': rd_buf_puts(b, "&#39;"); break;
        default: rd_buf_putc(b, *p);
        }
    }
}

void an_html_json(rd_buf *b, const char *json, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)json;
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        bool ls = c == 0xe2 && i + 2 < len && p[i + 1] == 0x80 && (p[i + 2] == 0xa8 || p[i + 2] == 0xa9);
        bool esc = c == '<' || c == '>' || c == '&' || (c < 0x20 && c != '\t' && c != '\n' && c != '\r');
        if (!ls && !esc) {
            continue;
        }
        rd_buf_append(b, p + run, i - run);
        if (ls) {
            rd_buf_puts(b, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
            i += 2;
        } else {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf], '\0'};
            rd_buf_append(b, u, 6);
        }
        run = i + 1;
    }
    rd_buf_append(b, p + run, len - run);
}

void rd_report_html(rd_buf *b, const char *kind, const char *json, size_t len)
{
    const char *t = (const char *)report_tpl;
    size_t n = sizeof(report_tpl) - 1; /* the generated list ends with a NUL */
    size_t i = 0;
    while (i < n) {
        const char *at = memmem(t + i, n - i, "@@", 2);
        if (!at) {
            rd_buf_append(b, t + i, n - i);
            break;
        }
        size_t k = (size_t)(at - t);
        rd_buf_append(b, t + i, k - i);
        if (n - k >= 8 && memcmp(at, "@@KIND@@", 8) == 0) {
            an_html_text(b, kind);
            i = k + 8;
        } else if (n - k >= 8 && memcmp(at, "@@DATA@@", 8) == 0) {
            if (json && len > 0) {
                an_html_json(b, json, len);
            } else {
                rd_buf_puts(b, "null");
            }
            i = k + 8;
        } else {
            rd_buf_append(b, at, 2);
            i = k + 2;
        }
    }
}
