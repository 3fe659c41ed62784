/* Safe libxml2 parsing of untrusted documents, shared by the domain reader
 * and the metadata blob. */
#ifndef LIBVMM_CONFIG_XML_DOC_H
#define LIBVMM_CONFIG_XML_DOC_H

#include <libxml/tree.h>
#include <stddef.h>

#include "config/diag.h"
#include "config/xml/xml_dl.h"

/* Parses `len` bytes into a tree. No network, no DTD loading, no entity
 * substitution, and any DOCTYPE stops the parse (so no entity can be
 * declared, let alone expanded). Documents above VMM_XML_MAX_SIZE are
 * refused. libxml2's messages become problems in `d` ("line L, column C:
 * ...") and nothing is printed. Returns the document (xmlFreeDoc()) or NULL
 * after recording at least one error. Thread-safe. */
xmlDocPtr xml_doc_read(const char *buf, size_t len, struct diag *d);

/* Runs `fn(arg)` with this thread's libxml2 error handlers silenced, then
 * restores them: for tree calls (copy, save) that may report through the
 * global handlers. */
void xml_quiet_call(void (*fn)(void *), void *arg);

#endif
