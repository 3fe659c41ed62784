#include "config/xml/metadata.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/xml/xml_doc.h"
#include "util/error.h"

static int has_element_child(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return 1;
    return 0;
}

/* Drops indentation: blank text nodes beside elements. A blank text that is
 * an element's only content is data and stays. */
static void strip_indentation(xmlNodePtr n)
{
    int elems = has_element_child(n);
    for (xmlNodePtr c = n->children, next; c; c = next) {
        next = c->next;
        if (c->type == XML_TEXT_NODE && elems && xmlIsBlankNode(c)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        } else if (c->type == XML_ELEMENT_NODE) {
            strip_indentation(c);
        }
    }
}

/* Appends the serialisation of one element (made self-contained by copying it
 * into a document of its own, which declares the namespaces it uses). */
static int dump_element(xmlNodePtr el, xmlBufferPtr out)
{
    xmlDocPtr tmp = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr copy = tmp ? xmlDocCopyNode(el, tmp, 1) : NULL;
    if (!copy) {
        xmlFreeDoc(tmp);
        return vmm_error(VMM_ENOMEM, "copying metadata");
    }
    xmlDocSetRootElement(tmp, copy);
    strip_indentation(copy);
    int n = xmlNodeDump(out, tmp, copy, 0, 0);
    xmlFreeDoc(tmp);
    return n < 0 ? vmm_error(VMM_ENOMEM, "serialising metadata") : 0;
}

int metadata_is_libvmm(xmlNodePtr n)
{
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           !strcmp((const char *)n->ns->href, LIBVMM_XML_NS);
}

int metadata_from_node(xmlNodePtr meta, char **out)
{
    *out = NULL;
    xmlBufferPtr buf = xmlBufferCreate();
    if (!buf)
        return vmm_error(VMM_ENOMEM, "serialising metadata");
    int rc = 0;
    for (xmlNodePtr c = meta->children; c && !rc; c = c->next) {
        if (c->type == XML_TEXT_NODE && !xmlIsBlankNode(c))
            rc = vmm_error(VMM_EFORMAT, "metadata holds text; only namespaced elements are allowed");
        else if (c->type == XML_ELEMENT_NODE && !c->ns)
            rc = vmm_error(VMM_EFORMAT,
                           "metadata element <%.64s> has no XML namespace (libvirt requires one)",
                           (const char *)c->name);
        else if (c->type == XML_ELEMENT_NODE && !metadata_is_libvmm(c))
            rc = dump_element(c, buf);
    }
    if (!rc && xmlBufferLength(buf) > 0) {
        *out = strdup((const char *)xmlBufferContent(buf));
        if (!*out)
            rc = vmm_error(VMM_ENOMEM, "copying metadata");
    }
    xmlBufferFree(buf);
    return rc;
}

/* Parses a blob wrapped in <metadata>; NULL (and the error set) on failure. */
static xmlDocPtr parse_blob(const char *blob)
{
    static const char open[] = "<metadata>", close[] = "</metadata>";
    size_t n = strlen(blob);
    char *wrapped = malloc(sizeof(open) + n + sizeof(close));
    if (!wrapped) {
        vmm_error(VMM_ENOMEM, "parsing metadata");
        return NULL;
    }
    memcpy(wrapped, open, sizeof(open) - 1);
    memcpy(wrapped + sizeof(open) - 1, blob, n);
    memcpy(wrapped + sizeof(open) - 1 + n, close, sizeof(close));
    struct diag d;
    diag_init(&d);
    xmlDocPtr doc = xml_doc_read(wrapped, strlen(wrapped), &d);
    free(wrapped);
    if (!doc) {
        int rc = diag_finish(&d, NULL);
        vmm_error(rc == VMM_ENOMEM ? rc : VMM_EFORMAT, "metadata is not well-formed XML: %s",
                  vmm_last_error());
        return NULL;
    }
    diag_free(&d);
    return doc;
}

int vmm_config_set_metadata(vmm_config_t *c, const char *frag)
{
    if (!frag) {
        free(c->metadata);
        c->metadata = NULL;
        return 0;
    }
    int loaded = xml_dl_load();
    if (loaded)
        return loaded;
    xmlDocPtr doc = parse_blob(frag);
    if (!doc)
        return vmm_error(VMM_EFORMAT, "%s", vmm_last_error());
    for (xmlNodePtr el = xmlDocGetRootElement(doc)->children; el; el = el->next)
        if (metadata_is_libvmm(el)) {
            xmlFreeDoc(doc);
            return vmm_error(VMM_EINVAL, "metadata in libvmm's namespace (%s) comes from the "
                             "config's own settings (vmm_config_set_vsock)", LIBVMM_XML_NS);
        }
    char *blob;
    int rc = metadata_from_node(xmlDocGetRootElement(doc), &blob);
    xmlFreeDoc(doc);
    if (rc)
        return rc;
    free(c->metadata);
    c->metadata = blob;
    return 0;
}

const char *vmm_config_metadata(const vmm_config_t *c) { return c->metadata; }

int metadata_append(xmlNodePtr parent, const char *blob)
{
    xmlDocPtr doc = parse_blob(blob);
    if (!doc)
        return VMM_EFORMAT;
    int rc = 0;
    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c && !rc; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        xmlNodePtr copy = xmlDocCopyNode(c, parent->doc, 1);
        if (!copy || !xmlAddChild(parent, copy)) {
            xmlFreeNode(copy);
            rc = vmm_error(VMM_ENOMEM, "copying metadata");
        }
    }
    xmlFreeDoc(doc);
    return rc;
}
