"""An exercise's stated rule: names its answer must not use (``forbid`` in a question's config).

A question of a lesson may say, in its ``# BEGIN QUESTION`` cell::

    forbid: [sklearn, balanced_accuracy_score]

and its text states the rule ("without scikit-learn"). The grader (``course grade``,
Gradescope) checks it in its own process, on the syntax tree of the submitted notebook's
code cells, never inside the sandbox; ``grader.check`` in the student's notebook checks
the same rule on the cells the student ran, so the rule is never a surprise. An answer that
breaks the rule earns 0 points for that question, with the reason; other questions are
unaffected.

What the answer is. The names the question's reference solution defines at the top level
(``balanced_accuracy``), as the submission defines them (its last ``def``, ``class``,
import or assignment of each name, and any later statement that changes it), and, followed
from there, every top-level name those definitions use that the notebook defines, in any
cell: a helper the student wrote elsewhere, or a lesson cell's function or import. So
``balanced_accuracy = balanced_accuracy_score`` breaks the rule through the lesson's import,
and so does a helper that calls the forbidden function.

What counts as a use of a forbidden name ``N``, in that code:

- an attribute ``x.N`` (``tape.gradient``, ``layers.Conv1D``);
- an import of ``N`` or from a module with ``N`` in its dotted path (``import sklearn.metrics
  as m``, ``from sklearn.metrics import balanced_accuracy_score as ok``): the alias does not
  hide it;
- a name ``N`` that the notebook does not define itself (a builtin, a star import). A name
  the student's own code defines (a local variable ``grad``, a function of theirs called
  ``gradient``) is the student's: its definition is checked instead;
- code inside a string: a string that is Python code (``"balanced_accuracy_score"``,
  ``"sklearn.metrics"``, ``"balanced_accuracy_score(y, p)"``), as ``getattr``,
  ``__import__``, ``importlib.import_module``, ``globals()[...]`` and ``eval`` read it.

What does not count, by design: comments, and prose in strings (a docstring or a message
that mentions the name in a sentence: a sentence is not Python code). Names built at run time
from pieces (``"balanced_" + "accuracy_score"``) are not caught: a stated rule keeps honest
students honest; the probes still check every answer.

Only the standard library is used (the grader and the students' notebooks import this).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

MAX_STRING_CODE = 2000      # longer strings are not read as code
STRING_DEPTH = 2            # code in a string in a string ... is read this deep


@dataclass(frozen=True)
class Rule:
    """One question's rule: the names its answer defines and the names it must not use."""
    question: str
    answer: tuple[str, ...]
    forbid: tuple[str, ...]


def parse_cell(source: str) -> ast.Module | None:
    """A code cell's syntax tree (IPython's ``%magic`` and ``!shell`` lines turned into
    Python first), or None when the cell is not valid Python (it then defines nothing)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        source = TransformerManager().transform_cell(source)
    except Exception:   # noqa: BLE001 - without IPython, or a cell it cannot transform
        pass
    return _parse(source)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _walk_scope(node):
    """The nodes of ``node`` without descending into nested functions, classes or lambdas."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, _SCOPES):
            stack.extend(ast.iter_child_nodes(child))


def _store_base(target) -> str | None:
    """The top-level name that an attribute or item assignment changes (``f.__code__ = ...``
    changes ``f``; ``globals()["f"] = ...`` binds ``f``)."""
    while isinstance(target, (ast.Attribute, ast.Subscript)):
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Call) \
                and isinstance(target.value.func, ast.Name) \
                and target.value.func.id in ("globals", "locals", "vars") \
                and isinstance(target.slice, ast.Constant) and isinstance(target.slice.value, str):
            return target.slice.value
        target = target.value
    return target.id if isinstance(target, ast.Name) else None


def bindings(stmt) -> tuple[set[str], bool]:
    """The top-level names a top-level statement binds, and whether it replaces them outright
    (a ``def``, ``class``, import or plain ``name = ...``) rather than changing them."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}, True
    if isinstance(stmt, ast.Import):
        return {a.asname or a.name.split(".")[0] for a in stmt.names}, True
    if isinstance(stmt, ast.ImportFrom):
        return {a.asname or a.name for a in stmt.names}, True
    if isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
        return {t.id for t in stmt.targets}, True
    names = set()
    for node in [stmt, *_walk_scope(stmt)]:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not stmt:
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, ast.Store):
            base = _store_base(node)
            if base:
                names.add(base)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "setattr" and node.args and isinstance(node.args[0], ast.Name):
            names.add(node.args[0].id)
    return names, False


def defined_names(source: str) -> list[str]:
    """The top-level names a cell's code binds, in order (a question's answer names)."""
    tree = parse_cell(source)
    names: list[str] = []
    for stmt in (tree.body if tree else []):
        for name in sorted(bindings(stmt)[0]):
            if name not in names:
                names.append(name)
    return names


@dataclass
class _Statement:
    node: ast.stmt
    cell: int          # the index the caller gave the cell


def definitions(cells: list[tuple[int, str]]) -> dict[str, list[_Statement]]:
    """For every top-level name, the statements that make its final value: the last one that
    replaces it and every later one that changes it, in execution order."""
    defs: dict[str, list[_Statement]] = {}
    for index, source in cells:
        tree = parse_cell(source)
        for stmt in (tree.body if tree else []):
            names, replaces = bindings(stmt)
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
                names, replaces = {"*"}, False
            for name in names:
                if replaces:
                    defs[name] = [_Statement(stmt, index)]
                else:
                    defs.setdefault(name, []).append(_Statement(stmt, index))
    return defs


def _locally_bound(node) -> set[str]:
    """Names bound inside a function, class or lambda (parameters, assignments, imports)."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not node:
            names.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names |= {a.asname or a.name.split(".")[0] for a in sub.names}
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            names.add(sub.name)
    for sub in ast.walk(node):   # `global x` makes x the notebook's again
        if isinstance(sub, ast.Global):
            names -= set(sub.names)
    return names


def _string_code(node, depth: int = 0):
    """The syntax trees of the strings in ``node`` that are Python code (and of code in those)."""
    if depth >= STRING_DEPTH:
        return
    for sub in [node] if isinstance(node, ast.Constant) else ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) \
                and sub.value.strip() and len(sub.value) <= MAX_STRING_CODE:
            tree = _parse(sub.value.strip())
            if tree is not None and tree.body:
                yield tree
                yield from _string_code(tree, depth + 1)


def _uses(node, forbid: set[str], defined: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """(the forbidden names ``node`` uses, each with its first line; the top-level names it
    refers to, each with its first line) for one top-level statement."""
    local = _locally_bound(node) if isinstance(node, _SCOPES) else set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        local.discard(node.name)
    used: dict[str, int] = {}
    refers: dict[str, int] = {}

    def visit(tree, line=None):
        from_string = line is not None
        for sub in ast.walk(tree):
            found = []
            if isinstance(sub, ast.Attribute) and sub.attr in forbid:
                found = [sub.attr]
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in sub.names] if isinstance(sub, ast.Import) else \
                    [sub.module or ""] + [a.name for a in sub.names]
                found = [part for module in modules for part in module.split(".") if part in forbid]
            elif isinstance(sub, ast.Name) and (from_string or sub.id not in local):
                at = line or sub.lineno
                refers[sub.id] = min(refers.get(sub.id, at), at)
                if sub.id in forbid and (from_string or sub.id not in defined):
                    found = [sub.id]
            for name in found:
                at = line or getattr(sub, "lineno", node.lineno)
                used[name] = min(used.get(name, at), at)

    visit(node)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            for code in _string_code(sub):
                visit(code, sub.lineno)
    return used, refers


def _narrow(node, name: str):
    """An import statement reduced to the alias that binds ``name`` (``from m import a, b``
    followed for ``b`` is ``from m import b``); any other statement as it is."""
    if isinstance(node, (ast.Import, ast.ImportFrom)) and name != "*":
        names = [a for a in node.names if (a.asname or a.name.split(".")[0]) == name] or node.names
        if isinstance(node, ast.Import):
            return ast.copy_location(ast.Import(names=names), node)
        return ast.copy_location(ast.ImportFrom(module=node.module, names=names, level=node.level), node)
    return node


def broken(rule: Rule, cells: list[tuple[int, str]], cell_label: str = "cell {}") -> str | None:
    """Why the answer in ``cells`` ((index, source) of each code cell, in execution order)
    breaks ``rule``, or None when it keeps it. The reason names the first forbidden name
    found and the cell that uses it (``cell_label`` formats a cell's index: in a notebook's
    kernel, its history ``In`` numbers the cells as Jupyter shows them, ``In [12]``)."""
    forbid = set(rule.forbid)
    if not forbid:
        return None
    defs = definitions(cells)
    # names the student's (or the lesson's) own code defines; a name only imported is the library's
    defined = {name for name, statements in defs.items()
               if name != "*" and not all(isinstance(st.node, (ast.Import, ast.ImportFrom))
                                          for st in statements)}
    todo = [(name, None) for name in rule.answer if name in defs]
    seen_names, seen_statements = {name for name, _ in todo}, set()
    while todo:
        name, via = todo.pop(0)
        for statement in defs.get(name, []):
            node = _narrow(statement.node, name)
            key = (id(statement.node), name if node is not statement.node else None)
            if key in seen_statements:
                continue
            seen_statements.add(key)
            used, refers = _uses(node, forbid, defined)
            if used:
                first = min(used, key=lambda n: (used[n], n))
                imported = isinstance(node, (ast.Import, ast.ImportFrom))
                where = (f"through {via[0]}, {via[1]}" if via and imported
                         else f"{cell_label.format(statement.cell)}, line {used[first]}")
                return f"uses {first} ({where})"
            for other in sorted(refers):
                target = other if other in defs else "*"
                if target in defs and target not in seen_names:
                    seen_names.add(target)
                    todo.append((target, via or (other, f"{cell_label.format(statement.cell)}, line {refers[other]}")))
    return None


def reason(rule: Rule, why: str) -> str:
    """The grader's reason for 0 points: what was used, and the rule it breaks."""
    return f"{why}, which {rule.question} forbids (its stated rule: no {', '.join(rule.forbid)})"
