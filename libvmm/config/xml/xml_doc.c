#include "config/xml/xml_doc.h"

#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <pthread.h>
#include <string.h>

#include "util/error.h"
#include "vmm/config.h"

/* xmlInitParser() must run once before threads parse concurrently. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libxml(void)
{
    xmlInitParser();
}

struct read_state {
    struct diag *d;
    int doctype;
};

/* libxml2 messages end with a newline; drop it (and other trailing blanks). */
static int msg_len(const char *m)
{
    size_t n = m ? strlen(m) : 0;
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return (int)(n > 400 ? 400 : n);
}

static void on_error(void *user, xmlErrorPtr err)
{
    xmlParserCtxtPtr ctxt = user;
    struct read_state *st = ctxt ? ctxt->_private : NULL;
    if (!st || !err)
        return;
    const char *m = err->message ? err->message : "malformed XML";
    if (err->level == XML_ERR_WARNING)
        diag_warn(st->d, "line %d, column %d: %.*s", err->line, err->int2, msg_len(m), m);
    else
        diag_error(st->d, VMM_EFORMAT, "line %d, column %d: %.*s", err->line, err->int2,
                   msg_len(m), m);
}

/* Called at "<!DOCTYPE name", before any internal subset is read: a domain
 * never has one, and refusing it here keeps entity declarations (billion
 * laughs, external entities) from ever being parsed. */
static void on_doctype(void *user, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    xmlParserCtxtPtr ctxt = user;
    struct read_state *st = ctxt->_private;
    st->doctype = 1;
    diag_error(st->d, VMM_EFORMAT,
               "line %d: DOCTYPE declarations are not allowed (no DTDs or entities in a domain)",
               xmlSAX2GetLineNumber(ctxt));
    xmlStopParser(ctxt);
}

static void silent_generic(void *ctx, const char *msg, ...) {}
static void silent_structured(void *ctx, xmlErrorPtr err) {}

void xml_quiet_call(void (*fn)(void *), void *arg)
{
    pthread_once(&init_once, init_libxml);
    /* These are per-thread in a threaded libxml2: restoring them leaves
     * nothing changed for the rest of the program. */
    xmlGenericErrorFunc old_generic = xmlGenericError;
    void *old_generic_ctx = xmlGenericErrorContext;
    xmlStructuredErrorFunc old_structured = xmlStructuredError;
    void *old_structured_ctx = xmlStructuredErrorContext;
    xmlSetGenericErrorFunc(NULL, silent_generic);
    xmlSetStructuredErrorFunc(NULL, silent_structured);
    fn(arg);
    xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
    xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);
}

struct parse_call {
    const char *buf;
    size_t len;
    struct diag *d;
    xmlDocPtr doc;
};

static void do_parse(void *arg)
{
    struct parse_call *pc = arg;
    struct read_state st = {.d = pc->d};
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        diag_error(pc->d, VMM_ENOMEM, "out of memory creating an XML parser");
        return;
    }
    ctxt->_private = &st;
    ctxt->sax->serror = on_error;
    ctxt->sax->internalSubset = on_doctype;
    ctxt->sax->externalSubset = NULL;
    /* Deliberately absent: XML_PARSE_NOENT (substitute entities),
     * XML_PARSE_DTDLOAD / DTDATTR / DTDVALID (read DTDs), XML_PARSE_HUGE
     * (lift libxml2's depth and size limits), XML_PARSE_XINCLUDE. */
    int opts = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES;
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, pc->buf, (int)pc->len, "domain.xml", NULL, opts);
    int ok = doc && ctxt->wellFormed && !st.doctype;
    if (!ok) {
        if (!pc->d->errors)
            diag_error(pc->d, VMM_EFORMAT, "line %d: malformed XML", ctxt->input ? ctxt->input->line : 0);
        xmlFreeDoc(doc);
        doc = NULL;
    } else if (doc->intSubset || doc->extSubset) {
        diag_error(pc->d, VMM_EFORMAT, "DOCTYPE declarations are not allowed");
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    pc->doc = doc;
}

xmlDocPtr xml_doc_read(const char *buf, size_t len, struct diag *d)
{
    if (len > VMM_XML_MAX_SIZE) {
        diag_error(d, VMM_ERANGE, "document of %zu bytes exceeds the limit of %u bytes (10 MiB)",
                   len, VMM_XML_MAX_SIZE);
        return NULL;
    }
    if (!buf || len == 0) {
        diag_error(d, VMM_EFORMAT, "empty document");
        return NULL;
    }
    struct parse_call pc = {.buf = buf, .len = len, .d = d};
    xml_quiet_call(do_parse, &pc);
    return pc.doc;
}
