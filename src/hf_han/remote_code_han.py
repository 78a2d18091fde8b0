"""
The code a saved HAN folder carries for `trust_remote_code=True`. `transformers` copies the file of each saved class
and every module it imports, which for HAN is some 25 files. After it has, the four files that a saved folder names
(`config.json`'s `auto_map` and `custom_pipelines`, `tokenizer_config.json`'s `auto_map`) are each replaced by one
self-contained file: the module with the package modules it imports folded in before it, in an order where each
comes after what it imports at import time. The copies of the folded modules are then removed. The library's own
source keeps one concept per file; only saved folders hold the folded files.
"""

import ast
import functools
from pathlib import Path


PACKAGE_DIR = Path(__file__).parent
# the modules a saved folder keeps as files: the classes and the pipeline its configs name
SAVED_MODULES = ("configuration_han", "modeling_han", "pipeline_han", "tokenization_han")
FOLDED_MARK = "# Folded by hf-han"
# top-level names that several modules define alike: each module's logger is `logging.get_logger(__name__)`
SHARED_NAMES = frozenset({"logger", "__all__"})


def relative_imports(source: str) -> dict[str, bool]:
    """
    The package modules that `source` imports (`from .x import y`), each with whether it is imported when the
    module is (True) or only inside a function (False).
    """
    imports: dict[str, bool] = {}

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level != 1 or node.module is None:
                raise ValueError(f"Only `from .module import name` is folded, got {ast.unparse(node)!r}.")
            imports[node.module] = imports.get(node.module, False) or not in_function
        inside = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(ast.parse(source), False)
    return imports


def import_graph(directory: str | Path = PACKAGE_DIR) -> dict[str, dict[str, bool]]:
    """Every module of a folder of Python files -> the folder's modules it imports (see `relative_imports`)."""
    return {path.stem: relative_imports(path.read_text(encoding="utf-8")) for path in Path(directory).glob("*.py")}


def find_cycle(graph: dict[str, dict[str, bool]]) -> list[str] | None:
    """A cycle of imports (`[a, b, ..., a]`, at import time or inside functions alike), or `None` if there is none."""
    state: dict[str, int] = {}  # 1 while on the current path, 2 once explored

    def explore(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for imported in sorted(graph.get(module, {})):
            if state.get(imported) == 1:
                return path[path.index(imported) :] + [imported]
            if imported not in state and (cycle := explore(imported, path + [imported])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := explore(module, [module])):
            return cycle
    return None


def is_folded(source: str) -> bool:
    return source.startswith(FOLDED_MARK)


def fold_module(root: str, directory: str | Path = PACKAGE_DIR) -> str:
    """The folded source of `root` (see `_fold_module`), computed once per state of the folder's files."""
    files = tuple(
        (path.name, stat.st_mtime_ns, stat.st_size)
        for path in sorted(Path(directory).glob("*.py"))
        for stat in [path.stat()]
    )
    return _folded(root, str(directory), files)


@functools.lru_cache(maxsize=32)
def _folded(root: str, directory: str, files: tuple) -> str:  # `files` keys the cache on the sources' state
    return _fold_module(root, directory)


def _fold_module(root: str, directory: str | Path = PACKAGE_DIR) -> str:
    """
    The source of module `root` of `directory` with the modules it imports folded in, except the other
    `SAVED_MODULES`, which stay imports (`from .configuration_han import HANConfig`).

    Raises `ValueError` where folding would change what a name means: two folded modules defining the same
    top-level name differently, or a module importing `root` at import time.
    """
    directory = Path(directory)
    graph = import_graph(directory)
    members, pending = {root}, [root]
    while pending:
        for imported in graph[pending.pop()]:
            if imported not in members and imported not in SAVED_MODULES:
                members.add(imported)
                pending.append(imported)
    order: list[str] = []
    placing: list[str] = []

    def place(module: str) -> None:  # after the modules it imports at import time
        if module in order:
            return
        if module in placing:
            raise ValueError(f"Import cycle: {' -> '.join(placing[placing.index(module) :] + [module])}.")
        placing.append(module)
        for imported, eager in sorted(graph[module].items()):
            if eager and imported in members and imported != root:
                place(imported)
        order.append(placing.pop())

    for module in sorted(members - {root}):
        if graph[module].get(root):
            raise ValueError(f"{module}.py imports {root}.py at import time; it cannot be folded into it.")
        place(module)
    place(root)

    sources = {module: (directory / f"{module}.py").read_text(encoding="utf-8") for module in order}
    if len(order) == 1:
        return sources[root]  # nothing to fold
    _check_names(sources)
    parts = [
        f"{FOLDED_MARK}: {root}.py and the modules it imports ({', '.join(m + '.py' for m in order[:-1])}),\n"
        "# each after the modules it imports. Generated when the model was saved: edit the hf-han source instead.\n"
    ]
    for module in order:
        body = _without_folded_imports(sources[module], members, module == root)
        parts.append(f"\n\n# ---- {module}.py ----\n\n{body}")
    return "".join(parts)


def _without_folded_imports(source: str, members: set[str], is_root: bool) -> str:
    """`source` with its imports of `members` replaced by `pass` (or `alias = name`); only the root keeps `__all__`."""
    lines = source.splitlines(keepends=True)
    edits = []  # (first line, last line, replacement), 1-based and inclusive
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level and node.module in members:
            indent = " " * node.col_offset
            aliases = [f"{indent}{a.asname} = {a.name}\n" for a in node.names if a.asname and a.asname != a.name]
            edits.append((node.lineno, node.end_lineno, "".join(aliases) or f"{indent}pass  # folded above\n"))
    if not is_root:
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                edits.append((node.lineno, node.end_lineno, ""))
    for first, last, replacement in sorted(edits, reverse=True):
        lines[first - 1 : last] = [replacement]
    return "".join(lines)


def _check_names(sources: dict[str, str]) -> None:
    """Two folded modules may bind a top-level name only to the same import; anything else would shadow."""
    bound: dict[str, tuple[str, str]] = {}  # name -> (module, what binds it)
    for module, source in sources.items():
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = {node.name: f"{module}.{node.name}"}
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id: f"{module}.{t.id}" for t in targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.Import):
                names = {(a.asname or a.name).split(".")[0]: f"import {a.name}" for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = {a.asname or a.name: f"from {node.module} import {a.name}" for a in node.names}
            else:
                continue
            for name, origin in names.items():
                if name in SHARED_NAMES:
                    continue
                if name in bound and bound[name][1] != origin:
                    raise ValueError(
                        f"Folding would bind `{name}` twice: {bound[name][0]}.py ({bound[name][1]}) and {module}.py "
                        f"({origin}). Rename one of them."
                    )
                bound[name] = (module, origin)


def fold_saved_code(directory: str | Path) -> None:
    """
    Fold the code files that `transformers` has just copied into the saved folder `directory` (see the module's
    docstring). A file that is not the package's current source (an older save, or already folded, as when a model
    loaded as remote code is saved again) is left as it is, with the files it imports.
    """
    directory = Path(directory)
    for root in SAVED_MODULES:
        target, source = directory / f"{root}.py", PACKAGE_DIR / f"{root}.py"
        if target.exists() and target.read_bytes() == source.read_bytes() and not is_folded(source.read_text()):
            target.write_text(fold_module(root), encoding="utf-8")
    # a file is a copy of a package module when it holds the same bytes (a user's own files are never touched)
    copies = {
        path.stem
        for path in directory.glob("*.py")
        if path.stem not in SAVED_MODULES
        and (PACKAGE_DIR / path.name).is_file()
        and path.read_bytes() == (PACKAGE_DIR / path.name).read_bytes()
    }
    saved = {}
    for path in directory.glob("*.py"):
        try:
            saved[path.stem] = relative_imports(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            saved[path.stem] = {}  # not a module we can read: it imports nothing we could remove
    needed, pending = set(), [module for module in saved if module not in copies]
    while pending:
        for imported in saved.get(pending.pop(), {}):
            if imported not in needed:
                needed.add(imported)
                pending.append(imported)
    for module in copies - needed:
        (directory / f"{module}.py").unlink()


__all__ = ["find_cycle", "fold_module", "fold_saved_code", "import_graph", "relative_imports"]
