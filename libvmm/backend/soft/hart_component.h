/* A hart as a machine component: its architectural state (struct
 * rv_hart_state) in the state stream, field by field, little-endian.
 */
#ifndef LIBVMM_BACKEND_SOFT_HART_COMPONENT_H
#define LIBVMM_BACKEND_SOFT_HART_COMPONENT_H

#include "backend/soft/hart.h"
#include "machine/component.h"

/* Version 1: the fields of struct rv_hart_state in declaration order. */
#define RV_HART_STATE_VERSION 1

/* component_ops.save / .load; opaque is the struct rv_hart *. */
int rv_hart_component_save(void *opaque, struct state_writer *w);
int rv_hart_component_load(void *opaque, struct state_reader *r, uint32_t version);

#endif
