"""docs/notebooks/tour.ipynb runs with a real kernel (nbclient + ipykernel) and shows
what it says: an SVG diagram, summary tables with the right totals, diagnostics
rendered as in the terminal (HTML-escaped), and no torch in the kernel."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from inception_dsl import api
from inception_dsl.backends.summary import to_summary

from .conftest import ROOT, SPECS

NOTEBOOK = ROOT / "docs" / "notebooks" / "tour.ipynb"


def _outputs(cell) -> dict[str, str]:
    found = {}
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            raise AssertionError("".join(output.get("traceback", [])))
        found.update(output.get("data", {}))
    return found


def test_the_tour_notebook_runs_and_shows_diagrams_and_tables():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint('torch' in sys.modules)"))
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    network, block, broken, fixed = (_outputs(c) for c in code[:4])
    probe = code[4]
    total = to_summary(api.analyze(SPECS / "v4.incp").graph)
    assert network["text/plain"] == "<Result ../../specs/v4.incp: network inception_v4, input 3x299x299, output 1000, 42,679,816 parameters>"
    assert network["image/svg+xml"].lstrip().startswith("<svg")
    assert "<svg" in network["text/html"] and f"<th>{total.params:,}</th><th>{total.macs:,}</th>" in network["text/html"]
    assert "| total |  |  | 42,679,816 |" in network["text/markdown"]
    assert "<svg" in block["text/html"] and "<th>317,632</th><th>387,609,600</th>" in block["text/html"]
    assert "error[E201]: concat branches disagree" in broken["text/html"] and "--&gt; &lt;cell&gt;:3:3" in broken["text/html"]
    assert "image/svg+xml" not in broken
    assert "<svg" in fixed["text/html"] and "<th>" in fixed["text/html"]
    assert probe.outputs[0]["text"].strip() == "False"  # the notebook never imported torch


def test_repr_of_a_result_is_one_line():
    """issue 27: print(result) and a notebook's text/plain were a 60 KB dataclass dump."""
    ok = api.analyze(SPECS / "googlenet.incp", params={"aux_logits": True})
    assert repr(ok) == (f"<Result {SPECS / 'googlenet.incp'}: network googlenet, input 3x224x224, output 1000, 1000, 1000, "
                        "13,004,888 parameters>")
    broken = api.analyze_text("network n {\n  input 3x8x8\n  conv(8, 9x9, valid)\n  nosuch\n}\n", "b.incp")
    assert repr(broken) == "<Result b.incp: 2 errors, first E203 at b.incp:3>" and str(broken) == repr(broken)
