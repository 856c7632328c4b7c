from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.conftest import SAMPLE_ROWS, write_jsonl

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "error_analysis.ipynb"


def test_error_analysis_notebook_runs_on_the_tiny_model(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", SAMPLE_ROWS)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = f"MODEL_DIR = {str(tiny_model_dir)!r}\nDATA = {str(data)!r}\nREPORT_DIR = {str(tmp_path / 'r')!r}"
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parents[1])}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert (tmp_path / "r" / "report.md").exists()
