"""Issue 16 (issuance and verification at the speed of the stack) in one command: every benchmark that
measures one of its targets, one after another, then each target's line with its ratio and verdict.

    uv run --group bench python bench/stack_speed.py [--quick] [--only NAME ...] [--out DIR]

Each benchmark runs alone (they would share the machine's two cores otherwise) and keeps its own
comparison inside its run: the ratios are the figures, the absolute rates say how loaded the machine
was. Full output of each goes to DIR/NAME.txt (a temporary folder by default); the summary is every
line a benchmark printed as a verdict. `--quick` shrinks the sizes so the whole runs in about 15 minutes
(targets stated at 100k employees are then judged at the smaller size: they say so). A benchmark that
fails is reported as failed with its exit status, and the others still run.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# name: (script, arguments, arguments with --quick)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "issuance": ("issuance_http.py", ["--seconds", "6", "--rounds", "2"], ["--seconds", "4", "--rounds", "1"]),
    "verify": ("verify_http.py", ["--postgres"], ["--postgres", "--seconds", "3", "--rounds", "1"]),
    "signing": ("bench_signing.py", [], ["--rounds", "3"]),
    "taxonomy": ("taxonomy_reads.py", [], ["--rounds", "1", "--seconds", "4"]),
    "gap": ("gap_report.py", [], ["--employees", "20000", "--facts", "200000", "--rounds", "1", "--seconds", "4"]),
    "intake": ("intake_webhook.py", [], ["--credentials", "1000", "--rounds", "1"]),
    "kpi": ("kpi_linkage.py", [], ["--employees", "20000", "--rounds", "1"]),
}
VERDICT = re.compile(r"\b(met|MISSED)\b")


def run_one(name: str, quick: bool, out: Path) -> tuple[int, float, list[str]]:
    script, full, small = BENCHES[name]
    command = [sys.executable, str(REPO / "bench" / script), *(small if quick else full)]
    started = time.perf_counter()
    with (out / f"{name}.txt").open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        verdicts = []
        for line in process.stdout:
            log.write(line)
            if VERDICT.search(line):
                verdicts.append(line.rstrip())
        status = process.wait()
    return status, time.perf_counter() - started, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds (about 15 minutes)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="just these benchmarks")
    parser.add_argument("--out", type=Path, help="folder for each benchmark's full output")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="credstack-stack-speed."))
    out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(BENCHES)
    results = {}
    for number, name in enumerate(names, 1):
        print(f"[{number}/{len(names)}] {name}: bench/{BENCHES[name][0]} ...", end=" ", flush=True)
        results[name] = run_one(name, args.quick, out)
        status, seconds, verdicts = results[name]
        state = "ok" if status == 0 else f"FAILED (exit {status})"
        print(f"{state} in {seconds:.0f} s, {len(verdicts)} verdicts", flush=True)
    print(f"\nIssue 16 targets{' (--quick sizes)' if args.quick else ''}; full outputs in {out}")
    met = missed = 0
    for name in names:
        status, _, verdicts = results[name]
        print(f"\n{name}:" + ("" if status == 0 else f"  the benchmark FAILED (exit {status}); see {name}.txt"))
        for line in verdicts:
            print(f"  {line.strip()}")
            met += len(re.findall(r"\bmet\b", line))
            missed += len(re.findall(r"\bMISSED\b", line))
    print(f"\n{met} met, {missed} missed")


if __name__ == "__main__":
    main()
