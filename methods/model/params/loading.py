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
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ParameterError, Problem
from .country import CountryFile
from .records import UNION_TAGS, Quantity, SourceRef
from .smuggling import PLACES

MAX_BYTES = 1_000_000
MAX_NODES = 200_000  # after expanding aliases: guards against "billion laughs" documents
ISO3 = re.compile(r"^[A-Z]{3}$")


# ----- YAML ---------------------------------------------------------------------------------

class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int):
        self.key, self.line = key, line


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when available: ten times faster


class _Loader(_Base):
    """Safe loader that refuses duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise _DuplicateKey(None, key_node.start_mark.line + 1) from None
        if key in out:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


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


def _check_tags(node: yaml.Node, seen: set[int] | None = None) -> tuple[str, int] | None:
    """The first tag that would construct anything but plain data, with its line."""
    seen = set() if seen is None else seen
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        tag = n.tag
        standard = isinstance(tag, str) and tag.startswith("tag:yaml.org,2002:")
        if tag is not None and (not standard or tag.startswith("tag:yaml.org,2002:python")):
            return tag.replace("tag:yaml.org,2002:", "!!"), n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack += [k, v]
        elif isinstance(n, yaml.SequenceNode):
            stack += list(n.value)
    return None


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, dict[tuple, int]]:
    """Parse a YAML file safely. Returns (data, line of each path). Raises ParameterError."""
    name = display or str(path)

    def fail(message: str, line: int | None = None) -> ParameterError:
        return ParameterError([Problem(name, "", message, line)])

    try:
        size = path.stat().st_size
    except OSError as e:
        raise fail(f"cannot read the file ({e.strerror})") from None
    if size > MAX_BYTES:
        raise fail(f"file is too large ({size:,} bytes; a parameter file is at most {MAX_BYTES:,} bytes)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise fail(f"not valid UTF-8 text (byte {e.start})") from None
    if not text.strip():
        raise fail("the file is empty")
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise fail("the file is empty")
            bad_tag = _check_tags(node)
            if bad_tag is not None:
                raise fail(f"YAML tag {bad_tag[0]!r} is not allowed: parameter files hold plain data", bad_tag[1])
            size = _expanded_size(node)
            if size > MAX_NODES:
                raise fail(f"the document expands to {size:,} values through anchors and aliases "
                           f"(at most {MAX_NODES:,} are allowed)")
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except _DuplicateKey as e:
        what = f"duplicate key {e.key!r}" if e.key is not None else "a key must be a plain value"
        raise fail(f"{what} (each key may appear once in a mapping)", e.line) from None
    except yaml.constructor.ConstructorError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise fail(f"YAML construct not allowed: {e.problem}", line) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        col = f", column {mark.column + 1}" if mark else ""
        raise fail(f"YAML syntax error{col}: {e.problem}", line) from None
    except yaml.YAMLError as e:
        raise fail(f"YAML error: {e}") from None
    except RecursionError:
        raise fail("the YAML document is nested too deeply") from None
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
    return tuple(p for p in loc if not (isinstance(p, str) and (p in UNION_TAGS or p.startswith("function-"))))


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


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
            hint = f" (did you mean {close[0]!r}?)" if close else (f" (allowed: {', '.join(allowed)})" if allowed else "")
            msg = f"unknown key {key!r}{hint}"
            path_loc = loc[:-1]
        elif kind == "missing":
            msg = f"missing required key {loc[-1]!r}"
            path_loc = loc[:-1]
        elif isinstance(e.get("input"), str) and e["input"].strip().upper() == "MISSING" and "MISSING" not in msg:
            path_loc = loc
            msg = "still marked MISSING: fill it in"
        else:
            path_loc = loc
            msg = {
                "literal_error": f"{msg}",
                "string_pattern_mismatch": "has the wrong form" + (
                    " (a three-letter upper-case code such as COL)" if loc and loc[-1] in ("country", "currency") else ""
                ),
                "model_type": "must be a mapping of keys (key: value)",
                "dict_type": "must be a mapping of keys (key: value)",
                "float_parsing": "must be a number",
                "float_type": "must be a number",
                "int_parsing": "must be a whole number",
                "bool_parsing": "must be true or false",
                "string_type": "must be text",
            }.get(kind, msg)
            if kind.startswith("value_error"):
                msg = msg.removeprefix("Value error, ")
        path = ".".join(str(p) for p in path_loc)
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        out.append(Problem(name, path, msg, _line_for(loc, lines)))
    return out


# ----- checks that need the model years or the bibliography ----------------------------------

def iter_quantities(obj: Any, path: tuple = ()) -> Iterator[tuple[tuple, Quantity]]:
    """Every Quantity in a validated file, with its path."""
    if isinstance(obj, Quantity):
        yield path, obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from iter_quantities(getattr(obj, name), path + (name,))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from iter_quantities(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from iter_quantities(v, path + (i,))


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
                for flow in ("exports", "imports"):
                    f = getattr(st, flow)
                    if f is not None:
                        yield (("markets", "drugs", "chains", drug, "stages", stage, flow, "routes"),
                               {k: r.share for k, r in f.routes.items()})
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
                add(path + ("values",), f"no value for {', '.join(map(str, missing))} (the file models "
                    f"{cf.first_year}-{cf.last_year}); add the years or set extend: nearest")
    for path, shares in _share_groups(cf):
        for y in years:
            try:
                total = sum(q.at_year(y)[0] for q in shares.values())
            except KeyError:
                continue  # reported above
            if abs(total - 1) > 1e-3:
                add(path, f"shares must sum to 1 in {y}, they sum to {total:.4g} ({', '.join(shares)})")
                break
    if bib_keys is not None:
        for path, src in iter_sources(cf):
            if src.key not in bib_keys:
                close = difflib.get_close_matches(src.key, sorted(bib_keys), n=1, cutoff=0.7)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                add(path + ("key",), f"source key {src.key!r} is not in book/references.bib{hint}")
    return out


# ----- public API -------------------------------------------------------------------------------

def bib_keys(bib_path: Path) -> set[str]:
    """Entry keys of a BibTeX file, read with pybtex (the parser the handbook's bibliography uses)."""
    from pybtex.database.input.bibtex import Parser

    return set(Parser().parse_file(str(bib_path)).entries.keys())


_CACHE: dict[tuple, CountryFile | ParameterError] = {}


def load_country(path: Path, bib: set[str] | None = None, display: str | None = None) -> CountryFile:
    """Read and validate one parameter file. Raises ParameterError listing every problem.

    Results are cached for the life of the process, keyed by the file's content (and the
    bibliography), so a build reads and validates each file once.
    """
    try:
        content = Path(path).read_bytes()
    except OSError:
        content = b""
    key = (str(path), display, hashlib.sha256(content).hexdigest(), frozenset(bib) if bib is not None else None)
    if key in _CACHE:
        cached = _CACHE[key]
        if isinstance(cached, ParameterError):
            raise ParameterError(list(cached.problems))
        return cached
    try:
        result = _load_country(path, bib, display)
    except ParameterError as e:
        _CACHE[key] = e
        raise
    _CACHE[key] = result
    return result


def _load_country(path: Path, bib: set[str] | None = None, display: str | None = None) -> CountryFile:
    name = display or str(path)
    stem = path.stem
    if not ISO3.match(stem):
        raise ParameterError([Problem(name, "", f"file name must be the country's ISO3 code in capitals, e.g. COL.yml (got {path.name!r})")])
    data, lines = read_yaml(path, name)
    if not isinstance(data, dict):
        raise ParameterError([Problem(name, "", "the file must be a mapping of keys (country: ..., name: ...)", 1)])
    try:
        cf = CountryFile.model_validate(data)
    except ValidationError as e:
        raise ParameterError(problems_from_validation(e, name, lines)) from None
    problems: list[Problem] = []
    if cf.country != stem:
        problems.append(Problem(name, "country", f"is {cf.country!r} but the file is named {path.name}", _line_for(("country",), lines)))
    problems += semantic_problems(cf, name, lines, bib)
    if not problems:
        problems += fx_problems(cf, name, lines)
    if problems:
        raise ParameterError(problems)
    return cf


def fx_problems(cf: CountryFile, name: str, lines: dict[tuple, int]) -> list[Problem]:
    """Values in local currency need the exchange rate of the year they refer to."""
    out: list[Problem] = []
    fx = cf.macro.lcu_per_usd
    for path, q in iter_quantities(cf):
        currency = q.unit.split("/")[0]
        if q is fx or "/" not in q.unit or currency in ("USD",) or len(currency) != 3 or not currency.isupper():
            continue
        if currency != cf.currency:
            out.append(Problem(name, ".".join(map(str, path)), f"unit {q.unit!r}: values must be in USD or the "
                               f"country's currency {cf.currency}", _line_for(path, lines)))
            continue
        if fx is None:
            out.append(Problem(name, ".".join(map(str, path)), f"unit {q.unit!r} is in {currency}: give "
                               f"macro.lcu_per_usd (annual average {currency} per US dollar) to convert it", _line_for(path, lines)))
            continue
        for y in cf.years:
            try:
                src = q.at_year(y)[3]
            except KeyError:
                break
            try:
                fx.at_year(src)
            except KeyError:
                out.append(Problem(name, ".".join(map(str, path)), f"in {currency} for {src}, but macro.lcu_per_usd "
                                   f"has no rate for {src}", _line_for(path, lines)))
                break
    return out
