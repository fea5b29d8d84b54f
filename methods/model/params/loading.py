"""Reading and validating parameter files.

Parameter files are data only. They are parsed with YAML's safe loader; anything that could
construct objects (tags) or blow up into a huge document (very large files, aliases expanding to
too many values, duplicate keys) is refused before it is interpreted. Every problem is reported as one :class:`~methods.errors.Problem`
naming the file, the field path, the line and what is wrong; unknown keys come with the closest
valid key.
"""
from __future__ import annotations

import difflib
import hashlib
import os
import re
import stat
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ParameterError, Problem
from ..i18n import N_, _, current_language
from .country import FORMAT, CountryFile
from .records import UNION_TAGS, Quantity, SourceRef
from .smuggling import PLACES

MAX_BYTES = 1_000_000
MAX_NODES = 200_000  # after expanding aliases: guards against "billion laughs" documents
ISO3 = re.compile(r"[A-Z]{3}")  # use with fullmatch


# ----- YAML ---------------------------------------------------------------------------------

class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, other: Any = None):
        self.key, self.line, self.other = key, line, other


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when available: ten times faster


class _Loader(_Base):
    """Safe loader that refuses duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    seen: dict[str, Any] = {}  # keys as written, so that 2018 and "2018" are the same key
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise _DuplicateKey(None, key_node.start_mark.line + 1) from None
        written = str(key).strip()
        if key in out or written in seen:
            raise _DuplicateKey(key, key_node.start_mark.line + 1, seen.get(written, key))
        seen[written] = key
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# the types a parameter file may hold: plain data, nothing that builds objects or binary blobs
PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge")}
# a number as people write it: YAML 1.1 also reads 1:30 (sexagesimal, 90), 03742 (octal, 2018),
# 0x7E2 (hexadecimal) and 1_000 as numbers, which a national team would not mean
PLAIN_NUMBER = re.compile(r"[-+]?(0|[1-9]\d*)(\.\d*)?([eE][-+]?\d+)?|[-+]?\.\d+([eE][-+]?\d+)?|[-+]?0\.\d*")
# 61.000 or 2.500: in Spanish writing a thousands separator (61000, 2500), in English a decimal (61, 2.5)
AMBIGUOUS_NUMBER = re.compile(r"[-+]?[1-9]\d{0,2}\.\d\d0")
SPECIAL_FLOAT = re.compile(r"[-+]?\.(inf|Inf|INF|nan|NaN|NAN)")  # refused with the field named, by the schema
MAX_FLOW_DEPTH = 40  # [ and { nested within each other
MAX_INDENT = 200  # columns of indentation (about 100 levels of block nesting)


def _nesting_problem(text: str) -> tuple[str, int] | None:
    """Refuse, before parsing, a document nested so deeply that a YAML parser would exhaust its stack
    (a file of 50,000 opening brackets crashes libyaml). Brackets are counted outside quoted strings
    and comments. Returns (message, line) or None."""
    depth, line, state, i, n = 0, 1, "plain", 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            if state == "comment":
                state = "plain"
        elif state == "comment":
            pass
        elif state == "single":
            if ch == "'":
                if i + 1 < n and text[i + 1] == "'":
                    i += 1
                else:
                    state = "plain"
        elif state == "double":
            if ch == "\\":
                i += 1
            elif ch == '"':
                state = "plain"
        else:
            starts_token = i == 0 or text[i - 1] in " \t\n[{,:-?"
            if ch == "#" and (i == 0 or text[i - 1] in " \t\n"):
                state = "comment"
            elif ch == "'" and starts_token:
                state = "single"
            elif ch == '"' and starts_token:
                state = "double"
            elif ch in "[{":
                depth += 1
                if depth > MAX_FLOW_DEPTH:
                    return _("the YAML document is nested too deeply (brackets more than {limit} deep)").format(
                        limit=MAX_FLOW_DEPTH), line
            elif ch in "]}":
                depth = max(depth - 1, 0)
        i += 1
    for number, row in enumerate(text.splitlines(), 1):
        if len(row) - len(row.lstrip(" ")) > MAX_INDENT:
            return _("the YAML document is nested too deeply (more than {limit} columns of indentation)").format(
                limit=MAX_INDENT), number
    return None


def _expanded_size(node: yaml.Node) -> int:
    """Number of nodes once every alias is expanded (computed without expanding)."""
    memo: dict[int, int] = {}

    def size(n: yaml.Node, depth: int = 0) -> int:
        if depth > 200:
            raise RecursionError
        key = id(n)
        if key in memo:
            return memo[key]
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v, depth + 1) for v in n.value)
        else:
            total = 1
        memo[key] = total
        return total

    return size(node)


def _key(node: yaml.Node):
    """The Python value of a mapping key, as the safe loader builds it (years are integers)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag == "tag:yaml.org,2002:int":
        try:
            return int(node.value.replace("_", ""))
        except ValueError:
            return node.value
    return node.value


def _line_index(node: yaml.Node, prefix: tuple = (), depth: int = 0) -> Iterator[tuple[tuple, int]]:
    """(path, line) for every node of a composed YAML document."""
    yield prefix, node.start_mark.line + 1
    if depth > 100:
        return
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = _key(k)
            yield prefix + (key,), k.start_mark.line + 1
            yield from _line_index(v, prefix + (key,), depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            yield from _line_index(v, prefix + (i,), depth + 1)


def _flow_decimal_comma(node: yaml.Node, text: str) -> tuple[str, int] | None:
    """A number written with a decimal comma inside braces (``{2018: 2,5, 2019: 3}``), which YAML
    reads as two entries, ``2018: 2`` and a key ``5``: a whole-number key written right after a
    comma that follows a whole-number value, with no space between. (message, line) or None."""
    stack = [node]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            pairs = n.value
            if n.flow_style:
                for (_k0, v0), (k1, v1) in zip(pairs, pairs[1:]):
                    # "2018: 2,5" reads as "2018: 2" and a key "5" without a value ("2018: 2,2019: 3",
                    # a comma without its space, is two entries, and right)
                    if (isinstance(v0, yaml.ScalarNode) and isinstance(k1, yaml.ScalarNode)
                            and v0.tag.endswith(":int") and k1.tag.endswith(":int") and not v0.style
                            and not k1.style and text[v0.end_mark.index:k1.start_mark.index] == ","
                            and isinstance(v1, yaml.ScalarNode) and v1.tag.endswith(":null") and not v1.value):
                        written, meant = f"{v0.value},{k1.value}", f"{v0.value}.{k1.value}"
                        return (_("{written} has a decimal comma: write the number with a decimal point ({meant}); "
                                  "between braces, YAML would read the comma as the end of an entry").format(
                                      written=written, meant=meant), v0.start_mark.line + 1)
            stack += [x for pair in pairs for x in pair]
        elif isinstance(n, yaml.SequenceNode):
            stack += n.value
    return None


def _check_nodes(node: yaml.Node) -> tuple[str, int, str] | None:
    """The first node that is not plain data — a tag that would construct an object, a YAML type
    other than text, numbers, true/false, null, lists and mappings, or a number written in a form
    YAML 1.1 reads differently from what people mean — as (message, line, field path)."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple]] = [(node, ())]
    while stack:
        n, where = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        tag = n.tag if isinstance(n.tag, str) else ""
        line = n.start_mark.line + 1
        field = ".".join(map(str, where))
        scalar = isinstance(n, yaml.ScalarNode)
        if tag not in PLAIN_TAGS:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            if tag.startswith("tag:yaml.org,2002:") and not tag.startswith("tag:yaml.org,2002:python"):
                what = {"!!timestamp": _("a date"), "!!binary": _("binary data")}.get(
                    shown, _("the YAML type {type}").format(type=shown))
                value = f" ({n.value!r})" if scalar else ""
                return (_("{what} is not allowed here{value}: parameter files hold numbers, text, true/false, lists and "
                          "mappings; put a date or a code in quotes").format(what=what, value=value)), line, field
            return _("YAML tag {tag} is not allowed: parameter files hold plain data").format(tag=repr(shown)), line, field
        if scalar and tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") \
                and not PLAIN_NUMBER.fullmatch(n.value) and not SPECIAL_FLOAT.fullmatch(n.value):
            reading = yaml.safe_load(n.value) if len(n.value) < 40 else None
            meant = (_(", which YAML reads as {reading}").format(reading=repr(reading))
                     if reading is not None and str(reading) != n.value else "")
            return (_("the number {number} is not written as a plain decimal number{meant}: write digits, with a "
                      "decimal point if needed (e.g. 2018, 1.5, 2.5e6), or put text in quotes").format(
                          number=repr(n.value), meant=meant)), line, field
        if scalar and tag == "tag:yaml.org,2002:float" and AMBIGUOUS_NUMBER.fullmatch(n.value):
            whole, _dot, decimals = n.value.lstrip("+-").partition(".")
            return (_("the number {number} is ambiguous: written the Spanish way it is {spanish}, written the English "
                      "way {english}; write {spanish} or {english} (a decimal point, no thousands separators)").format(
                          number=n.value, spanish=whole + decimals, english=f"{float(n.value):g}")), line, field
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack += [(k, where), (v, where + (_key(k),))]
        elif isinstance(n, yaml.SequenceNode):
            stack += [(v, where + (i,)) for i, v in enumerate(n.value)]
    return None


FILE_KINDS = ((stat.S_ISDIR, N_("a folder")), (stat.S_ISFIFO, N_("a named pipe (FIFO)")), (stat.S_ISCHR, N_("a device")),
              (stat.S_ISBLK, N_("a device")), (stat.S_ISSOCK, N_("a socket")))


def read_bounded(path: Path, fail) -> bytes:
    """The bytes of a regular file of at most MAX_BYTES. Anything else — a folder, a named pipe, a
    device, a socket, a missing file — is refused (``fail(message)`` builds the error) without
    blocking: the file is opened non-blocking and checked before it is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise fail(_("is a folder, not a parameter file")) from None
    except FileNotFoundError:
        raise fail(_("no such file")) from None
    except OSError as e:
        raise fail(_("cannot read the file ({reason})").format(reason=e.strerror)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((what for test, what in FILE_KINDS if test(info.st_mode)), N_("not a regular file"))
            raise fail(_("is {kind}, not a regular file: only regular files are read").format(kind=_(kind)))
        if info.st_size > MAX_BYTES:
            raise fail(_("file is too large ({size} bytes; a parameter file is at most {limit} bytes)").format(
                size=f"{info.st_size:,}", limit=f"{MAX_BYTES:,}"))
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_BYTES:
                raise fail(_("file is too large (more than {limit} bytes)").format(limit=f"{MAX_BYTES:,}"))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _failure(name: str):
    def fail(message: str, line: int | None = None) -> ParameterError:
        return ParameterError([Problem(name, "", message, line)])
    return fail


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, dict[tuple, int]]:
    """Read and parse a YAML file safely. Returns (data, line of each path). Raises ParameterError."""
    name = display or str(path)
    return parse_yaml(read_bounded(path, _failure(name)), name)


def parse_yaml(data_bytes: bytes, name: str) -> tuple[Any, dict[tuple, int]]:
    """Parse the bytes of a YAML file safely (``name`` is shown in errors). Returns (data, line of
    each path). Raises ParameterError."""
    fail = _failure(name)
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        raise fail(_("not valid UTF-8 text (byte {byte})").format(byte=e.start)) from None
    nesting = _nesting_problem(text)
    if nesting is not None:
        raise fail(*nesting)

    if not text.strip():
        raise fail(_("the file is empty"))
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise fail(_("the file is empty"))
            comma = _flow_decimal_comma(node, text)
            if comma is not None:
                raise fail(*comma)
            not_plain = _check_nodes(node)
            if not_plain is not None:
                message, line, field = not_plain
                raise ParameterError([Problem(name, field, message, line)])
            size = _expanded_size(node)
            if size > MAX_NODES:
                raise fail(_("the document expands to {size} values through anchors and aliases "
                             "(at most {limit} are allowed)").format(size=f"{size:,}", limit=f"{MAX_NODES:,}"))
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except _DuplicateKey as e:
        if e.key is None:
            what = _("a key must be a plain value")
        elif e.other is not None and e.other != e.key:
            what = _("duplicate key {key}: it is the same key as {other}").format(key=repr(e.key), other=repr(e.other))
        else:
            what = _("duplicate key {key}").format(key=repr(e.key))
        raise fail(_("{what} (each key may appear once in a mapping)").format(what=what), e.line) from None
    except yaml.constructor.ConstructorError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise fail(_("YAML construct not allowed: {problem}").format(problem=e.problem), line) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        col = _(", column {column}").format(column=mark.column + 1) if mark else ""
        raise fail(_("YAML syntax error{column}: {problem}").format(column=col, problem=e.problem), line) from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow in text (NUL, DEL, ...)
        code = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or " ")
        line = text.count("\n", 0, e.position) + 1 if isinstance(e.position, int) else None
        raise fail(_("contains the character U+{code}, which a parameter file may not hold: remove it").format(
            code=f"{code:04X}"), line) from None
    except yaml.YAMLError as e:
        raise fail(_("YAML error: {error}").format(error=" ".join(str(e).split()))) from None
    except RecursionError:
        raise fail(_("the YAML document is nested too deeply")) from None
    lines: dict[tuple, int] = {}
    for p, ln in _line_index(node):
        lines.setdefault(p, ln)
    return data, lines


# ----- pydantic errors -> problems ------------------------------------------------------------

def _unwrap(tp: Any) -> list[Any]:
    """The concrete types inside Annotated/Optional/Union."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out = []
        for a in get_args(tp):
            out += _unwrap(a)
        return out
    return [tp]


def _fields_at(loc: tuple) -> list[str] | None:
    """Field names allowed at ``loc`` (the mapping that holds the last element of loc)."""
    current: list[Any] = [CountryFile]
    for part in loc[:-1]:
        nxt: list[Any] = []
        for tp in current:
            for t in _unwrap(tp):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    f = t.model_fields.get(part) if isinstance(part, str) else None
                    if f is not None:
                        nxt.append(f.annotation)
                elif get_origin(t) is dict:
                    nxt.append(get_args(t)[1])
                elif get_origin(t) is list:
                    nxt.append(get_args(t)[0])
        current = nxt
    names: list[str] = []
    for tp in current:
        for t in _unwrap(tp):
            if isinstance(t, type) and issubclass(t, BaseModel):
                names += list(t.model_fields)
    return names or None


def _clean_loc(loc: tuple) -> tuple:
    return tuple(p for p in loc if not (isinstance(p, str) and (p in UNION_TAGS or p == "[key]" or p.startswith("function-"))))


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


_NAMED_FIELD = re.compile(r"([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): ")


def problems_from_validation(err: ValidationError, name: str, lines: dict[tuple, int]) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for e in err.errors():
        loc = _clean_loc(tuple(e["loc"]))
        kind = e["type"]
        msg = e["msg"]
        if kind == "extra_forbidden":
            key = loc[-1]
            allowed = _fields_at(loc) or []
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = (_(" (did you mean {key}?)").format(key=repr(close[0])) if close else
                    (_(" (allowed: {keys})").format(keys=", ".join(allowed)) if allowed else ""))
            msg = _("unknown key {key}{hint}").format(key=repr(key), hint=hint)
            path_loc = loc[:-1]
        elif kind == "missing":
            msg = _("missing required key {key}").format(key=repr(loc[-1]))
            path_loc = loc[:-1]
        elif isinstance(e.get("input"), str) and e["input"].strip().upper() == "MISSING" and "MISSING" not in msg:
            path_loc = loc
            msg = _("still marked MISSING: fill it in")
        else:
            path_loc = loc
            ctx = e.get("ctx") or {}
            # pydantic's own errors, in the command line's language; an error of the handbook's own
            # validators (records.bad) is already written, and carries no context of pydantic's
            fixed = {
                "string_pattern_mismatch": lambda: _("has the wrong form") + (
                    _(" (a three-letter upper-case code such as COL)") if loc and loc[-1] in ("country", "currency") else ""
                ),
                "model_type": lambda: _("must be a mapping of keys (key: value)"),
                "dict_type": lambda: _("must be a mapping of keys (key: value)"),
                "list_type": lambda: _("must be a list"),
                "float_parsing": lambda: _("must be a number"),
                "float_type": lambda: _("must be a number"),
                "int_parsing": lambda: _("must be a whole number"),
                "int_type": lambda: _("must be a whole number"),
                "bool_parsing": lambda: _("must be true or false"),
                "bool_type": lambda: _("must be true or false"),
                "string_type": lambda: _("must be text"),
            }
            with_context = {
                "literal_error": ("expected", lambda v: _("must be one of {expected}").format(expected=v)),
                "greater_than": ("gt", lambda v: _("must be greater than {limit}").format(limit=v)),
                "greater_than_equal": ("ge", lambda v: _("must be at least {limit}").format(limit=v)),
                "less_than": ("lt", lambda v: _("must be less than {limit}").format(limit=v)),
                "less_than_equal": ("le", lambda v: _("must be at most {limit}").format(limit=v)),
                "string_too_long": ("max_length", lambda v: _("is too long (at most {limit} characters)").format(limit=v)),
                "too_long": ("max_length", lambda v: _("has too many entries (at most {limit})").format(limit=v)),
            }
            if kind in fixed:
                msg = fixed[kind]()
            elif kind in with_context and with_context[kind][0] in ctx:
                msg = with_context[kind][1](ctx[with_context[kind][0]])
            if kind.startswith("value_error"):
                msg = msg.removeprefix("Value error, ")
            # a check of a whole section that names the field it concerns ("lcu_per_usd: unit must
            # be ...") is reported at that field, and at its line
            named = _NAMED_FIELD.match(msg)
            if named:
                sub = tuple(int(s) if s.isdigit() else s for s in named.group(1).split("."))
                if loc + sub in lines:
                    loc = path_loc = loc + sub
                    msg = msg[named.end():]
                    if "unit" in msg.split(":")[0] and loc + ("unit",) in lines:
                        loc = loc + ("unit",)
        path = ".".join(str(p) for p in path_loc)
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        out.append(Problem(name, path, msg, _line_for(loc, lines)))
    return out


# ----- checks that need the model years or the bibliography ----------------------------------

def iter_quantities(obj: Any, path: tuple = ()) -> Iterator[tuple[tuple, Quantity]]:
    """Every Quantity in a validated file, with its path."""
    for p, node in _nodes(obj, path, stop=lambda n: isinstance(n, Quantity)):
        if isinstance(node, Quantity):
            yield p, node


def _nodes(obj: Any, path: tuple = (), stop=lambda node: False) -> Iterator[tuple[tuple, Any]]:
    """Every part of a validated file (models, mappings, lists and values), with its path; the parts
    of a node for which ``stop`` is true are not visited."""
    yield path, obj
    if stop(obj):
        return
    if isinstance(obj, BaseModel):
        items = ((name, getattr(obj, name)) for name in type(obj).model_fields)
    elif isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return
    for key, value in items:
        yield from _nodes(value, path + (key,), stop)


def iter_sources(obj: Any, path: tuple = ()) -> Iterator[tuple[tuple, SourceRef]]:
    for qpath, q in iter_quantities(obj, path):
        if q.source is not None:
            yield qpath + ("source",), q.source
        for y, v in (q.values or {}).items():
            if getattr(v, "source", None) is not None:
                yield qpath + ("values", y, "source"), v.source


def _share_groups(cf: CountryFile) -> Iterator[tuple[tuple, dict[str, Quantity]]]:
    """Groups of shares that must sum to one."""
    if cf.markets.drugs is not None:
        for drug, chain in cf.markets.drugs.chains.items():
            for stage, st in chain.stages.items():
                where = ("markets", "drugs", "chains", drug, "stages", stage)
                for flow in ("exports", "imports"):
                    f = getattr(st, flow)
                    if f is not None:
                        yield where + (flow, "routes"), {k: r.share for k, r in f.routes.items()}
                        for rid, r in f.routes.items():
                            if r.sold_at:
                                yield where + (flow, "routes", rid, "sold_at"), dict(r.sold_at)
                if st.retail is not None:
                    yield where + ("retail", "user_types"), {k: t.share_of_users for k, t in st.retail.user_types.items()}
    if cf.markets.smuggling is not None:
        for cid, c in cf.markets.smuggling.corridors.items():
            for group in ("payment_place", "smuggler_residence"):
                shares = getattr(c, group)
                yield (("markets", "smuggling", "corridors", cid, group),
                       {k: getattr(shares, k) for k in PLACES if getattr(shares, k) is not None})


def semantic_problems(cf: CountryFile, name: str, lines: dict[tuple, int], bib_keys: set[str] | None) -> list[Problem]:
    out: list[Problem] = []
    years = cf.years

    def add(path: tuple, msg: str) -> None:
        out.append(Problem(name, ".".join(str(p) for p in path), msg, _line_for(path, lines)))

    for path, q in iter_quantities(cf):
        if q.values is not None and q.extend == "none":
            missing = [y for y in years if y not in q.values]
            if missing:
                add(path + ("values",), _("no value for {years} (the file models {first}-{last}); add the years or "
                                          "set extend: nearest").format(years=", ".join(map(str, missing)),
                                                                        first=cf.first_year, last=cf.last_year))
    for path, shares in _share_groups(cf):
        for y in years:
            try:
                total = sum(q.at_year(y)[0] for q in shares.values())
            except KeyError:
                continue  # reported above
            if abs(total - 1) > 1e-3:
                add(path, _("shares must sum to 1 in {year}, they sum to {total} ({shares})").format(
                    year=y, total=f"{total:.4g}", shares=", ".join(shares)))
                break
    if bib_keys is not None:
        for path, src in iter_sources(cf):
            if src.key not in bib_keys:
                close = difflib.get_close_matches(src.key, sorted(bib_keys), n=1, cutoff=0.7)
                hint = _(" (did you mean {key}?)").format(key=repr(close[0])) if close else ""
                add(path + ("key",), _("source key {key} is not in book/references.bib{hint}").format(
                    key=repr(src.key), hint=hint))
        for path, field, text in _free_texts(cf):
            for token in _KEY_LIKE.findall(text):
                if token not in bib_keys and _looks_like_key(token, bib_keys):
                    close = difflib.get_close_matches(token, sorted(bib_keys), n=1, cutoff=0.7)
                    hint = _(" (did you mean {key}?)").format(key=repr(close[0])) if close else ""
                    add(path + (field,), _("names {token}, which is not a key of book/references.bib{hint}: readers "
                                           "would see it as typed; add the entry to the bibliography, or name the "
                                           "publication in words").format(token=repr(token), hint=hint))
    return out


_KEY_LIKE = re.compile(r"(?<![\w])[a-z][a-z0-9]*(?:_[a-z0-9]+){2,}(?![\w])")


def _looks_like_key(token: str, keys: set[str]) -> bool:
    """A token written like the bibliography's keys: a four-digit year in it, or the first word of
    a key (press_, unodc_, ...)."""
    return bool(re.search(r"\d{4}", token)) or token.split("_")[0] in {k.split("_")[0] for k in keys}


TEXT_FIELDS = ("assumption", "at", "range_note", "note", "summary", "what", "institution", "description", "label", "place",
               "partner_label")


def _free_texts(obj, path: tuple = ()):
    """(path, field, text) of every free text of a parameter file that is shown to readers."""
    for p, node in _nodes(obj, path):
        if p and isinstance(node, str) and p[-1] in TEXT_FIELDS:
            yield p[:-1], p[-1], node


# ----- public API -------------------------------------------------------------------------------

def bib_keys(bib_path: Path) -> set[str]:
    """Entry keys of a BibTeX file, read with pybtex (the parser the handbook's bibliography uses),
    once per process while the file is unchanged."""
    return {key for key, *_ in _bib_entries(Path(bib_path))}


def bib_labels(bib_path: Path, and_word: str = "and") -> dict[str, str]:
    """A reader's short name for each entry of a BibTeX file: "Author Year" (two authors joined by
    ``and_word``, more shortened to "et al."; an organisation's name as written), as the reference
    pages cite them. The file is parsed once per process while it is unchanged."""
    out = {}
    for key, names, organisation, year in _bib_entries(Path(bib_path)):
        if not names:
            who = organisation
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} {and_word} {names[1]}"
        else:
            who = f"{names[0]} et al."
        out[key] = f"{who} {year}"
    return out


_BIB_ENTRIES: dict[tuple, list[tuple[str, list[str], str, str]]] = {}


def _bib_entries(path: Path) -> list[tuple[str, list[str], str, str]]:
    """(key, authors' last names, organisation, year) of each entry, LaTeX accents as characters."""
    import codecs

    import latexcodec  # noqa: F401 (registers the codec; installed with pybtex)
    from pybtex.database.input.bibtex import Parser

    info = path.stat()
    cache_key = (str(path.resolve()), info.st_mtime_ns, info.st_size)
    if cache_key in _BIB_ENTRIES:
        return _BIB_ENTRIES[cache_key]

    def plain(text: str) -> str:
        try:  # {\'\i} is í
            text = codecs.decode(text, "ulatex")
        except (UnicodeDecodeError, ValueError):
            pass
        return text.replace("{", "").replace("}", "")

    out = []
    for key, entry in Parser().parse_file(str(path)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [plain(" ".join(p.last_names or p.first_names)) for p in people]
        organisation = plain(entry.fields.get("institution") or entry.fields.get("howpublished") or key)
        out.append((key, names, organisation, entry.fields.get("year", "n.d.")))
    _BIB_ENTRIES[cache_key] = out
    return out


_CACHE: dict[tuple, tuple[CountryFile, list[Problem]] | ParameterError] = {}


def file_problem(path: Path, root: Path | None, name: str) -> Problem | None:
    """What is wrong with reading ``path`` as a parameter file before its content is looked at: its
    name must be the country's ISO3 code in capitals with the extension .yml, and a link must not
    lead outside the checkout ``root``."""
    path = Path(path)
    if not (ISO3.fullmatch(path.stem) and path.suffix == ".yml"):
        return Problem(name, "", _("the file name must be the country's ISO3 code in capitals with the extension .yml, "
                                   "e.g. COL.yml (got {name})").format(name=repr(path.name)))
    if root is not None and path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # a link to nothing, or a loop of links
            return Problem(name, "", _("is a link that leads to no file (a broken link or a loop of links)"))
        if not target.is_relative_to(Path(root).resolve()):
            return Problem(name, "", _("is a link to a file outside the repository: parameter files must be inside it"))
    return None


def check_country(path: Path, bib: set[str] | None = None, display: str | None = None,
                  root: Path | None = None) -> tuple[CountryFile, list[Problem]]:
    """Read and validate one parameter file: the validated file and its warnings (values that are
    valid but look wrong, e.g. a series that jumps a hundredfold from one year to the next).
    Raises ParameterError listing every problem.

    Results are cached for the life of the process, keyed by the file's content (and the
    bibliography), so a build reads and validates each file once.
    """
    path = Path(path)
    name = display or str(path)
    problem = file_problem(path, root, name)
    if problem is not None:
        raise ParameterError([problem])
    content = read_bounded(path, _failure(name))
    key = (str(path), name, hashlib.sha256(content).hexdigest(), frozenset(bib) if bib is not None else None,
           current_language())  # messages are written in the language of the command line
    if key not in _CACHE:
        try:
            _CACHE[key] = _check_country(content, path, bib, name)
        except ParameterError as e:
            _CACHE[key] = e
    cached = _CACHE[key]
    if isinstance(cached, ParameterError):
        raise ParameterError(list(cached.problems))
    return cached[0], list(cached[1])


def load_country(path: Path, bib: set[str] | None = None, display: str | None = None,
                 root: Path | None = None) -> CountryFile:
    """Read and validate one parameter file (see :func:`check_country`). Raises ParameterError."""
    return check_country(path, bib, display, root)[0]


def _format_problem(data: dict, name: str, lines: dict[tuple, int]) -> Problem | None:
    """A file written for another format of the parameter files: say what to do."""
    fmt = data.get("format")
    if fmt == FORMAT:
        return None
    if fmt is None:
        return Problem(name, "format", _("the file has no format line: it is written for format 1 of the parameter "
                                         "files; run `iff upgrade {file}` to rewrite it for format {format} (it keeps "
                                         "your comments and lists what it changed)").format(file=name, format=FORMAT), 1)
    line = _line_for(("format",), lines)
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT:
        return Problem(name, "format", _("is {got}, a newer format than this handbook reads ({format}): update the "
                                         "handbook (git pull) before building this file").format(got=fmt, format=FORMAT),
                       line)
    if fmt == 1:
        return Problem(name, "format", _("is 1: run `iff upgrade {file}` to rewrite the file for format {format}").format(
            file=name, format=FORMAT), line)
    return Problem(name, "format", _("must be {format} (got {got})").format(format=FORMAT, got=repr(fmt)), line)


def _check_country(content: bytes, path: Path, bib: set[str] | None, name: str) -> tuple[CountryFile, list[Problem]]:
    stem = path.stem
    data, lines = parse_yaml(content, name)
    if not isinstance(data, dict):
        raise ParameterError([Problem(name, "", _("the file must be a mapping of keys (country: ..., name: ...)"), 1)])
    format_problem = _format_problem(data, name, lines)
    if format_problem is not None:
        raise ParameterError([format_problem])
    try:
        cf = CountryFile.model_validate(data)
    except ValidationError as e:
        raise ParameterError(problems_from_validation(e, name, lines)) from None
    problems: list[Problem] = []
    if cf.country != stem:
        problems.append(Problem(name, "country", _("is {code} but the file is named {file}: rename the file {code_}.yml "
                                                   "or correct the code").format(code=repr(cf.country), file=path.name,
                                                                                 code_=cf.country),
                                _line_for(("country",), lines)))
    problems += semantic_problems(cf, name, lines, bib)
    if not problems:
        problems += fx_problems(cf, name, lines)
    if problems:
        raise ParameterError(problems)
    return cf, warnings_for(cf, name, lines)


JUMP = 100  # a series that moves more than this factor from one year to the next is worth a second look


def _usd_per_pure_kg(cf: CountryFile, point, year: int) -> float:
    """A price point in US dollars per pure kilogram in one year (the file's own exchange rate)."""
    price, _, _, src_year = point.price.at_year(year)
    currency = point.price.unit.split("/")[0]
    if currency != "USD" and cf.macro.lcu_per_usd is not None:
        price = price / cf.macro.lcu_per_usd.at_year(src_year)[0]
    return price / point.purity.at_year(year)[0]


def price_warnings(cf: CountryFile, name: str, lines: dict[tuple, int]) -> list[Problem]:
    """Prices per pure kilogram that fall where the drug moves on: along a route's price ladder (for
    exports from home to abroad, for imports from abroad to home), and from one stage of a chain to
    the next (leaf and gum prices converted to the pure drug they yield)."""
    out: list[Problem] = []
    if cf.markets.drugs is None:
        return out
    year = cf.last_year
    for drug, chain in cf.markets.drugs.chains.items():
        previous = None  # (stage, US dollars per pure kilogram of the final product)
        names = list(chain.stages)
        for i, (stage, st) in enumerate(chain.stages.items()):
            where = ("markets", "drugs", "chains", drug, "stages", stage)
            for flow in ("exports", "imports"):
                trade = getattr(st, flow)
                for rid, r in (trade.routes.items() if trade is not None else []):
                    rungs = list(r.rungs().items())
                    if flow == "imports":
                        rungs = rungs[::-1]
                    for (ka, a), (kb, b) in zip(rungs, rungs[1:]):
                        pa, pb = _usd_per_pure_kg(cf, a, year), _usd_per_pure_kg(cf, b, year)
                        if pb < pa * 0.999:
                            path = where + (flow, "routes", rid)
                            out.append(Problem(name, ".".join(map(str, path)), _(
                                "the price per pure kilogram falls from {a} (US$ {pa}) to {b} (US$ {pb}) in {year}, where "
                                "the drug moves on: check the prices and purities").format(
                                    a=ka, pa=f"{pa:,.0f}", b=kb, pb=f"{pb:,.0f}", year=year),
                                _line_for(path, lines), severity="warning"))
            if st.producer_price is not None:
                price = _usd_per_pure_kg(cf, st.producer_price, year)
                # a leaf or gum price per pure kilogram of what it yields at the next stage
                per_next = 1.0
                if i < len(names) - 1 and st.conversion is not None:
                    per_next = st.conversion.at_year(year)[0] / (1000.0 if stage == "coca_leaf" else 1.0)
                value = price / per_next if stage in ("coca_leaf", "opium") else price
                if previous is not None and value < previous[1] * 0.999:
                    path = where + ("producer_price",)
                    out.append(Problem(name, ".".join(map(str, path)), _(
                        "the producer price per pure kilogram falls from {a} (US$ {pa} per kilogram of pure drug it "
                        "yields) to {b} (US$ {pb}) in {year}: check the prices and purities").format(
                            a=previous[0], pa=f"{previous[1]:,.0f}", b=stage, pb=f"{value:,.0f}", year=year),
                        _line_for(path, lines), severity="warning"))
                previous = (stage, value)
    return out


def warnings_for(cf: CountryFile, name: str, lines: dict[tuple, int]) -> list[Problem]:
    """Valid values that look wrong: a series whose value jumps (or falls) more than a hundredfold
    from one year to the next (a misplaced decimal point, a unit in thousands), and prices that fall
    along a chain or a route (:func:`price_warnings`)."""
    out: list[Problem] = price_warnings(cf, name, lines)
    for path, q in iter_quantities(cf):
        if q.values is None:
            continue
        years = sorted(q.values)
        for a, b in zip(years, years[1:]):
            va, vb = q.at_year(a)[0], q.at_year(b)[0]
            if va > 0 and vb > 0 and max(va / vb, vb / va) > JUMP:
                out.append(Problem(name, ".".join(map(str, path)), _(
                    "the value moves from {va} in {a} to {vb} in {b}, more than {jump} times: check the unit and the "
                    "decimal point").format(va=f"{va:g}", a=a, vb=f"{vb:g}", b=b, jump=JUMP),
                    _line_for(path + ("values", b), lines), severity="warning"))
    return out


def fx_problems(cf: CountryFile, name: str, lines: dict[tuple, int]) -> list[Problem]:
    """Values in local currency need the exchange rate of the year they refer to."""
    out: list[Problem] = []
    fx = cf.macro.lcu_per_usd
    for path, q in iter_quantities(cf):
        currency = q.unit.split("/")[0]
        if q is fx or "/" not in q.unit or currency in ("USD",) or len(currency) != 3 or not currency.isupper():
            continue
        if currency != cf.currency:
            out.append(Problem(name, ".".join(map(str, path)), _(
                "unit {unit}: values must be in USD or the country's currency {currency}").format(
                    unit=repr(q.unit), currency=cf.currency), _line_for(path, lines)))
            continue
        if fx is None:
            out.append(Problem(name, ".".join(map(str, path)), _(
                "unit {unit} is in {currency}: give macro.lcu_per_usd (annual average {currency} per US dollar) to "
                "convert it").format(unit=repr(q.unit), currency=currency), _line_for(path, lines)))
            continue
        for y in cf.years:
            try:
                src = q.at_year(y)[3]
            except KeyError:
                break
            try:
                fx.at_year(src)
            except KeyError:
                out.append(Problem(name, ".".join(map(str, path)), _(
                    "in {currency} for {year}, but macro.lcu_per_usd has no rate for {year}").format(
                        currency=currency, year=src), _line_for(path, lines)))
                break
    return out
