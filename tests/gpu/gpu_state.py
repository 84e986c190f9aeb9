"""The GPU's clocks, power, temperature and clock-event reasons, sampled in the background.

    mon = GpuMonitor()            # starts `nvidia-smi --query-gpu=... -lms 50`
    t0 = mon.now(); ...timed work...; t1 = mon.now()
    mon.summary(t0, t1)           # "SM 1755-1980 MHz (median 1980), mem 2619 MHz, <= 612 W, <= 61 C, reasons: none"
    mon.close()

The benches attach a summary to each timed row, so that a row measured while
the GPU ran below its clocks (power cap, thermal slowdown) can be told from a
slow kernel (docs/perf.md, GEMM runs 9 and 10: rows that read 10-40% slow in
some passes). Without nvidia-smi every summary says so and nothing fails.
"""

import os
import shutil
import subprocess
import threading
import time

# clocks_event_reasons bits (nvidia-smi -q -d PERFORMANCE names them)
REASONS = {0x1: "idle", 0x2: "app clocks", 0x4: "SW power cap", 0x8: "HW slowdown", 0x10: "sync boost",
           0x20: "SW thermal", 0x40: "HW thermal", 0x80: "HW power brake", 0x100: "display clocks"}
_FIELDS = "clocks.sm,clocks.mem,power.draw,temperature.gpu,{}.active"


def _gpu_index():
    vis = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return vis if vis.isdigit() else "0"


class GpuMonitor:
    def __init__(self, period_ms=50):
        self.samples = []  # (monotonic s, sm MHz, mem MHz, W, C, reasons bitmask)
        self.error = ""
        self.proc = None
        exe = shutil.which("nvidia-smi")
        if exe is None:
            self.error = "nvidia-smi not found"
            return
        fields = None
        for name in ("clocks_event_reasons", "clocks_throttle_reasons"):  # newer drivers renamed it
            f = _FIELDS.format(name)
            r = subprocess.run([exe, "-i", _gpu_index(), f"--query-gpu={f}", "--format=csv,noheader,nounits"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                fields = f
                break
        if fields is None:
            self.error = "nvidia-smi --query-gpu failed"
            return
        self.proc = subprocess.Popen([exe, "-i", _gpu_index(), f"--query-gpu={fields}", "--format=csv,noheader,nounits",
                                      f"-lms={period_ms}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            p = [x.strip() for x in line.split(",")]
            try:
                self.samples.append((time.monotonic(), float(p[0]), float(p[1]), float(p[2]), float(p[3]),
                                     int(p[4], 16)))
            except (ValueError, IndexError):
                continue  # "[N/A]" fields or a partial line

    @staticmethod
    def now():
        return time.monotonic()

    def summary(self, t0, t1):
        if self.error:
            return f"GPU state unknown ({self.error})"
        s = [x for x in self.samples if t0 <= x[0] <= t1]
        if not s:
            return "GPU state: no sample in this interval"
        sm = sorted(x[1] for x in s)
        bits = 0
        for x in s:
            bits |= x[5]
        names = [v for b, v in REASONS.items() if bits & b and b not in (0x1, 0x2)]
        return (f"SM {sm[0]:.0f}-{sm[-1]:.0f} MHz (median {sm[len(sm) // 2]:.0f}), mem {max(x[2] for x in s):.0f} MHz, "
                f"<= {max(x[3] for x in s):.0f} W, <= {max(x[4] for x in s):.0f} C, reasons: "
                f"{', '.join(names) if names else 'none'} ({len(s)} samples)")

    def close(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
            self.proc = None
