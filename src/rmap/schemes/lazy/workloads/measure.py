#!/usr/bin/env python3
"""Live objects and bytes, linux vs lazy, at every observation of the given scenarios.

Usage: measure.py RMAPLAB FILE.rmap...   (prints a markdown table)
"""
import json
import os
import subprocess
import sys
import tempfile

SIZES = {"anon_vma": 96, "anon_vma_chain": 64, "vm_area_struct(pinned root)": 192,
         "vm_area_struct.vm_ref": 4}


def observe(rmaplab, path, scheme):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([rmaplab, "sim", "--scheme", scheme, path, "-o", out.name], check=True)
        doc = json.load(open(out.name))
    rows = []
    for o in doc["observations"]:
        live = {k: v["alloc"] - v["free"] for k, v in o["kernel"].items()}
        rows.append((o.get("label") or f"line {o['line']}", live))
    return rows


def pct(a, b):
    return "n/a" if b == 0 else f"{100.0 * (a - b) / b:+.1f}%"


def main():
    rmaplab, files = sys.argv[1], sys.argv[2:]
    print("| scenario | point | linux av / avc | lazy av / avc / pinned | anon_vma | "
          "anon_vma_chain | bytes linux | bytes lazy (objects; +vm_ref) |")
    print("|---|---|---|---|---|---|---|---|")
    for f in files:
        lin, laz = observe(rmaplab, f, "linux"), observe(rmaplab, f, "lazy")
        for (label, a), (_, b) in zip(lin, laz):
            la, lc = a.get("anon_vma", 0), a.get("anon_vma_chain", 0)
            za, zc = b.get("anon_vma", 0), b.get("anon_vma_chain", 0)
            zp, zr = b.get("vm_area_struct(pinned root)", 0), b.get("vm_area_struct.vm_ref", 0)
            bl = 96 * la + 64 * lc
            bz = 96 * za + 64 * zc + 192 * zp
            print(f"| {os.path.basename(f)[:-5]} | {label} | {la} / {lc} | {za} / {zc} / {zp} | "
                  f"{pct(za, la)} | {pct(zc, lc)} | {bl} | {bz}; {bz + 4 * zr} |")


if __name__ == "__main__":
    main()
