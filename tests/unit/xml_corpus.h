/* Helpers for the XML tests: the corpus in tests/xml/ (directory given as
 * argv[1]), reading files, and the "expect:" comments in them. */
#ifndef TESTS_UNIT_XML_CORPUS_H
#define TESTS_UNIT_XML_CORPUS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *corpus_dir = "tests/xml";

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
static inline char *corpus_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = g;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* The .xml files of corpus_dir/sub, sorted; a NULL-terminated malloc'd
 * array of malloc'd full paths. */
static inline int corpus_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline char **corpus_list(const char *sub)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", corpus_dir, sub);
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t n = 0;
    char **list = calloc(256, sizeof(char *));
    struct dirent *e;
    while (list && (e = readdir(d)) && n < 255) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".xml"))
            continue;
        list[n] = malloc(strlen(dir) + l + 2);
        sprintf(list[n++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (list)
        qsort(list, n, sizeof(char *), corpus_cmp);
    return list;
}

static inline void corpus_free(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

/* The text after "KEY: " up to " -->" in doc, malloc'd, or NULL. */
static inline char *corpus_expect(const char *doc, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "%s: ", key);
    const char *p = strstr(doc, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    const char *end = strstr(p, " -->");
    return end ? strndup(p, (size_t)(end - p)) : NULL;
}

static inline void corpus_init(int argc, char **argv)
{
    if (argc > 1)
        corpus_dir = argv[1];
}

#endif
