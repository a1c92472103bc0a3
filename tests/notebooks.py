"""Executes every notebook headless with the evcxr (Rust) kernel; any cell error fails.

Each notebook must also show at least one picture (an SVG or HTML output).
"""
import glob
import os
import shutil
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
notebooks = sorted(glob.glob(os.path.join(root, "notebooks", "*.ipynb")))
# `python3 tests/notebooks.py 09` runs only the notebooks whose names hold "09".
if len(sys.argv) > 1:
    notebooks = [p for p in notebooks if any(a in os.path.basename(p) for a in sys.argv[1:])]
# One build folder for every kernel (they run one after the other): kubelab
# is compiled by the first notebook and reused by the next ones, and by the
# next run on this machine, instead of once per kernel in a fresh folder.
# (Not under /root: evcxr's kernel fails to load its code from there.)
os.environ.setdefault("EVCXR_TMPDIR", "/var/tmp/kubelab-evcxr")
os.makedirs(os.environ["EVCXR_TMPDIR"], exist_ok=True)
# A notebook's in-process cluster keeps its data in /tmp/kubelab-notebook-*,
# removed when the cluster is dropped; a kernel that is shut down never
# drops it, so what a notebook left is removed after it.
def notebook_dirs():
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "kubelab-notebook-*")))


passed, failed = 0, 0
for path in notebooks:
    before = notebook_dirs()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=1800, kernel_name="rust",
                            resources={"metadata": {"path": os.path.dirname(path)}})
    name = os.path.basename(path)
    started = time.time()
    try:
        client.execute()
    except Exception as e:  # CellExecutionError, timeouts, a dead kernel
        print(f"FAILED {name}: {e}")
        failed += 1
        continue
    finally:
        for d in notebook_dirs() - before:
            shutil.rmtree(d, ignore_errors=True)
    # evcxr prints a panic (a failed assert!) as plain output, not as an
    # error: look for it, or a failed check would pass.
    # A panic's message comes in several stream outputs: print the cell's
    # whole text, so that CI's log says which assertion failed and why.
    def text(o):
        t = o.get("text", "")
        return (t if isinstance(t, str) else "".join(t)) + str(o.get("data", {}).get("text/plain", ""))
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    panicked = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"
                and any("panicked at" in text(o) for o in c.get("outputs", []))]
    if panicked:
        i, cell = panicked[0]
        said = "".join(text(o) for o in cell.get("outputs", []))
        print(f"FAILED {name}: cell {i} panicked:\n{said[-3000:]}")
        failed += 1
        continue
    pictures = [o for o in outputs
                if "image/svg+xml" in o.get("data", {}) or "text/html" in o.get("data", {})]
    if not pictures:
        print(f"FAILED {name}: no picture among the outputs")
        failed += 1
        continue
    print(f"ok {name} ({time.time() - started:.0f} s)")
    passed += 1
print(f"notebooks: {passed} passed, {failed} failed")
sys.exit(1 if failed or not notebooks else 0)
