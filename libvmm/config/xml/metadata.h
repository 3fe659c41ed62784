/* <metadata>: foreign, namespaced elements kept as a serialised blob. */
#ifndef LIBVMM_CONFIG_METADATA_H
#define LIBVMM_CONFIG_METADATA_H

#include <libxml/tree.h>

#include "config/xml/xml_doc.h"

/* Serialises the element children of `meta` (each with the namespace
 * declarations it needs) into a malloc'd blob; *out is NULL when there are
 * none. Whitespace-only text between elements is dropped so the blob is the
 * same however the document was indented. VMM_EFORMAT (vmm_last_error()
 * names the problem) for text or an element without a namespace. */
int metadata_from_node(xmlNodePtr meta, char **out);

/* Parses `blob` and appends copies of its elements to `parent`. */
int metadata_append(xmlNodePtr parent, const char *blob);

#endif
