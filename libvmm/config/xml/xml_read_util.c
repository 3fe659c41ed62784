/* Problem reporting and child/attribute tables for the domain XML reader. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/xml/xml_read.h"
#include "util/error.h"

#define PATH_MAX_LEN 512

/* "/domain/devices/disk" or ".../disk/@cache"; names keep their prefix. */
static void node_path(xmlNodePtr n, char *buf, size_t size)
{
    const char *parts[64];
    int attr = n->type == XML_ATTRIBUTE_NODE;
    int depth = 0, truncated = 0;
    for (xmlNodePtr p = n; p && (p->type == XML_ELEMENT_NODE || p->type == XML_ATTRIBUTE_NODE);
         p = p->parent) {
        if (depth == 64) {
            truncated = 1;
            break;
        }
        parts[depth++] = (const char *)p->name;
    }
    size_t len = 0;
    buf[0] = '\0';
    if (truncated)
        len += (size_t)snprintf(buf, size, "/...");
    for (int i = depth - 1; i >= 0 && len < size; i--) {
        xmlNodePtr p = n;
        for (int k = 0; k < i; k++)
            p = p->parent;
        const char *prefix = p->ns && p->ns->prefix ? (const char *)p->ns->prefix : NULL;
        len += (size_t)snprintf(buf + len, size - len, "/%s%s%s%s", (i == 0 && attr) ? "@" : "",
                                prefix ? prefix : "", prefix ? ":" : "", parts[i]);
    }
}

static long node_line(xmlNodePtr n)
{
    if (n->type == XML_ATTRIBUTE_NODE)
        n = n->parent;
    return n ? xmlGetLineNo(n) : 0;
}

static void report(struct rd *r, xmlNodePtr n, int code, int warn, const char *fmt, va_list ap)
{
    char path[PATH_MAX_LEN], msg[1024];
    node_path(n, path, sizeof(path));
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (warn)
        diag_warn(r->d, "%s, line %ld: %s", path, node_line(n), msg);
    else
        diag_error(r->d, code, "%s, line %ld: %s", path, node_line(n), msg);
}

void rd_error(struct rd *r, xmlNodePtr n, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(r, n, code, 0, fmt, ap);
    va_end(ap);
}

void rd_warn(struct rd *r, xmlNodePtr n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(r, n, 0, 1, fmt, ap);
    va_end(ap);
}

void rd_fail(struct rd *r, xmlNodePtr n, int code)
{
    rd_error(r, n, code, "%s", vmm_last_error());
}

void rd_unsupported(struct rd *r, xmlNodePtr n, const char *detail)
{
    if (r->flags & VMM_XML_LENIENT)
        rd_warn(r, n, "not supported%s%s, ignored", detail ? ": " : "", detail ? detail : "");
    else
        rd_error(r, n, VMM_ENOTSUP, "not supported%s%s", detail ? ": " : "", detail ? detail : "");
}

void rd_unsupported_value(struct rd *r, xmlNodePtr n, const char *detail)
{
    r->skips++;
    rd_unsupported(r, n, detail);
}

static const char *own(struct rd *r, xmlChar *s)
{
    if (!s)
        return NULL;
    if (r->n_owned == r->cap_owned) {
        size_t cap = r->cap_owned ? r->cap_owned * 2 : 64;
        void **grown = realloc(r->owned, cap * sizeof(void *));
        if (!grown) {
            xmlFree(s);
            r->d->oom = 1;
            return NULL;
        }
        r->owned = grown;
        r->cap_owned = cap;
    }
    r->owned[r->n_owned++] = s;
    return (const char *)s;
}

const char *rd_attr(struct rd *r, xmlNodePtr n, const char *name)
{
    return own(r, xmlGetNoNsProp(n, BAD_CAST name));
}

const char *rd_need_attr(struct rd *r, xmlNodePtr n, const char *name)
{
    const char *v = rd_attr(r, n, name);
    if (!v)
        rd_error(r, n, VMM_EINVAL, "attribute '%s' missing", name);
    return v;
}

const char *rd_text(struct rd *r, xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            rd_error(r, c, VMM_EFORMAT, "unexpected element inside <%s> (text expected)",
                     (const char *)n->name);
            return NULL;
        }
    const char *t = own(r, xmlNodeGetContent(n));
    return t ? t : "";
}

const char *rd_path(struct rd *r, xmlNodePtr n, const char *value)
{
    if (!value)
        return NULL;
    if (value[0] != '/') {
        rd_error(r, n, VMM_EINVAL, "path '%.256s' is not absolute", value);
        return NULL;
    }
    return value;
}

static int in_list(const char *const *list, const char *name)
{
    for (; list && *list; list++)
        if (!strcmp(*list, name))
            return 1;
    return 0;
}

void rd_attrs(struct rd *r, xmlNodePtr n, const char *const *ok, const char *const *ignored)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        const char *name = (const char *)a->name;
        if (!a->ns && in_list(ok, name))
            continue;
        if (!a->ns && in_list(ignored, name))
            rd_warn(r, (xmlNodePtr)a, "ignored (no effect in libvmm)");
        else
            rd_unsupported(r, (xmlNodePtr)a, NULL);
    }
}

void rd_children(struct rd *r, xmlNodePtr n, const struct rd_child *table)
{
    size_t count = 0;
    while (table[count].name)
        count++;
    unsigned char seen[64] = {0};
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE) {
            if (!xmlIsBlankNode(c))
                rd_error(r, n, VMM_EFORMAT, "unexpected text inside <%s>", (const char *)n->name);
            continue;
        }
        if (c->type != XML_ELEMENT_NODE)
            continue; /* comments, processing instructions */
        size_t i = 0;
        if (!c->ns)
            while (i < count && strcmp(table[i].name, (const char *)c->name))
                i++;
        else
            i = count;
        if (i == count) {
            rd_unsupported(r, c, NULL);
            continue;
        }
        if (!table[i].repeat && i < sizeof(seen) && seen[i]++) {
            rd_error(r, c, VMM_EINVAL, "<%s> appears more than once", table[i].name);
            continue;
        }
        if (table[i].kind == RD_IGNORE)
            rd_warn(r, c, "ignored (%s)", table[i].why ? table[i].why : "no effect in libvmm");
        else
            table[i].fn(r, c);
    }
}
