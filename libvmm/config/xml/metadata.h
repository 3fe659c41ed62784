/* <metadata>: foreign, namespaced elements kept as a serialised blob. */
#ifndef LIBVMM_CONFIG_METADATA_H
#define LIBVMM_CONFIG_METADATA_H

#include <libxml/tree.h>

#include "config/xml/xml_doc.h"

/* libvmm's own XML namespace inside <metadata>: one element,
 * <libvmm:domain xmlns:libvmm=LIBVMM_XML_NS>, holding host-side choices
 * libvirt has no element for (<libvmm:vsock socket='PATH'/>). The reader
 * takes it into the config, the writer makes it from the config: it is
 * never part of the opaque blob. */
#define LIBVMM_XML_NS "https://libvmm.org/xmlns/domain/1"
#define LIBVMM_XML_PREFIX "libvmm"

/* Whether n is an element in libvmm's namespace. */
int metadata_is_libvmm(xmlNodePtr n);

/* Serialises the element children of `meta` (each with the namespace
 * declarations it needs; libvmm's own element left out) into a malloc'd
 * blob; *out is NULL when there are
 * none. Whitespace-only text between elements is dropped so the blob is the
 * same however the document was indented. VMM_EFORMAT (vmm_last_error()
 * names the problem) for text or an element without a namespace. */
int metadata_from_node(xmlNodePtr meta, char **out);

/* Parses `blob` and appends copies of its elements to `parent`. */
int metadata_append(xmlNodePtr parent, const char *blob);

#endif
