/* Snapshot files: the public calls are in include/vmm/snapshot.h, the
 * format in doc/snapshot-format.md. Above core: a snapshot is built from a
 * VM's machine (components, memory) and restored through core's restore
 * hooks (vm_create_with). */
#ifndef LIBVMM_SNAPSHOT_SNAPSHOT_H
#define LIBVMM_SNAPSHOT_SNAPSHOT_H

#define SNAPSHOT_FORMAT_VERSION 1

#endif
