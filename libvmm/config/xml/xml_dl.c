#define XML_DL_IMPL
#include "config/xml/xml_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#include "util/error.h"

#define LIBXML2_SONAME "libxml2.so.2"

struct xml_dl xml_dl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_error[256];
static atomic_int load_done; /* xml_dl_load() has run */

static void load(void)
{
    void *lib = dlopen(LIBXML2_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof(load_error), "%s", dlerror());
        load_rc = VMM_ENOTSUP;
        return;
    }
    const char *missing = NULL;
#define XML_DL_RESOLVE(name)                                                                 \
    if (!missing && !(xml_dl.name = (__typeof__(xml_dl.name))dlsym(lib, #name)))             \
        missing = #name;
    XML_DL_FUNCTIONS(XML_DL_RESOLVE)
#undef XML_DL_RESOLVE
    if (!missing && !(xml_dl.xmlFree = (xmlFreeFunc *)dlsym(lib, "xmlFree")))
        missing = "xmlFree";
    if (missing) {
        snprintf(load_error, sizeof(load_error), "%s has no %s", LIBXML2_SONAME, missing);
        load_rc = VMM_ENOTSUP;
        return; /* the handle stays open: harmless, and we never retry */
    }
    load_rc = 0;
}

int xml_dl_load(void)
{
    pthread_once(&load_once, load);
    atomic_store(&load_done, 1);
    if (load_rc)
        return vmm_error(load_rc, "XML support needs %s: %s", LIBXML2_SONAME, load_error);
    return 0;
}

int xml_dl_available(void)
{
    /* Loaded (or found wanting) already: that answer stands. */
    if (atomic_load(&load_done))
        return load_rc == 0;
    /* Else look without keeping it: libxml2 costs megabytes once mapped. */
    void *lib = dlopen(LIBXML2_SONAME, RTLD_LAZY | RTLD_LOCAL);
    if (!lib)
        return 0;
    int ok = 1;
#define XML_DL_PROBE(name)                                                                   \
    if (ok && !dlsym(lib, #name))                                                            \
        ok = 0;
    XML_DL_FUNCTIONS(XML_DL_PROBE)
#undef XML_DL_PROBE
    if (ok && !dlsym(lib, "xmlFree"))
        ok = 0;
    dlclose(lib);
    return ok;
}
