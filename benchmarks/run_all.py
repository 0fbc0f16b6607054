"""Run every benchmark in turn."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
status = 0
for script in ("draw_speed.py", "qr_speed.py", "build_speed.py", "drill_latency.py", "scan_speed.py"):
    print(f"== {script}", flush=True)
    status |= subprocess.call([sys.executable, str(HERE / script)])
sys.exit(status)
