"""The script the sandboxed interpreter runs: limit itself, read the job, run the user's code,
write the reply.

The worker starts ``python -I -S -c BOOTSTRAP MEMORY_BYTES CPU_SECONDS`` and writes to its
stdin this module compiled and marshalled (compiling it in every child would cost ~4 ms),
then the job, also a ``marshal`` dump: the worker trusts its own data. The reply goes the
other way as one JSON document, which the worker parses as untrusted input.

So this module must not import anything from LinkFlow, and every module imported at
start-up is paid on every run: only modules the interpreter has already loaded or that
are built in (``posix`` rather than ``os``, ~2 ms; ``_json``'s C encoder rather than the
``json`` package, ~18 ms). The reply has a descriptor of its own: before
the user's code runs, stdout is moved to stderr, so ``print`` cannot corrupt the reply.

The language fence built here (curated builtins, an import allow-list, no ``_``-prefixed
attributes) is defence in depth only. What the worker relies on is the OS layer around this
process: namespaces (bwrap), seccomp, Landlock and rlimits. Still, the fence keeps its
promise against every path that reads an attribute by name that we know of: the syntax
(``x.__y``), ``getattr``/``hasattr`` (plain ``str`` names only: a ``str`` subclass could
lie to the check), ``str.format``/``format_map`` fields (``'{0.__globals__}'``, nested
in specs too), ``functools.update_wrapper``/``wraps`` (which copy named attributes
with the real getattr), and ``functools.singledispatch`` (whose ``register`` evaluates
string annotations). Not reachable at all: ``vars``, ``globals``, ``operator``,
``string.Formatter``, ``inspect``, ``typing``; ``dir`` and ``type`` only name or
return what the code already holds.
"""

import _ast
import _json
import _string
import builtins
import marshal
import posix
import resource
import sys

# mypy reads this block; the sandboxed interpreter skips it, so it never pays for typing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from types import ModuleType
    from typing import Any, NoReturn, NotRequired, TypedDict

    class Job(TypedDict):
        """What the launcher writes to stdin after this module (launcher.run_python)."""

        code: str
        items: list[Any]
        fence: bool
        max_output_bytes: int
        seccomp: NotRequired[bytes | None]
        landlock_paths: NotRequired[list[str]]

    class _Position(TypedDict):
        lineno: int
        col_offset: int
        end_lineno: int
        end_col_offset: int

    UserFunction = Callable[[list[Any]], object]

MEMORY_EXIT = 3
_MEMORY_REPLY = b'{"ok":false,"kind":"memory","message":"out of memory"}'
_FILENAME = "<code>"
_MAX_MESSAGE = 1000

ALLOWED_MODULES = (
    "base64",
    "collections",
    "collections.abc",
    "copy",
    "datetime",
    "decimal",
    "fractions",
    "functools",
    "hashlib",
    "hmac",
    "itertools",
    "json",
    "math",
    "random",
    "re",
    "statistics",
    "string",
    "textwrap",
    "time",
    "uuid",
)
# Public names that would hand out arbitrary attribute access (string.Formatter.get_field
# resolves "0.__class__" to the object itself; singledispatch's register() evaluates a
# string annotation as an expression, past the syntax check).
_HIDDEN_NAMES = {
    "string": {"Formatter"},
    "functools": {"singledispatch", "singledispatchmethod"},
}
# str methods whose template reads attributes by name: fields are checked first.
_FORMAT_METHODS = ("format", "format_map")
# Injected by the compiler for every `x.format` / `x.format_map` the code reads; a
# dunder name, so the code itself can never name it.
_FORMAT_HOOK = "__linkflow_attribute__"
# Frame and code objects lead back to real globals and builtins.
_FORBIDDEN_ATTRIBUTES = frozenset((
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame",
    "ag_code", "ag_await", "tb_frame", "tb_next", "f_back", "f_builtins", "f_code",
    "f_globals", "f_locals", "co_code",
))  # fmt: skip
_IDENTIFIER_FIELDS = ("id", "arg", "asname", "rest")
# No open, exec, eval, compile, globals, locals, vars, input, breakpoint, memoryview, exit;
# getattr, hasattr and __import__ are replaced by guarded versions.
_SAFE_BUILTINS = (
    "abs", "all", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr",
    "classmethod", "complex", "dict", "dir", "divmod", "enumerate", "filter", "float",
    "format", "frozenset", "hash", "hex", "id", "int", "isinstance", "issubclass", "iter",
    "len", "list", "map", "max", "min", "next", "object", "oct", "ord", "pow", "print",
    "property", "range", "repr", "reversed", "round", "set", "slice", "sorted",
    "staticmethod", "str", "sum", "super", "tuple", "type", "zip",
    "None", "False", "True", "Ellipsis", "NotImplemented", "__build_class__",
    "BaseException", "Exception", "ArithmeticError", "AssertionError", "AttributeError",
    "BufferError", "EOFError", "FloatingPointError", "GeneratorExit", "ImportError",
    "IndexError", "KeyError", "LookupError", "MemoryError", "ModuleNotFoundError",
    "NameError", "NotImplementedError", "OverflowError", "RecursionError", "ReferenceError",
    "RuntimeError", "StopIteration", "StopAsyncIteration", "SyntaxError", "TypeError",
    "UnboundLocalError", "UnicodeError", "UnicodeDecodeError", "UnicodeEncodeError",
    "ValueError", "ZeroDivisionError", "Warning",
)  # fmt: skip


class Refused(Exception):
    """The code does something the language fence does not allow."""


def main() -> None:
    """Apply the limits, then run the job from stdin and write the reply to the saved
    stdout. Exits 0 with a reply, or MEMORY_EXIT when even the reply could not be built."""
    _limit_self(memory_bytes=int(sys.argv[1]), cpu_seconds=int(sys.argv[2]))
    reply_fd = posix.dup(1)
    posix.dup2(2, 1)
    try:
        reply = _handle(marshal.load(sys.stdin.buffer))
    except MemoryError:
        reply = _MEMORY_REPLY
    _write_all(reply_fd, reply)


def _limit_self(*, memory_bytes: int, cpu_seconds: int) -> None:
    limits = (
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_FSIZE, 0, 0),
        # Ignored for root; the seccomp filter is what stops fork there.
        (resource.RLIMIT_NPROC, 0, 0),
        (resource.RLIMIT_NOFILE, 64, 64),
        # SIGXCPU at the soft limit ends the process; SIGKILL a second later if caught.
        (resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1),
        (resource.RLIMIT_AS, memory_bytes, memory_bytes),
    )
    for which, soft, hard in limits:
        current_hard = resource.getrlimit(which)[1]
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(which, (soft, hard))


def _handle(job: "Job") -> bytes:
    try:
        if job.get("landlock_paths") is not None or job.get("seccomp"):
            _harden(job.get("landlock_paths"), job.get("seccomp"))
    except OSError as error:
        return _error("sandbox", f"The code sandbox could not be set up: {error}")
    try:
        function = _compile(job["code"], fence=job["fence"])
    except SyntaxError as error:
        where = f" on line {error.lineno}" if error.lineno else ""
        return _error("syntax", f"Syntax error{where}: {error.msg}")
    except (ValueError, RecursionError) as error:  # null bytes, absurd nesting
        return _error("syntax", f"The code cannot be compiled: {error}")
    except Refused as error:
        return _error("refused", str(error))
    try:
        result = function(job["items"])
    except MemoryError:
        raise
    except BaseException as error:  # the user's failure, whatever it is, is the node's error
        return _error("exception", _describe(error))
    return _encode_result(result, max_bytes=job["max_output_bytes"])


# Compiling the user's function body


# Where the `def code(items)` wrapped around the user's lines says it is.
_FIRST_LINE: "_Position" = {"lineno": 1, "col_offset": 0, "end_lineno": 1, "end_col_offset": 0}


def _compile(code: str, *, fence: bool) -> "UserFunction":
    tree = compile(code, _FILENAME, "exec", _ast.PyCF_ONLY_AST)
    assert isinstance(tree, _ast.Module)  # what mode "exec" parses to
    if not tree.body:
        raise Refused("The code is empty: write a function body that returns a list of items.")
    if fence:
        _check_tree(tree)
        _guard_format_reads(tree)
    # The body becomes the body of `def code(items)`, keeping the user's line numbers, so a
    # top-level `return` is legal and errors point at the user's own lines.
    arguments = _ast.arguments(
        posonlyargs=[],
        args=[_ast.arg(arg="items", annotation=None, **_FIRST_LINE)],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    definition = _ast.FunctionDef(
        name="code",
        args=arguments,
        body=tree.body,
        decorator_list=[],
        returns=None,
        **_FIRST_LINE,
    )
    module = _ast.Module(body=[definition], type_ignores=[])
    namespace: dict[str, Any] = {
        "__name__": "linkflow_code",
        "__builtins__": _fenced_builtins() if fence else builtins.__dict__,
        _FORMAT_HOOK: _fenced_attribute,
    }
    exec(compile(module, _FILENAME, "exec"), namespace)
    function: UserFunction = namespace["code"]
    return function


def _check_tree(tree: _ast.AST) -> None:
    stack = [tree]
    while stack:
        node = stack.pop()
        _check_node(node)
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                stack.extend(child for child in value if isinstance(child, _ast.AST))
            elif isinstance(value, _ast.AST):
                stack.append(value)


def _check_node(node: _ast.AST) -> None:
    line = getattr(node, "lineno", None)
    attributes: list[str] = []
    if isinstance(node, _ast.Attribute):
        attributes = [node.attr]
    elif isinstance(node, _ast.MatchClass):  # `case object(__class__=c)` reads an attribute
        attributes = node.kwd_attrs
    for name in attributes:
        if name.startswith("_") or name in _FORBIDDEN_ATTRIBUTES:
            raise Refused(f"Line {line}: access to attribute '{name}' is not allowed.")
    # Binding or reading a dunder name could reach __builtins__ or __import__; defining a
    # method such as __init__ (FunctionDef.name) is harmless and stays allowed.
    names: list[object] = [getattr(node, field, None) for field in _IDENTIFIER_FIELDS]
    if isinstance(node, _ast.ExceptHandler | _ast.MatchAs | _ast.MatchStar):
        names.append(node.name)
    if isinstance(node, _ast.Global | _ast.Nonlocal):
        names.extend(node.names)
    for identifier in names:
        if isinstance(identifier, str) and identifier.startswith("__"):
            where = f"Line {line}: t" if line is not None else "T"
            raise Refused(f"{where}he name '{identifier}' is not allowed.")


def _guard_format_reads(tree: _ast.AST) -> None:
    """Replace every read of ``<x>.format`` / ``<x>.format_map`` by a call of the hook,
    which hands out a checked version when the attribute is str's method."""
    stack = [tree]
    while stack:
        node = stack.pop()
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                for index, child in enumerate(value):
                    if isinstance(child, _ast.AST):
                        stack.append(child)
                        value[index] = _hooked(child)
            elif isinstance(value, _ast.AST):
                stack.append(value)
                setattr(node, field, _hooked(value))


def _hooked(node: _ast.AST) -> _ast.AST:
    if not (
        isinstance(node, _ast.Attribute)
        and node.attr in _FORMAT_METHODS
        and isinstance(node.ctx, _ast.Load)
    ):
        return node
    hook = _ast.Name(id=_FORMAT_HOOK, ctx=_ast.Load())
    name = _ast.Constant(value=node.attr)
    call = _ast.Call(func=hook, args=[node.value, name], keywords=[])
    for new in (hook, name, call):
        new.lineno, new.col_offset = node.lineno, node.col_offset
        new.end_lineno, new.end_col_offset = node.end_lineno, node.end_col_offset
    return call


def _fenced_attribute(obj: object, name: str) -> object:
    return _fenced_value(getattr(obj, name))


_STR_FORMAT = str.format
_STR_FORMAT_MAP = str.format_map
_BUILTIN_METHOD = type("".format)


def _fenced_value(value: object) -> object:
    """``value``, or a checked stand-in when it is str.format / str.format_map, unbound
    (``str.format``) or bound to any string (``s.format``, ``super().format``)."""
    if value is _STR_FORMAT:
        return _checked_format
    if value is _STR_FORMAT_MAP:
        return _checked_format_map
    if type(value) is _BUILTIN_METHOD and value.__name__ in _FORMAT_METHODS:
        # every builtin method has __self__; mypy only sees str.format's signature here
        template = getattr(value, "__self__", None)
        if isinstance(template, str):
            if value.__name__ == "format":
                return lambda *args, **kwargs: _checked_format(template, *args, **kwargs)
            return lambda mapping: _checked_format_map(template, mapping)
    return value


def _checked_format(template: str, /, *args: object, **kwargs: object) -> str:
    _check_format_fields(template)
    return _STR_FORMAT(template, *args, **kwargs)


def _checked_format_map(template: str, mapping: "Mapping[str, object]", /) -> str:
    _check_format_fields(template)
    return _STR_FORMAT_MAP(template, mapping)


def _check_format_fields(template: object) -> None:
    """Refuse a template whose fields read an attribute the fence refuses, at any depth
    ("{0.__class__}", "{0:{1.__globals__}}"). A malformed template is left to str.format
    to report."""
    if not isinstance(template, str):
        return  # str.format itself raises TypeError
    try:
        fields = list(_string.formatter_parser(template))
    except ValueError:
        return
    for _literal, field, spec, _conversion in fields:
        if field:
            try:
                _first, rest = _string.formatter_field_name_split(field)
                lookups = list(rest)
            except ValueError:
                continue
            for is_attribute, key in lookups:
                if is_attribute:
                    _check_attribute_name(key)
        if spec:
            _check_format_fields(spec)


def _fenced_builtins() -> dict[str, object]:
    names = builtins.__dict__
    fenced: dict[str, object] = {name: names[name] for name in _SAFE_BUILTINS if name in names}
    fenced["__import__"] = _guarded_import
    fenced["getattr"] = _guarded_getattr
    fenced["hasattr"] = _guarded_hasattr
    return fenced


def _check_attribute_name(name: object) -> None:
    if not isinstance(name, str):
        return  # getattr itself refuses a name that is not a string
    if type(name) is not str:
        # A str subclass can answer startswith() and == as it likes while getattr reads
        # its characters: only plain strings can be checked.
        raise AttributeError("attribute names must be plain strings in the code node")
    if name.startswith("_") or name in _FORBIDDEN_ATTRIBUTES:
        raise AttributeError(f"access to attribute '{name}' is not allowed")


def _guarded_getattr(obj: object, name: str, *default: object) -> object:
    _check_attribute_name(name)
    return _fenced_value(getattr(obj, name, *default))


def _guarded_hasattr(obj: object, name: str) -> bool:
    _check_attribute_name(name)
    return hasattr(obj, name)


_views: "dict[str, ModuleType]" = {}


def _guarded_import(
    name: str,
    globals: object = None,
    locals: object = None,
    fromlist: "Sequence[str]" = (),
    level: int = 0,
) -> "ModuleType":
    if level != 0 or name not in ALLOWED_MODULES:
        raise ImportError(
            f"import of '{name}' is not allowed in the code node; allowed modules: "
            + ", ".join(ALLOWED_MODULES)
        )
    if fromlist:
        return _view(name)
    return _view(name.partition(".")[0])


def _view(name: str) -> "ModuleType":
    # A copy of the module's public, non-module names: `random._os` or `uuid.os` would
    # otherwise lead straight to the real os module.
    view = _views.get(name)
    if view is None:
        __import__(name)
        real = sys.modules[name]
        view = type(sys)(name)
        hidden = _HIDDEN_NAMES.get(name, ())
        for attribute, value in list(vars(real).items()):
            if attribute.startswith("_") or attribute in hidden or isinstance(value, type(sys)):
                continue
            setattr(view, attribute, value)
        if name == "functools":
            _fence_functools(view, real)
        for child in ALLOWED_MODULES:
            if child.startswith(name + ".") and "." not in child[len(name) + 1 :]:
                setattr(view, child[len(name) + 1 :], _view(child))
        _views[name] = view
    return view


def _fence_functools(view: "ModuleType", real: "ModuleType") -> None:
    """update_wrapper and wraps copy attributes named by the caller with the real getattr
    (``assigned=("__globals__",)`` into an object whose __setattr__ keeps what it gets):
    only the standard names may be given, or names the fence allows anyway."""
    standard = frozenset((*real.WRAPPER_ASSIGNMENTS, *real.WRAPPER_UPDATES))
    update_wrapper = real.update_wrapper

    def fenced_update_wrapper(
        wrapper: "Any",
        wrapped: "Any",
        assigned: "Iterable[str]" = real.WRAPPER_ASSIGNMENTS,
        updated: "Iterable[str]" = real.WRAPPER_UPDATES,
    ) -> "Any":
        assigned, updated = tuple(assigned), tuple(updated)
        for attribute in (*assigned, *updated):
            if type(attribute) is not str or attribute not in standard:
                _check_attribute_name(attribute)
        return update_wrapper(wrapper, wrapped, assigned, updated)

    def fenced_wraps(
        wrapped: "Any",
        assigned: "Iterable[str]" = real.WRAPPER_ASSIGNMENTS,
        updated: "Iterable[str]" = real.WRAPPER_UPDATES,
    ) -> "Any":
        return real.partial(
            fenced_update_wrapper, wrapped=wrapped, assigned=assigned, updated=updated
        )

    vars(view).update(update_wrapper=fenced_update_wrapper, wraps=fenced_wraps)


# Applying the OS layer in process mode (bwrap mode gets its seccomp filter from bwrap)


def _harden(landlock_paths: "list[str] | None", seccomp_program: "bytes | None") -> None:
    import ctypes  # only process mode pays for ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    ulong = ctypes.c_ulong

    def call(result: int) -> int:
        if result == -1:
            number = ctypes.get_errno()
            raise OSError(number, posix.strerror(number))
        return result

    call(libc.prctl(ulong(38), ulong(1), ulong(0), ulong(0), ulong(0)))  # PR_SET_NO_NEW_PRIVS
    if landlock_paths is not None:
        _restrict_paths(ctypes, libc, call, landlock_paths)
    if seccomp_program:
        program = ctypes.create_string_buffer(seccomp_program, len(seccomp_program))

        class SockFprog(ctypes.Structure):
            _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

        fprog = SockFprog(len(seccomp_program) // 8, ctypes.cast(program, ctypes.c_void_p))
        # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        call(libc.prctl(ulong(22), ulong(2), ctypes.byref(fprog), ulong(0), ulong(0)))


def _restrict_paths(
    ctypes: "ModuleType", libc: "Any", call: "Callable[[int], int]", paths: "list[str]"
) -> None:
    """Landlock: from here on only ``paths`` can be opened, and only for reading.

    Kernels without Landlock (ENOSYS, EOPNOTSUPP) leave the file system to the language
    fence; that is the documented weakness of process mode.
    """

    def syscall(number: int, *args: int) -> int:
        result: int = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(arg) for arg in args))
        return result

    create, add_rule, restrict = 444, 445, 446  # the same numbers on x86_64 and arm64
    abi = syscall(create, 0, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        return
    # Every file-system right this ABI knows about is handled, hence denied unless granted.
    handled = ctypes.c_uint64((1 << {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)) - 1)
    ruleset = call(syscall(create, ctypes.addressof(handled), 8, 0))
    execute, read_file, read_dir = 1 << 0, 1 << 2, 1 << 3
    for path in paths:
        try:
            fd = posix.open(path, posix.O_PATH | posix.O_CLOEXEC)
        except OSError:
            continue
        access = execute | read_file | (read_dir if _is_directory(path) else 0)
        # struct landlock_path_beneath_attr is packed: u64 allowed_access, s32 parent_fd.
        rule = ctypes.create_string_buffer(
            access.to_bytes(8, sys.byteorder) + fd.to_bytes(4, sys.byteorder), 12
        )
        call(syscall(add_rule, ruleset, 1, ctypes.addressof(rule), 0))
        posix.close(fd)
    call(syscall(restrict, ruleset, 0))
    posix.close(ruleset)


def _is_directory(path: str) -> bool:
    return posix.stat(path).st_mode & 0o170000 == 0o040000


# Reporting


def _describe(error: BaseException) -> str:
    line = None
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == _FILENAME:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    try:
        text = str(error)
    except BaseException:  # a user-defined __str__ may fail in any way
        text = ""
    described = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return f"Line {line}: {described}" if line is not None else described


def _encode_result(result: object, *, max_bytes: int) -> bytes:
    if not isinstance(result, list):
        hint = " (is a `return` missing?)" if result is None else ""
        return _error(
            "result",
            f"The code must return a list of items (dicts), not {type(result).__name__}{hint}.",
        )
    for index, item in enumerate(result):
        if not isinstance(item, dict):
            return _error(
                "result", f"Item {index} of the result is a {type(item).__name__}, not a dict."
            )
    try:
        encoded = _to_json(result)
    except MemoryError:
        raise
    except Exception as error:  # TypeError, ValueError, RecursionError, a user __repr__...
        return _error("result", f"The result is not JSON data: {error}")
    if len(encoded) > max_bytes:
        return _error("output", "output too large")
    return b'{"ok":true,"items":' + encoded + b"}"


def _error(kind: str, message: str) -> bytes:
    reply = {"ok": False, "kind": kind, "message": message[:_MAX_MESSAGE]}
    return _to_json(reply)


def _not_json(value: object) -> "NoReturn":
    raise TypeError(f"values of type {type(value).__name__} cannot be stored")


def _to_json(value: object) -> bytes:
    make_encoder = getattr(_json, "make_encoder", None)
    if make_encoder is None:  # an interpreter without the C accelerator
        import json

        text = json.dumps(value, default=_not_json, allow_nan=False, separators=(",", ":"))
        return text.encode("ascii")
    # The arguments json.encoder gives it: markers, default, string encoder, indent,
    # key separator, item separator, sort_keys, skipkeys, allow_nan.
    encoder = make_encoder(
        {}, _not_json, _json.encode_basestring_ascii, None, ":", ",", False, False, False
    )
    return "".join(encoder(value, 0)).encode("ascii")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view) :]


if __name__ == "__main__":
    try:
        main()
    except MemoryError:
        posix._exit(MEMORY_EXIT)
