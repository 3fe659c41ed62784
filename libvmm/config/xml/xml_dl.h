/* libxml2, loaded on first use. libxml2 drags in ICU and libstdc++ (about
 * 2.7 MB of resident memory just by being mapped and relocated), which a VMM
 * that never reads XML should not carry: libvmm therefore does not link it,
 * and the first XML call dlopen()s it and fills this table. The XML code
 * calls libxml2 by its usual names; the macros below route those names
 * through the table. Include this after any libxml2 header.
 */
#ifndef LIBVMM_CONFIG_XML_DL_H
#define LIBVMM_CONFIG_XML_DL_H

#include <libxml/SAX2.h>
#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>
#include <libxml/xmlstring.h>

/* X(name) for every libxml2 function libvmm calls. */
#define XML_DL_FUNCTIONS(X)                                                                  \
    X(xmlAddChild) X(xmlBufferContent) X(xmlBufferCreate) X(xmlBufferFree)                  \
    X(xmlBufferLength) X(xmlCheckUTF8) X(xmlCtxtReadMemory) X(xmlDocCopyNode)               \
    X(xmlDocGetRootElement) X(xmlDocSetRootElement) X(xmlFreeDoc) X(xmlFreeNode)           \
    X(xmlFreeParserCtxt) X(xmlGetLineNo) X(xmlGetNoNsProp) X(xmlInitParser)                \
    X(xmlIsBlankNode) X(xmlNewDoc) X(xmlNewNode) X(xmlNewParserCtxt) X(xmlNewProp)         \
    X(xmlNewTextChild) X(xmlNodeDump) X(xmlNodeGetContent) X(xmlSAX2GetLineNumber)          \
    X(xmlSaveClose) X(xmlSaveDoc) X(xmlSaveToBuffer) X(xmlSetGenericErrorFunc)              \
    X(xmlSetStructuredErrorFunc) X(xmlStopParser) X(xmlUnlinkNode)                          \
    X(__xmlGenericError) X(__xmlGenericErrorContext) X(__xmlStructuredError)                \
    X(__xmlStructuredErrorContext)

struct xml_dl {
#define XML_DL_MEMBER(name) __typeof__(name) *name;
    XML_DL_FUNCTIONS(XML_DL_MEMBER)
#undef XML_DL_MEMBER
    xmlFreeFunc *xmlFree; /* libxml2's global deallocator variable */
};

extern struct xml_dl xml_dl;

/* Loads libxml2 once (thread-safe). 0, or VMM_ENOTSUP naming the library
 * and dlerror() when it or one of its functions is missing. */
int xml_dl_load(void);

/* 1 when libxml2 can be loaded with every function libvmm needs, else 0.
 * Does not keep it loaded when xml_dl_load() has not run yet. Any thread. */
int xml_dl_available(void);

#ifndef XML_DL_IMPL
#define xmlAddChild (*xml_dl.xmlAddChild)
#define xmlBufferContent (*xml_dl.xmlBufferContent)
#define xmlBufferCreate (*xml_dl.xmlBufferCreate)
#define xmlBufferFree (*xml_dl.xmlBufferFree)
#define xmlBufferLength (*xml_dl.xmlBufferLength)
#define xmlCheckUTF8 (*xml_dl.xmlCheckUTF8)
#define xmlCtxtReadMemory (*xml_dl.xmlCtxtReadMemory)
#define xmlDocCopyNode (*xml_dl.xmlDocCopyNode)
#define xmlDocGetRootElement (*xml_dl.xmlDocGetRootElement)
#define xmlDocSetRootElement (*xml_dl.xmlDocSetRootElement)
#define xmlFreeDoc (*xml_dl.xmlFreeDoc)
#define xmlFreeNode (*xml_dl.xmlFreeNode)
#define xmlFreeParserCtxt (*xml_dl.xmlFreeParserCtxt)
#define xmlGetLineNo (*xml_dl.xmlGetLineNo)
#define xmlGetNoNsProp (*xml_dl.xmlGetNoNsProp)
#define xmlInitParser (*xml_dl.xmlInitParser)
#define xmlIsBlankNode (*xml_dl.xmlIsBlankNode)
#define xmlNewDoc (*xml_dl.xmlNewDoc)
#define xmlNewNode (*xml_dl.xmlNewNode)
#define xmlNewParserCtxt (*xml_dl.xmlNewParserCtxt)
#define xmlNewProp (*xml_dl.xmlNewProp)
#define xmlNewTextChild (*xml_dl.xmlNewTextChild)
#define xmlNodeDump (*xml_dl.xmlNodeDump)
#define xmlNodeGetContent (*xml_dl.xmlNodeGetContent)
#define xmlSAX2GetLineNumber (*xml_dl.xmlSAX2GetLineNumber)
#define xmlSaveClose (*xml_dl.xmlSaveClose)
#define xmlSaveDoc (*xml_dl.xmlSaveDoc)
#define xmlSaveToBuffer (*xml_dl.xmlSaveToBuffer)
#define xmlSetGenericErrorFunc (*xml_dl.xmlSetGenericErrorFunc)
#define xmlSetStructuredErrorFunc (*xml_dl.xmlSetStructuredErrorFunc)
#define xmlStopParser (*xml_dl.xmlStopParser)
#define xmlUnlinkNode (*xml_dl.xmlUnlinkNode)
/* libxml2's per-thread error handler slots (xmlGenericError & co. expand
 * to calls of these). */
#define __xmlGenericError (*xml_dl.__xmlGenericError)
#define __xmlGenericErrorContext (*xml_dl.__xmlGenericErrorContext)
#define __xmlStructuredError (*xml_dl.__xmlStructuredError)
#define __xmlStructuredErrorContext (*xml_dl.__xmlStructuredErrorContext)
#undef xmlFree
#define xmlFree (*xml_dl.xmlFree)
#endif

#endif
