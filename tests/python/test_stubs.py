"""The type stubs list what the module has: every public name and every setting."""
import ast
import os

import laueproc


def stub_tree():
    return ast.parse(open(os.path.join(os.path.dirname(laueproc.__file__), "__init__.pyi")).read())


def test_stubs_name_every_public_callable_and_setting():
    tree = stub_tree()
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {t.target.id for t in tree.body if isinstance(t, ast.AnnAssign)}
    for name in laueproc.__all__:
        assert name in names, name
    settings = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    fields = [a.target.id for a in settings.body if isinstance(a, ast.AnnAssign)]
    assert fields == list(laueproc.Settings().to_dict())
    assert os.path.exists(os.path.join(os.path.dirname(laueproc.__file__), "py.typed"))


def test_docstrings():
    for name in ("analyze", "analyze_batch", "process", "read_results", "simulate_frame", "white_line"):
        assert getattr(laueproc, name).__doc__
    assert "k_high = 6.0" in laueproc.Settings.__doc__
