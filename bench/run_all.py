"""Run every benchmark under bench/ and write docs/benchmarks.md (``make bench``).

Each script prints its own figures as ratios against a baseline measured in the same run;
this runner records that output verbatim with the machine it ran on.

    .venv/bin/python bench/run_all.py [--only NAME ...] [--output docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def scripts() -> list[Path]:
    """Every benchmark script: ``bench/*.py`` except this runner and private helpers."""
    return sorted(p for p in BENCH.glob("*.py") if p.name != "run_all.py" and not p.name.startswith("_"))


def machine() -> list[str]:
    """Facts about this machine that change benchmark figures."""
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    mem = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text().split()[1])
        mem = f"{total_kb / 1024 / 1024:.1f} GiB"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return [
        f"- CPU: {cpu} ({os.cpu_count()} logical cores)",
        f"- memory: {mem}",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_version()}",
        f"- load average when the run started: {load}",
    ]


def run(script: Path) -> tuple[int, str, float]:
    """Run one benchmark; return its exit status, output and wall time."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    output = proc.stdout + (f"\n[stderr]\n{proc.stderr[-4000:]}" if proc.returncode else "")
    return proc.returncode, output.strip(), time.monotonic() - started


def _sections(path: Path) -> dict[str, list[str]]:
    """The per-script sections of an existing benchmarks file, by script name."""
    if not path.exists():
        return {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        if line.startswith("## ") and line[3:].strip() != "Machine":
            current = line[3:].strip()
            sections[current] = []
        elif line.startswith("## "):
            current = None
        if current is not None:
            sections[current].append(line)
    return sections


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help="script names (without .py) to run")
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    chosen = [s for s in scripts() if not args.only or s.stem in args.only]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`bench/run_all.py`) on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
        "Every figure is printed by its script as a ratio against a baseline measured in the same run,",
        "because this machine is shared and noisy; absolute times are for orientation only.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
    ]
    previous = _sections(Path(args.output)) if args.only else {}
    failures = 0
    for script in scripts():
        if script not in chosen:
            if script.stem in previous:  # --only: keep the figures of the scripts not rerun
                lines += previous[script.stem]
            continue
        print(f"== {script.name}", flush=True)
        code, output, seconds = run(script)
        print(output, flush=True)
        failures += code != 0
        doc = (script.read_text().split('"""')[1].strip().splitlines() or [""])[0]
        when = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}"
        command = f"`.venv/bin/python bench/{script.name}` — exit {code}, {seconds:.0f} s, finished {when}"
        lines += [f"## {script.stem}", "", doc, "", command, "", "```", output, "```", ""]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
