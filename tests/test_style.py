"""Code lines are at most 120 characters long, everywhere: notebook code cells, the exported package and the tests.
(120, not PEP 8's 79: the notebooks are written in the compact fastai style, one idea per line.)"""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX = 120


def long_lines(path: Path) -> list[str]:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        lines = [line for c in cells if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines()]
    else:
        lines = path.read_text().splitlines()
        if path.parent.name == "cifar_nb":
            # nbdev writes two kinds of line itself: the notebook's summary as the module docstring (line 1),
            # and the `__all__` list, which it wraps its own way
            lines = [line for i, line in enumerate(lines) if i > 0 and not line.startswith(("__all__", "           '"))]
    return [line for line in lines if len(line) > MAX]


def test_no_code_line_is_longer_than_120_characters():
    files = [*sorted((ROOT / "nbs").rglob("*.ipynb")), *sorted((ROOT / "cifar_nb").glob("*.py")),
             *sorted((ROOT / "tests").glob("*.py"))]
    # nbdev writes _modidx.py
    files = [f for f in files if f.name != "_modidx.py" and ".ipynb_checkpoints" not in f.parts]
    assert len(files) > 30
    offenders = {str(f.relative_to(ROOT)): len(lines) for f in files if (lines := long_lines(f))}
    assert not offenders, f"lines over {MAX} characters: {offenders}"
