"""The notebook session of docs/python.md runs as written, block after block."""
import os
import re

import pytest


def test_python_md_examples_run(tmp_path, monkeypatch):
    source = os.environ.get("LAUEPROC_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
    path = os.path.join(source, "docs", "python.md")
    if not os.path.exists(path):
        pytest.skip("docs/python.md is not beside this checkout")
    blocks = re.findall(r"```python\n(.*?)```", open(path).read(), flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, path, "exec"), namespace)
