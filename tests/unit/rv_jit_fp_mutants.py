#!/usr/bin/env python3
"""Mutant check of the translator's native F/D code: each mutant breaks one
thing translate_fp.inc (or translate.c's FP loads/stores) must get right;
unit-rv_jit_fp (and, for most, unit-rv_jit_diff) must fail on every one.
Restores the files at the end.
    tests/unit/rv_jit_fp_mutants.py [--build DIR] [MUTANT NAME...]"""
import os, subprocess, sys
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FP_INC = os.path.join(ROOT, 'libvmm/backend/soft/jit/translate_fp.inc')
TR_C = os.path.join(ROOT, 'libvmm/backend/soft/jit/translate.c')
args = sys.argv[1:]
build = 'build'
if args[:1] == ['--build']:
    build, args = args[1], args[2:]
orig = {f: open(f).read() for f in (FP_INC, TR_C)}
muts = {
 'M1 no NaN-box check': ("""    if (!dbl) {
        jx_alu_mi8(&t->m, 0, ALU_CMP, RBX, FOFF(r) + 4, -1);
        fp_to_cold(t, cl, CC_NE);
    }
    jx_sse_m(&t->m, dbl ? 0xf2 : 0xf3, 0x10""", """    jx_sse_m(&t->m, dbl ? 0xf2 : 0xf3, 0x10"""),
 'M2 FMA native in any rounding mode': ("return t->fma && ((raw >> 25) & 3) <= 1 && rne ? rounds : 0;", "return t->fma && ((raw >> 25) & 3) <= 1 ? rounds : 0;"),
 'M3 fnmsub/fnmadd swapped': ("{ 0xa9, 0xab, 0xad, 0xaf }", "{ 0xa9, 0xab, 0xaf, 0xad }"),
 'M4 sqrt NaN not to fpu.c': ("""        jx_sse_rr(b, dbl ? 0xf2 : 0xf3, 0x51, 0, 0); /* sqrtsd / sqrtss */
        fp_nan_to_cold(t, cl, 0, dbl);""", """        jx_sse_rr(b, dbl ? 0xf2 : 0xf3, 0x51, 0, 0); /* sqrtsd / sqrtss */"""),
 'M5 conversion upper limit inclusive': ("""        to_max[1] = jx_jcc32(b, CC_AE);""", """        to_max[1] = jx_jcc32(b, CC_A);"""),
 'M5b conversion lower limit RTZ': ("to_min = jx_jcc32(b, rtz && kind != 2 ? CC_BE : CC_B);", "to_min = jx_jcc32(b, CC_B);"),
 'M6 min/max of equal: and/or swapped': ("max ? 0x54 : 0x56", "max ? 0x56 : 0x54"),
 'M7 min/max NaN not to fpu.c': ("""    jx_sse_rr(b, dbl ? 0x66 : 0, 0x2e, 0, 1);
    fp_to_cold(t, cl, CC_P);
    size_t ne""", """    jx_sse_rr(b, dbl ? 0x66 : 0, 0x2e, 0, 1);
    size_t ne"""),
 'M8 no frm check': ("""    if (need & FPN_RNE) {
        jx_alu_mi8""", """    if (0) {
        jx_alu_mi8"""),
 'M9 arithmetic NaN not to fpu.c': ("""        jx_sse_m(b, dbl ? 0xf2 : 0xf3, sse_op[f7 >> 2], 0, RBX, FOFF(in->rs2));
        fp_nan_to_cold(t, cl, 0, dbl);""", """        jx_sse_m(b, dbl ? 0xf2 : 0xf3, sse_op[f7 >> 2], 0, RBX, FOFF(in->rs2));"""),
 'M10 invalid conversion without NV': ("offsetof(struct rv_cpu, fflags), 0x10);", "offsetof(struct rv_cpu, fflags), 0x00);"),
 'M11 no fp_live check': ("""    if (need & FPN_LIVE) {
        jx_alu_mi8""", """    if (0) {
        jx_alu_mi8"""),
 'M12 feq by comisd': ("""        jx_sse_rr(b, p, 0x2e, 0, 1);
        jx_setcc(b, CC_NP, RAX);""", """        jx_sse_rr(b, p, 0x2f, 0, 1);
        jx_setcc(b, CC_NP, RAX);"""),
 'M13 fcvt.*.lu top bit': ("""        jx_test_rr(b, 1, src, src);
        fp_to_cold(t, cl, CC_S);""", ""),
 'M14 fsgnjn as fsgnj': ("""    if (rm == 1)
        jx_alu_ri(b, w, ALU_XOR, RCX, -1);""", """    if (0)
        jx_alu_ri(b, w, ALU_XOR, RCX, -1);"""),
 'M15 single result not boxed': ("        jx_store_imm32(&t->m, RBX, FOFF(rd) + 4, 0xffffffffu);\n        fx_drop(t, rd);", "        fx_drop(t, rd);"),
 'M16 FMA third operand as rs2': ("fp_get(t, cl, 2, raw >> 27, dbl);", "fp_get(t, cl, 2, in->rs2, dbl);"),
 'M17 fle as flt': ("jx_setcc(b, rm == 1 ? CC_A : CC_AE, RAX);", "jx_setcc(b, CC_A, RAX);"),
 'M18 wu not sign-extended': ("""    if (kind <= 1)
        jx_movsxd(b, RAX, RAX);""", """    if (kind == 0)
        jx_movsxd(b, RAX, RAX);"""),
 'M19 FS known dirty after fmv.x': ("            need |= FPN_DIRTIES;\n        k++;", "            need |= 0;\n        need |= FPN_DIRTIES;\n        k++;"),
 'M20 FS known dirty after a store': ("        t->fs_dirty = !store;", "        t->fs_dirty = 1;"),
 'M21 single result leaves a stale xmm copy': ("        jx_store_imm32(&t->m, RBX, FOFF(rd) + 4, 0xffffffffu);\n        fx_drop(t, rd);", "        jx_store_imm32(&t->m, RBX, FOFF(rd) + 4, 0xffffffffu);"),
 'M22 xmm copies not reloaded out of line': ("        if (t->fx_reg[x] >= 0) /* movsd xmm, [f] */", "        if (0) /* movsd xmm, [f] */"),
 'M23 xmm copies kept across a C call': ("        t->fs_dirty = 0;\n        fx_reset(t);", "        t->fs_dirty = 0;"),
 'M24 flw leaves a stale xmm copy': ("        else\n            fx_drop(t, in->rd);", ""),
 'M25 fmv.w.x leaves a stale xmm copy': ("        jx_store_imm32(b, RBX, FOFF(in->rd) + 4, 0xffffffffu);\n        fx_drop(t, in->rd);\n        return;", "        jx_store_imm32(b, RBX, FOFF(in->rd) + 4, 0xffffffffu);\n        return;"),
}
sel = [m for m in muts if not args or m.split()[0] in args]
failed = 0
try:
    for name in sel:
        a,b = muts[name]
        where = [f for f in orig if orig[f].count(a) == 1]
        assert len(where) == 1, name
        open(where[0], 'w').write(orig[where[0]].replace(a, b))
        r = subprocess.run(
            "cd '%s' && nice meson compile -C %s tests/unit/test_rv_jit_fp tests/unit/test_rv_jit_diff"
            " >/dev/null 2>&1 && LIBVMM_SOFT_JIT=all timeout 120 %s/tests/unit/test_rv_jit_fp"
            " >/dev/null 2>&1; echo $?; LIBVMM_SOFT_JIT=all timeout 300"
            " %s/tests/unit/test_rv_jit_diff >/dev/null 2>&1; echo $?" % (ROOT, build, build, build),
            shell=True, capture_output=True, text=True)
        codes = r.stdout.split()
        failed += codes[0] == '0'
        print(f"{name}: unit-rv_jit_fp {'FAILS' if codes[0]!='0' else 'passes'}, unit-rv_jit_diff {'FAILS' if codes[1]!='0' else 'passes'}", flush=True)
finally:
    for f in orig:
        open(f, 'w').write(orig[f])
print("%d of %d mutants survived unit-rv_jit_fp" % (failed, len(sel)))
sys.exit(1 if failed else 0)
