"""n8n's ``={{ … }}`` JavaScript expressions, translated into LinkFlow expressions.

A small tokenizer and Pratt parser read the JavaScript subset n8n expressions use
(member access, calls, ``?.``, ``??``, ``&&``/``||``/``!``, ternaries, comparison and
arithmetic, template literals, regex, array and object literals) into a tree; the
emitter writes it as a Jinja expression calling the ``js_*`` functions of
``linkflow.engine.js_compat`` wherever JavaScript's meaning differs from Jinja's.
n8n's names become LinkFlow's: ``$json`` the current item, ``$('Node')`` / ``$node``
the view of that node's id, ``$input`` the node's input items, ``$now`` / ``$today`` the
run's clock in the workflow's time zone.

What the parser does not know (arrow functions, assignments, ``$env``, unknown node
names …) raises ``Untranslatable``; the caller keeps the original text and reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_SOURCE_CHARS = 10_000


class Untranslatable(Exception):
    """The expression uses something with no LinkFlow translation; ``str()`` says what."""


@dataclass
class Scope:
    """What the translation needs to know about the workflow: node names to ids, its name
    and time zone. ``warnings`` collects approximations made ($node reads the first item …)."""

    node_ids: dict[str, str] = field(default_factory=dict)
    workflow_name: str = ""
    timezone: str = "UTC"
    warnings: list[str] = field(default_factory=list)

    def node(self, name: Any) -> str:
        if not isinstance(name, str) or name not in self.node_ids:
            raise Untranslatable(f"unknown node {name!r}")
        return self.node_ids[name]

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


# --- tokens ------------------------------------------------------------------------------------

_PUNCTUATION = sorted(
    [
        "===",
        "!==",
        "**",
        "?.",
        "??",
        "||",
        "&&",
        "==",
        "!=",
        "<=",
        ">=",
        "=>",
        "...",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "?",
        ".",
        "!",
        "<",
        ">",
        "+",
        "-",
        "*",
        "/",
        "%",
        "=",
    ],
    key=len,
    reverse=True,
)
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "str", "tmpl", "regex", "name", "op", "end"
    value: Any
    position: int


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``; raises Untranslatable on a character it cannot read."""
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char.isspace():
            index += 1
            continue
        if char in "'\"":
            text, index = _read_string(source, index)
            tokens.append(Token("str", text, index))
            continue
        if char == "`":
            parts, index = _read_template(source, index)
            tokens.append(Token("tmpl", parts, index))
            continue
        if char == "/" and _regex_allowed(tokens):
            pattern, flags, index = _read_regex(source, index)
            tokens.append(Token("regex", (pattern, flags), index))
            continue
        number = _NUMBER.match(source, index)
        if number and (char.isdigit() or (char == "." and number.group(0) != ".")):
            text = number.group(0)
            value: Any = int(text, 16) if text[:2].lower() == "0x" else float(text)
            if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
                value = int(value)
            tokens.append(Token("num", value, index))
            index = number.end()
            continue
        name = _IDENTIFIER.match(source, index)
        if name:
            tokens.append(Token("name", name.group(0), index))
            index = name.end()
            continue
        for punctuation in _PUNCTUATION:
            if source.startswith(punctuation, index):
                # "?." before a digit is a ternary and a number (a ?.5 : b)
                if punctuation == "?." and index + 2 < len(source) and source[index + 2].isdigit():
                    continue
                tokens.append(Token("op", punctuation, index))
                index += len(punctuation)
                break
        else:
            raise Untranslatable(f"unexpected character {char!r} at {index}")
    tokens.append(Token("end", None, len(source)))
    return tokens


def _regex_allowed(tokens: list[Token]) -> bool:
    if not tokens:
        return True
    last = tokens[-1]
    if last.kind in ("num", "str", "tmpl", "regex"):
        return False
    if last.kind == "name":
        return last.value in ("return", "typeof")
    return last.value not in (")", "]", "}")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _read_escape(source: str, index: int) -> tuple[str, int]:
    """The character an escape at ``source[index] == '\\'`` stands for, and where it ends."""
    code = source[index + 1 : index + 2]
    if code == "u":
        if source[index + 2 : index + 3] == "{":
            end = source.index("}", index)
            return chr(int(source[index + 3 : end], 16)), end + 1
        return chr(int(source[index + 2 : index + 6], 16)), index + 6
    if code == "x":
        return chr(int(source[index + 2 : index + 4], 16)), index + 4
    return _ESCAPES.get(code, code), index + 2


def _read_string(source: str, index: int) -> tuple[str, int]:
    quote = source[index]
    index += 1
    chars: list[str] = []
    while index < len(source):
        char = source[index]
        if char == quote:
            return _joined_surrogates("".join(chars)), index + 1
        if char == "\\":
            try:
                text, index = _read_escape(source, index)
            except ValueError:
                raise Untranslatable("bad escape in a string") from None
            chars.append(text)
            continue
        chars.append(char)
        index += 1
    raise Untranslatable("unterminated string")


def _joined_surrogates(text: str) -> str:
    # "\uD83D\uDE00" in JavaScript is one character; Python keeps two halves unless joined.
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return text


def _read_template(source: str, index: int) -> tuple[list[Any], int]:
    """A template literal as a list of texts and (inner source) tuples."""
    index += 1
    parts: list[Any] = []
    chars: list[str] = []
    while index < len(source):
        char = source[index]
        if char == "`":
            parts.append("".join(chars))
            return parts, index + 1
        if char == "\\":
            text, index = _read_escape(source, index)
            chars.append(text)
            continue
        if source.startswith("${", index):
            parts.append("".join(chars))
            chars = []
            end = _matching_brace(source, index + 1)
            parts.append((source[index + 2 : end],))
            index = end + 1
            continue
        chars.append(char)
        index += 1
    raise Untranslatable("unterminated template literal")


def _matching_brace(source: str, index: int) -> int:
    depth = 0
    position = index
    while position < len(source):
        char = source[position]
        if char in "'\"":
            _, position = _read_string(source, position)
            continue
        if char == "`":
            _, position = _read_template(source, position)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return position
        position += 1
    raise Untranslatable("unterminated ${ in a template literal")


def _read_regex(source: str, index: int) -> tuple[str, str, int]:
    position = index + 1
    in_class = False
    while position < len(source):
        char = source[position]
        if char == "\\":
            position += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "/" and not in_class:
            flags = re.match(r"[a-z]*", source[position + 1 :]).group(0)  # type: ignore[union-attr]
            return source[index + 1 : position], flags, position + 1 + len(flags)
        position += 1
    raise Untranslatable("unterminated regular expression")


# --- parse tree --------------------------------------------------------------------------------
# Nodes are tuples: ("lit", value) ("name", text) ("member", object, key-node, optional)
# ("call", callee, [args], optional) ("unary", op, operand) ("binary", op, left, right)
# ("logical", op, left, right) ("cond", test, yes, no) ("array", [items])
# ("object", [(key, value)]) ("tmpl", [parts]) ("regex", pattern, flags)

_BINARY_POWER = {
    "??": 1,
    "||": 2,
    "&&": 3,
    "==": 6,
    "!=": 6,
    "===": 6,
    "!==": 6,
    "<": 7,
    ">": 7,
    "<=": 7,
    ">=": 7,
    "+": 9,
    "-": 9,
    "*": 10,
    "/": 10,
    "%": 10,
    "**": 11,
}
_PREFIX_POWER = 12


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.position = 0

    def peek(self) -> Token:
        return self.tokens[self.position]

    def next(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expect(self, value: str) -> None:
        token = self.next()
        if token.kind != "op" or token.value != value:
            raise Untranslatable(f"expected {value!r} at {token.position}")

    def at(self, value: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.value == value

    def parse(self) -> tuple[Any, ...]:
        tree = self.expression(0)
        if self.peek().kind != "end":
            token = self.peek()
            raise Untranslatable(f"unexpected {token.value!r} at {token.position}")
        return tree

    def expression(self, power: int) -> tuple[Any, ...]:
        left = self.prefix()
        while True:
            token = self.peek()
            if token.kind != "op":
                if token.kind == "name" and token.value in ("in", "instanceof"):
                    raise Untranslatable(f"the {token.value} operator")
                return left
            if token.value == "?" and power <= 0:
                self.next()
                yes = self.expression(0)
                self.expect(":")
                no = self.expression(0)
                left = ("cond", left, yes, no)
                continue
            if token.value == "=>":
                raise Untranslatable("arrow functions")
            if token.value == "=":
                raise Untranslatable("assignments")
            bound = _BINARY_POWER.get(token.value)
            if bound is None or (bound <= power and not (token.value == "**" and bound == power)):
                return left
            self.next()
            right = self.expression(bound if token.value != "**" else bound - 1)
            kind = "logical" if token.value in ("&&", "||", "??") else "binary"
            left = (kind, token.value, left, right)

    def prefix(self) -> tuple[Any, ...]:
        token = self.next()
        if token.kind == "op" and token.value in ("!", "-", "+"):
            return self.postfix(("unary", token.value, self.expression(_PREFIX_POWER)), lhs=False)
        if token.kind == "name" and token.value == "typeof":
            return ("unary", "typeof", self.expression(_PREFIX_POWER))
        return self.postfix(self.primary(token))

    def primary(self, token: Token) -> tuple[Any, ...]:
        if token.kind in ("num", "str"):
            return ("lit", token.value)
        if token.kind == "regex":
            return ("regex", *token.value)
        if token.kind == "tmpl":
            parts = [
                part if isinstance(part, str) else _Parser(part[0]).parse() for part in token.value
            ]
            return ("tmpl", parts)
        if token.kind == "name":
            keywords = {"true": True, "false": False, "null": None}
            if token.value in keywords:
                return ("lit", keywords[token.value])
            if token.value in ("function", "new", "this", "let", "const", "var", "return"):
                raise Untranslatable(f"'{token.value}'")
            if self.at("=>"):
                raise Untranslatable("arrow functions")
            return ("name", token.value)
        if token.kind == "op" and token.value == "(":
            inner = self.expression(0)
            if self.at(","):
                raise Untranslatable("the comma operator or an arrow function")
            self.expect(")")
            if self.at("=>"):
                raise Untranslatable("arrow functions")
            return ("group", inner)
        if token.kind == "op" and token.value == "[":
            return ("array", self.items("]"))
        if token.kind == "op" and token.value == "{":
            return ("object", self.members())
        raise Untranslatable(f"unexpected {token.value!r} at {token.position}")

    def items(self, closing: str) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = []
        while not self.at(closing):
            if self.at("..."):
                raise Untranslatable("spread syntax")
            found.append(self.expression(0))
            if not self.at(closing):
                self.expect(",")
        self.expect(closing)
        return found

    def members(self) -> list[tuple[str, tuple[Any, ...]]]:
        found: list[tuple[str, tuple[Any, ...]]] = []
        while not self.at("}"):
            token = self.next()
            if token.kind in ("name", "str", "num"):
                key = token.value if token.kind != "num" else _number_key(token.value)
            else:
                raise Untranslatable("computed or spread object keys")
            if not self.at(":"):
                raise Untranslatable("shorthand object members")
            self.expect(":")
            found.append((str(key), self.expression(0)))
            if not self.at("}"):
                self.expect(",")
        self.expect("}")
        return found

    def postfix(self, tree: tuple[Any, ...], *, lhs: bool = True) -> tuple[Any, ...]:
        while True:
            token = self.peek()
            if token.kind != "op":
                return tree
            if token.value in (".", "?."):
                self.next()
                optional = token.value == "?."
                if optional and self.at("("):
                    raise Untranslatable("optional calls ?.()")
                if optional and self.at("["):
                    self.next()
                    key = self.expression(0)
                    self.expect("]")
                    tree = ("member", tree, key, True)
                    continue
                name = self.next()
                if name.kind != "name":
                    raise Untranslatable(f"a property name expected at {name.position}")
                tree = ("member", tree, ("lit", name.value), optional)
            elif token.value == "[":
                self.next()
                key = self.expression(0)
                self.expect("]")
                tree = ("member", tree, key, False)
            elif token.value == "(":
                self.next()
                tree = ("call", tree, self.items(")"))
            else:
                return tree


def _number_key(value: Any) -> str:
    return str(value)


def parse(source: str) -> tuple[Any, ...]:
    """The parse tree of one JavaScript expression; Untranslatable if not in the subset."""
    if len(source) > MAX_SOURCE_CHARS:
        raise Untranslatable(f"longer than {MAX_SOURCE_CHARS} characters")
    try:
        return _Parser(source).parse()
    except RecursionError:
        raise Untranslatable("nested too deeply") from None
    except (IndexError, ValueError) as error:
        raise Untranslatable(f"cannot be read ({error})") from None


# --- emitter -----------------------------------------------------------------------------------


def literal(value: Any) -> str:
    """``value`` (JSON data) as a Jinja literal."""
    if value is None:
        return "none"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        return f"'{escaped}'"
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    raise Untranslatable(f"a value of type {type(value).__name__}")


_GLOBAL_FUNCTIONS = {
    "Number",
    "String",
    "Boolean",
    "parseInt",
    "parseFloat",
    "isNaN",
    "isFinite",
    "encodeURIComponent",
}
_NAMESPACED_FUNCTIONS = {
    "JSON": {"parse", "stringify"},
    "Object": {"keys", "values", "entries"},
    "Array": {"isArray"},
    "DateTime": {"fromISO"},
    "Math": {
        "round",
        "floor",
        "ceil",
        "trunc",
        "abs",
        "sqrt",
        "sign",
        "pow",
        "log",
        "log10",
        "exp",
        "max",
        "min",
    },
}
_MATH_CONSTANTS = {"PI": 3.141592653589793, "E": 2.718281828459045}


class _Emitter:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def emit(self, tree: tuple[Any, ...]) -> str:
        kind = tree[0]
        handler = getattr(self, f"_{kind}")
        code: str = handler(*tree[1:])
        return code

    def _group(self, inner: tuple[Any, ...]) -> str:
        return self.emit(inner)

    def _lit(self, value: Any) -> str:
        return literal(value)

    def _regex(self, pattern: str, flags: str) -> str:
        return f"js_re({literal(pattern)}, {literal(flags)})"

    def _array(self, items: list[tuple[Any, ...]]) -> str:
        return "[" + ", ".join(self.emit(item) for item in items) + "]"

    def _object(self, members: list[tuple[str, tuple[Any, ...]]]) -> str:
        return "{" + ", ".join(f"{literal(k)}: {self.emit(v)}" for k, v in members) + "}"

    def _tmpl(self, parts: list[Any]) -> str:
        pieces = [literal(p) if isinstance(p, str) else f"js_str({self.emit(p)})" for p in parts]
        pieces = [p for p in pieces if p != "''"] or ["''"]
        return "(" + " ~ ".join(pieces) + ")"

    def _name(self, name: str) -> str:
        scope = self.scope
        if name == "$json":
            return "json"
        if name == "undefined":
            return "js_undefined"
        if name == "NaN":
            return "js_num('NaN')"
        if name == "Infinity":
            return "js_num('Infinity')"
        if name == "$now":
            return f"js_now(now, {literal(scope.timezone)})"
        if name == "$today":
            return f"js_today(now, {literal(scope.timezone)})"
        if name == "$itemIndex":
            return "js_index(items, json)"
        if name == "$runIndex":
            return "0"
        if name == "$execution":
            return "execution"
        raise Untranslatable(f"'{name}'")

    def _unary(self, operator: str, operand: tuple[Any, ...]) -> str:
        if operator == "!":
            return f"(not js_truthy({self.emit(operand)}))"
        if operator == "typeof":
            return f"js_typeof({self.emit(operand)})"
        if operator == "-" and operand[0] == "lit" and isinstance(operand[1], int | float):
            return literal(-operand[1])
        if operator == "-":
            return f"js_neg({self.emit(operand)})"
        return f"js_num({self.emit(operand)})"

    def _binary(self, operator: str, left: tuple[Any, ...], right: tuple[Any, ...]) -> str:
        a, b = self.emit(left), self.emit(right)
        if operator == "+":
            return f"js_add({a}, {b})"
        if operator in ("-", "*", "/", "%", "**"):
            return f"js_arith({literal(operator)}, {a}, {b})"
        if operator in ("<", ">", "<=", ">="):
            return f"js_cmp({literal(operator)}, {a}, {b})"
        if operator == "===":
            return f"js_seq({a}, {b})"
        if operator == "!==":
            return f"(not js_seq({a}, {b}))"
        if operator == "==":
            return f"js_leq({a}, {b})"
        return f"(not js_leq({a}, {b}))"

    def _logical(self, operator: str, left: tuple[Any, ...], right: tuple[Any, ...]) -> str:
        operands = self._flatten(operator, ("logical", operator, left, right))
        if operator == "??":
            boxed = [f"js_nb({self.emit(o)})" for o in operands[:-1]]
            boxed.append(f"js_b({self.emit(operands[-1])})")
            return "js_v(" + " or ".join(boxed) + ")"
        joiner = " or " if operator == "||" else " and "
        return "js_v(" + joiner.join(f"js_b({self.emit(o)})" for o in operands) + ")"

    def _flatten(self, operator: str, tree: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if tree[0] == "logical" and tree[1] == operator:
            return self._flatten(operator, tree[2]) + self._flatten(operator, tree[3])
        return [tree]

    def _cond(self, test: tuple[Any, ...], yes: tuple[Any, ...], no: tuple[Any, ...]) -> str:
        return f"({self.emit(yes)} if js_truthy({self.emit(test)}) else {self.emit(no)})"

    # Member chains and calls carry n8n's special names: $input, $('Node'), $node …
    def _member(self, obj: tuple[Any, ...], key: tuple[Any, ...], optional: bool) -> str:
        special = self._special_member(obj, key)
        if special is not None:
            return special
        steps: list[str] = []
        base = ("member", obj, key, optional)
        while base[0] == "member" and self._special_member(base[1], base[2]) is None:
            _, inner, step, is_optional = base
            steps.insert(0, self.emit(step))
            if is_optional:
                steps.insert(0, "js_opt")
            base = inner
        emitted_base = self.emit(base)
        if emitted_base == "js_wrap(json)" and steps[:1] == ["'json'"]:
            emitted_base, steps = "json", steps[1:]  # $input.item.json is the current item
        if not steps:
            return emitted_base
        return f"js_get({emitted_base}, {', '.join(steps)})"

    def _special_member(self, obj: tuple[Any, ...], key: tuple[Any, ...]) -> str | None:
        name = key[1] if key[0] == "lit" else None
        if obj == ("name", "Math") and name in _MATH_CONSTANTS:
            return literal(_MATH_CONSTANTS[name])
        if obj == ("name", "$workflow") and name in ("name", "id", "active"):
            values = {"name": literal(self.scope.workflow_name), "active": "true"}
            return values.get(name, "js_get(execution, 'workflow_id')")
        if obj == ("name", "$input") and name == "item":
            return "js_wrap(json)"
        if obj == ("name", "$node"):
            node_id = self.scope.node(name)
            self.scope.warn("$node['…'] reads that node's first item")
            return f"js_get(nodes, {literal(node_id)})"
        if _is_node_call(obj) and name == "item":
            node_id = self.scope.node(obj[2][0][1])
            return f"js_item(nodes, {literal(node_id)})"
        if _is_node_call(obj) and name == "isExecuted":
            node_id = self.scope.node(obj[2][0][1])
            return f"('{node_id}' in nodes)"
        items_object = obj == ("name", "$input") or _is_node_call(obj)
        if items_object and name not in ("first", "last", "all", "item"):
            raise Untranslatable(f"$input.{name}" if obj[0] == "name" else f"$('…').{name}")
        return None

    def _call(self, callee: tuple[Any, ...], args: list[tuple[Any, ...]]) -> str:
        emitted = [self.emit(arg) for arg in args]
        if callee == ("name", "$"):
            raise Untranslatable("$('…') used without .item, .first(), .last() or .all()")
        if callee[0] == "name":
            name = callee[1]
            if name in _GLOBAL_FUNCTIONS:
                return f"js_fn({literal(name)}{''.join(', ' + a for a in emitted)})"
            if name == "$items":
                if not args:
                    return "js_all(items)"
                if args[0][0] != "lit":
                    raise Untranslatable("$items() with a computed node name")
                node_id = self.scope.node(args[0][1])
                return f"js_all(js_get(nodes, {literal(node_id)}, 'items'))"
            raise Untranslatable(f"the function '{name}'")
        if callee[0] != "member":
            raise Untranslatable("calling a computed value")
        _, obj, key, optional = callee
        method = key[1] if key[0] == "lit" else None
        if not isinstance(method, str):
            raise Untranslatable("computed method names")
        if obj[0] == "name" and obj[1] in _NAMESPACED_FUNCTIONS:
            if method not in _NAMESPACED_FUNCTIONS[obj[1]]:
                raise Untranslatable(f"{obj[1]}.{method}()")
            return f"js_fn({literal(obj[1] + '.' + method)}{''.join(', ' + a for a in emitted)})"
        if obj == ("name", "DateTime") and method == "now":
            return f"js_now(now, {literal(self.scope.timezone)})"
        items_source = self._items_source(obj)
        if items_source is not None:
            if method == "first":
                return f"js_pick({items_source}, 0)"
            if method == "last":
                return f"js_pick({items_source}, -1)"
            if method == "all":
                return f"js_all({items_source})"
            raise Untranslatable(f".{method}() of a node's items")
        receiver = self.emit(obj)
        name = ("?" if optional else "") + method
        return f"js_call({receiver}, {literal(name)}{''.join(', ' + a for a in emitted)})"

    def _items_source(self, obj: tuple[Any, ...]) -> str | None:
        if obj == ("name", "$input"):
            return "items"
        if _is_node_call(obj):
            node_id = self.scope.node(obj[2][0][1])
            return f"js_get(nodes, {literal(node_id)}, 'items')"
        return None


def _is_node_call(tree: tuple[Any, ...]) -> bool:
    """``$('Node')`` with a literal name."""
    return (
        tree[0] == "call"
        and tree[1] == ("name", "$")
        and len(tree[2]) == 1
        and tree[2][0][0] == "lit"
        and isinstance(tree[2][0][1], str)
    )


def translate_expression(source: str, scope: Scope) -> str:
    """One JavaScript expression (the inside of ``{{ }}``) as a Jinja expression."""
    return _Emitter(scope).emit(parse(source.strip()))


# --- parameter values ------------------------------------------------------------------------


@dataclass
class Translation:
    """One n8n parameter value translated: ``value`` for LinkFlow; ``expressions`` the
    original ``={{ }}`` texts found, ``kept`` the ones that could not be translated (with
    the reason), ``warnings`` the approximations."""

    value: Any
    expressions: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


_SEGMENT = re.compile(r"\{\{(.*?)\}\}", re.S)


def escape_literal(text: str) -> str:
    """Plain text that LinkFlow must not read as an expression: each "{{" written as one."""
    if "{{" not in text:
        return text
    return text.replace("{{", "{{ '{{' }}")


def translate_text(text: str, scope: Scope) -> Translation:
    """A string parameter: n8n marks expressions with a leading '='. Plain text stays as
    it is (with any '{{' escaped); '={{ x }}' alone becomes one expression giving x's
    value; text around expressions becomes a template giving text. An expression that
    cannot be translated makes the whole value a ``js_untranslated`` call that fails
    at run time with the original text."""
    if not text.startswith("="):
        return Translation(escape_literal(text))
    body = text[1:]
    segments = _split_segments(body)
    result = Translation(body)
    expressions = [s for s in segments if isinstance(s, tuple)]
    result.expressions = [f"{{{{{s[0]}}}}}" for s in expressions]
    scope.warnings = []
    try:
        translated = [
            s if isinstance(s, str) else translate_expression(s[0], scope) for s in segments
        ]
    except Untranslatable as reason:
        result.kept = [(text, str(reason))]
        result.value = "{{ js_untranslated(" + literal(text) + ") }}"
        return result
    result.warnings = list(scope.warnings)
    if len(expressions) == 1 and all(isinstance(s, tuple) or not s.strip() for s in segments):
        result.value = (
            "{{ js_out(" + translated[[isinstance(s, tuple) for s in segments].index(True)] + ") }}"
        )
        return result
    pieces = []
    for original, emitted in zip(segments, translated, strict=True):
        pieces.append(
            escape_literal(emitted)
            if isinstance(original, str)
            else "{{ js_text(" + emitted + ") }}"
        )
    result.value = "".join(pieces)
    return result


def translate_operand(value: Any, scope: Scope) -> Translation:
    """Any parameter value as ONE Jinja expression (no ``{{ }}``), for the importer to
    build larger expressions from (conditions, typed fields): an n8n expression becomes
    its translation, text around expressions a concatenation, a literal its literal."""
    if not isinstance(value, str) or not value.startswith("="):
        if isinstance(value, str):
            return Translation(literal(value))
        return Translation(literal(value))
    body = value[1:]
    segments = _split_segments(body)
    expressions = [s for s in segments if isinstance(s, tuple)]
    result = Translation(body, expressions=[f"{{{{{s[0]}}}}}" for s in expressions])
    scope.warnings = []
    try:
        translated = [
            literal(s) if isinstance(s, str) else translate_expression(s[0], scope)
            for s in segments
        ]
    except Untranslatable as reason:
        result.kept = [(value, str(reason))]
        result.value = "js_untranslated(" + literal(value) + ")"
        return result
    result.warnings = list(scope.warnings)
    if len(expressions) == 1 and all(isinstance(s, tuple) or not s.strip() for s in segments):
        result.value = translated[[isinstance(s, tuple) for s in segments].index(True)]
        return result
    if not segments:
        result.value = "''"
        return result
    pieces = [
        piece if isinstance(original, str) else f"js_text({piece})"
        for original, piece in zip(segments, translated, strict=True)
    ]
    result.value = "(" + " ~ ".join(pieces) + ")"
    return result


def _split_segments(body: str) -> list[Any]:
    """Texts and (expression source,) tuples; '}}' inside a JavaScript string does not
    end an expression."""
    segments: list[Any] = []
    cursor = 0
    while True:
        start = body.find("{{", cursor)
        if start == -1:
            break
        end = _expression_end(body, start + 2)
        if end == -1:
            break
        if start > cursor:
            segments.append(body[cursor:start])
        segments.append((body[start + 2 : end],))
        cursor = end + 2
    if cursor < len(body):
        segments.append(body[cursor:])
    return segments


def _expression_end(body: str, index: int) -> int:
    position = index
    while position < len(body):
        char = body[position]
        if char in "'\"`":
            try:
                position = (_read_template if char == "`" else _read_string)(body, position)[1]
            except (Untranslatable, ValueError):
                return body.find("}}", index)
            continue
        if body.startswith("}}", position):
            return position
        position += 1
    return -1


def translate_value(value: Any, scope: Scope) -> Translation:
    """Any parameter value: strings translated as ``translate_text`` does, lists and
    objects walked, other JSON values unchanged."""
    if isinstance(value, str):
        return translate_text(value, scope)
    if isinstance(value, dict):
        result = Translation({})
        for key, item in value.items():
            part = translate_value(item, scope)
            result.value[key] = part.value
            _absorb(result, part)
        return result
    if isinstance(value, list):
        result = Translation([])
        for item in value:
            part = translate_value(item, scope)
            result.value.append(part.value)
            _absorb(result, part)
        return result
    return Translation(value)


def _absorb(into: Translation, part: Translation) -> None:
    into.expressions += part.expressions
    into.kept += part.kept
    into.warnings += [w for w in part.warnings if w not in into.warnings]


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("=")
