"""Run ``rkc calc <kind>`` as a subprocess, the way users call it."""
import json
import subprocess
import sys


def run_calc(kind, data):
    "Exit status and decoded JSON output of one ``rkc calc`` call."
    process = subprocess.run(
        [sys.executable, '-m', 'rkc.cli', 'calc', kind],
        input=json.dumps(data), capture_output=True, text=True,
        check=False)
    return process.returncode, json.loads(process.stdout)
