/* Snapshot files: the public calls are in include/vmm/snapshot.h, the
 * format in doc/snapshot-format.md. Above core: a snapshot is built from a
 * VM's machine (components, memory) and restored through core's restore
 * hooks (vm_create_with). */
#ifndef LIBVMM_SNAPSHOT_SNAPSHOT_H
#define LIBVMM_SNAPSHOT_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

#define SNAPSHOT_FORMAT_VERSION 1

struct vmm_vm;

/* Writing a snapshot in three steps, so the slow middle one can run off
 * the loop thread (save_async.c) while the first and last stay on it. */
struct snapshot_writer;

/* Loop thread, the VM paused or defined (it must stay so until the write
 * ends): checks what can be saved, takes the configuration and every
 * component's state, and opens a temporary file beside `path`, or uses
 * `fd` (a regular file; written from offset 0, truncated to the
 * snapshot's size, never closed). Exactly one of path / fd. */
int snapshot_writer_new(struct vmm_vm *vm, const char *path, int fd, struct snapshot_writer **out);
/* Any thread: guest memory (sparse), the region table, the header, fsync.
 * `done` (may be NULL) grows by the guest memory bytes examined; a non-zero
 * `*cancel` stops the write with VMM_ECANCELED. */
int snapshot_writer_write(struct snapshot_writer *w, _Atomic uint64_t *done,
                          const _Atomic int *cancel);
/* Makes the writer write a diff: only the pages set in only[region] (one
 * bit a page; the writer takes the bitmaps and sets only[] to NULL), with
 * `parent_path` and `parent_id` (the parent's snapshot_writer_id) naming
 * the snapshot it applies to. Before snapshot_writer_write. */
void snapshot_writer_set_diff(struct snapshot_writer *w, uint64_t **only, const char *parent_path,
                              uint32_t parent_id);
/* The written file's identity (its header checksum), after the write. */
uint32_t snapshot_writer_id(const struct snapshot_writer *w);
/* Guest memory bytes snapshot_writer_write examines in all. */
uint64_t snapshot_writer_total(const struct snapshot_writer *w);
/* Path mode: renames the file into place (it appears complete or not at
 * all) and syncs the directory. fd mode: nothing. */
int snapshot_writer_commit(struct snapshot_writer *w);
/* Frees; removes the temporary file of a write that was not committed. */
void snapshot_writer_free(struct snapshot_writer *w);

/* save.c: a live migration takes over the dirty log; a diff chain of the
 * VM ends there. */
void save_tracking_interrupt(struct vmm_vm *vm);

#endif
