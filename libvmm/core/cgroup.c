/* The VM cgroup of cgroup.h: finding the cpu hierarchy, making the
 * directories, writing the knobs. */
#include "core/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

struct vm_cgroup {
    int v2;
    char *dir;
    unsigned n;
};

static unsigned seq; /* distinguishes two VMs of one name in one process */

int vm_cgroup_wanted(const vmm_config_t *cfg)
{
    return vmm_config_cpu_shares(cfg) || vmm_config_cpu_quota(cfg) > 0 ||
           vmm_config_cpu_global_quota(cfg) > 0;
}

/* Writes `text` to dir/file; errors name the path. */
static int write_knob(const char *dir, const char *file, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return vmm_error_errno(errno, "cgroup: cannot open %s for writing", path);
    ssize_t n = write(fd, text, strlen(text));
    int err = n < 0 ? errno : 0;
    close(fd);
    if (n < 0)
        return vmm_error_errno(err, "cgroup: writing '%s' to %s", text, path);
    return 0;
}

static int file_has_word(const char *path, const char *word)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char buf[1024];
    int found = 0;
    while (!found && fscanf(f, "%1023s", buf) == 1)
        found = strcmp(buf, word) == 0;
    fclose(f);
    return found;
}

/* The mount point and hierarchy root of the cgroup2 mount (v2) or of the
 * v1 mount that carries the cpu controller, from /proc/self/mountinfo. */
static int find_mount(int v2, char *mnt, size_t mlen, char *root, size_t rlen)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        char r[1024], m[1024], fstype[64], opts[1024];
        /* id parent major:minor root mountpoint options ... - fstype source superopts */
        char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) != 2 ||
            sscanf(dash + 3, "%63s %*s %1023s", fstype, opts) != 2)
            continue;
        if (v2 ? strcmp(fstype, "cgroup2") != 0 : strcmp(fstype, "cgroup") != 0)
            continue;
        if (!v2) {
            int cpu = 0;
            for (char *save, *t = strtok_r(opts, ",", &save); t; t = strtok_r(NULL, ",", &save))
                cpu |= strcmp(t, "cpu") == 0;
            if (!cpu)
                continue;
        }
        snprintf(mnt, mlen, "%s", m);
        snprintf(root, rlen, "%s", r);
        found = 1;
    }
    fclose(f);
    return found;
}

/* This process's cgroup in the hierarchy (v2: the "0::" line; v1: the line
 * whose controller list has cpu). */
static int own_path(int v2, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1, *path = c2 + 1;
        int match = 0;
        if (v2) {
            match = strncmp(line, "0", 2) == 0 && *ctrls == '\0';
        } else {
            char copy[256];
            snprintf(copy, sizeof(copy), "%s", ctrls);
            for (char *save, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                match |= strcmp(t, "cpu") == 0;
        }
        if (match) {
            snprintf(out, len, "%s", path);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

/* The directory the VM's cgroup goes under, and the version. */
static int find_parent(const char *parent, char *out, size_t len, int *v2)
{
    char mnt[1024], root[1024], own[2048];
    *v2 = 0;
    if (find_mount(1, mnt, sizeof(mnt), root, sizeof(root))) {
        char ctl[1100];
        snprintf(ctl, sizeof(ctl), "%s/cgroup.controllers", mnt);
        *v2 = file_has_word(ctl, "cpu");
    }
    if (!*v2 && !find_mount(0, mnt, sizeof(mnt), root, sizeof(root)))
        return vmm_error(VMM_ENOTSUP,
                         "cgroup: no cgroup hierarchy with the cpu controller is mounted "
                         "(neither cgroup2 with cpu in cgroup.controllers nor a v1 'cpu' "
                         "mount in /proc/self/mountinfo)");
    if (parent) {
        snprintf(out, len, "%s", parent);
        return 0;
    }
    if (!own_path(*v2, own, sizeof(own)))
        return vmm_error(VMM_ENOTSUP, "cgroup: /proc/self/cgroup names no %s cgroup of this process",
                         *v2 ? "v2" : "v1 cpu");
    /* Inside a container the mount's root may be a sub-tree of the path. */
    const char *rel = own;
    size_t rl = strlen(root);
    if (strcmp(root, "/") != 0 && strncmp(own, root, rl) == 0)
        rel = own + rl;
    snprintf(out, len, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel);
    return 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) && errno != EEXIST)
        return vmm_error_errno(errno, "cgroup: cannot create %s", path);
    return 0;
}

const char *vm_cgroup_path(const struct vm_cgroup *cg)
{
    return cg->dir;
}

static void vcpu_dir(const struct vm_cgroup *cg, unsigned i, char *out, size_t len)
{
    snprintf(out, len, "%s/vcpu%u", cg->dir, i);
}

/* libvirt's mapping of shares (2..262144) to cgroup v2 weights (1..10000). */
static unsigned shares_to_weight(unsigned shares)
{
    return 1 + (unsigned)(((uint64_t)shares - 2) * 9999 / 262142);
}

static int write_cap(const struct vm_cgroup *cg, const char *dir, uint64_t period, int64_t quota)
{
    char buf[64];
    if (!period)
        period = 100000;
    if (cg->v2) {
        if (quota > 0)
            snprintf(buf, sizeof(buf), "%lld %llu", (long long)quota, (unsigned long long)period);
        else
            snprintf(buf, sizeof(buf), "max %llu", (unsigned long long)period);
        return write_knob(dir, "cpu.max", buf);
    }
    /* v1: the quota first when lifting it, the period first otherwise, so
     * the kernel never sees a quota below its minimum for the period. */
    char p[32], q[32];
    snprintf(p, sizeof(p), "%llu", (unsigned long long)period);
    snprintf(q, sizeof(q), "%lld", quota > 0 ? (long long)quota : -1LL);
    int rc = write_knob(dir, "cpu.cfs_quota_us", "-1");
    if (!rc)
        rc = write_knob(dir, "cpu.cfs_period_us", p);
    if (!rc && quota > 0)
        rc = write_knob(dir, "cpu.cfs_quota_us", q);
    return rc;
}

int vm_cgroup_apply(struct vm_cgroup *cg, const vmm_config_t *cfg)
{
    unsigned shares = vmm_config_cpu_shares(cfg);
    if (!shares)
        shares = 1024;
    char buf[32];
    int rc;
    if (cg->v2) {
        snprintf(buf, sizeof(buf), "%u", shares_to_weight(shares));
        rc = write_knob(cg->dir, "cpu.weight", buf);
    } else {
        snprintf(buf, sizeof(buf), "%u", shares);
        rc = write_knob(cg->dir, "cpu.shares", buf);
    }
    if (!rc)
        rc = write_cap(cg, cg->dir, vmm_config_cpu_global_period(cfg),
                       vmm_config_cpu_global_quota(cfg));
    for (unsigned i = 0; i < cg->n && !rc; i++) {
        char d[4200];
        vcpu_dir(cg, i, d, sizeof(d));
        rc = write_cap(cg, d, vmm_config_cpu_period(cfg), vmm_config_cpu_quota(cfg));
    }
    return rc;
}

int vm_cgroup_create(const char *parent, const char *vm_name, unsigned nr_vcpus,
                     const vmm_config_t *cfg, struct vm_cgroup **out)
{
    char base[4096];
    int v2;
    int rc = find_parent(parent, base, sizeof(base), &v2);
    if (rc)
        return rc;
    char name[64];
    size_t k = 0;
    for (const char *p = vm_name ? vm_name : "vm"; *p && k < sizeof(name) - 1; p++)
        name[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                            (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'
                        ? *p
                        : '_';
    name[k] = '\0';
    struct vm_cgroup *cg = calloc(1, sizeof(*cg));
    if (!cg || !(cg->dir = malloc(strlen(base) + 128))) {
        free(cg);
        return vmm_error(VMM_ENOMEM, "cgroup path");
    }
    cg->v2 = v2;
    sprintf(cg->dir, "%s/libvmm-%d-%s-%u", base, (int)getpid(), name,
            __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    if ((rc = make_dir(cg->dir))) {
        free(cg->dir);
        free(cg);
        return rc;
    }
    /* v2: a threaded sub-tree, so single threads may join, with cpu on. */
    if (v2) {
        rc = write_knob(cg->dir, "cgroup.type", "threaded");
        if (!rc)
            rc = write_knob(base, "cgroup.subtree_control", "+cpu");
        if (!rc)
            rc = write_knob(cg->dir, "cgroup.subtree_control", "+cpu");
    }
    for (unsigned i = 0; i < nr_vcpus && !rc; i++) {
        char d[4200];
        vcpu_dir(cg, i, d, sizeof(d));
        rc = make_dir(d);
        if (!rc)
            cg->n++;
        if (!rc && v2)
            rc = write_knob(d, "cgroup.type", "threaded");
    }
    if (!rc)
        rc = vm_cgroup_apply(cg, cfg);
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", vmm_last_error());
        vm_cgroup_destroy(cg);
        return vmm_error(rc, "%s", msg);
    }
    *out = cg;
    return 0;
}

int vm_cgroup_add_thread(struct vm_cgroup *cg, unsigned vcpu, int tid)
{
    if (vcpu >= cg->n)
        return vmm_error(VMM_EINVAL, "cgroup: vCPU %u, the VM's cgroup has %u", vcpu, cg->n);
    if (tid <= 0)
        return vmm_error(VMM_EINVAL, "cgroup: vCPU %u has no thread id yet", vcpu);
    char d[4200], buf[32];
    vcpu_dir(cg, vcpu, d, sizeof(d));
    snprintf(buf, sizeof(buf), "%d", tid);
    return write_knob(d, cg->v2 ? "cgroup.threads" : "tasks", buf);
}

/* rmdir, waiting out EBUSY for up to ~200 ms: a joined thread may still be
 * counted in its cgroup for a moment (the kernel wakes pthread_join before
 * the exiting thread leaves its cgroup). */
static void rmdir_settled(const char *d)
{
    for (int i = 0; i < 100; i++) {
        if (rmdir(d) == 0 || errno != EBUSY)
            return;
        usleep(2000);
    }
}

void vm_cgroup_destroy(struct vm_cgroup *cg)
{
    if (!cg)
        return;
    for (unsigned i = 0; i < cg->n; i++) {
        char d[4200];
        vcpu_dir(cg, i, d, sizeof(d));
        rmdir_settled(d);
    }
    rmdir_settled(cg->dir);
    free(cg->dir);
    free(cg);
}
