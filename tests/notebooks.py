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
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    panics = [o for o in outputs
              if "panicked at" in (o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"]))
              or "panicked at" in str(o.get("data", {}).get("text/plain", ""))]
    if panics:
        print(f"FAILED {name}: a cell panicked: {str(panics[0])[:500]}")
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
