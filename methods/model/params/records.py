"""The record every number in a parameter file is written in.

A :class:`Quantity` is never a bare number. It carries

* ``value`` (with the ``year`` it refers to) **or** ``values`` (a series: year -> number);
* ``unit``;
* ``source`` (a key of ``book/references.bib`` plus the table or page, and how the value was read)
  **or** ``assumption`` (a sentence of reasoning);
* optional ``low``/``high`` bounds and a ``distribution`` for the uncertainty analysis.

A value may be written ``MISSING`` (what ``iff new-country`` writes): validation then lists it as
still to be filled in.
"""
from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..i18n import _

MISSING = "MISSING"
YEAR_MIN, YEAR_MAX = 1990, 2100
# units a national team may write, with the dimension the model checks
COUNT_UNITS = {"persons", "events", "journeys", "users"}


def bad(kind: str, template: str, context: dict[str, Any] | None = None) -> PydanticCustomError:
    """A validation error whose message is formatted here (pydantic applies no format specs), in the
    language of the command line (``template`` is a message of the catalogue ``iff.po``)."""
    return PydanticCustomError(kind, _(template).format(**(context or {})))


class Strict(BaseModel):
    """Base for every section of a parameter file: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


MAX_MAGNITUDE = 1e15  # larger than any quantity, price or GDP the handbook needs; keeps products finite
_DECIMAL = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
_GROUPED = re.compile(r"[-+]?\d{1,3}([.,'\s]\d{3})+([.,]\d+)?")


def _without_separators(text: str) -> str:
    """``1.234.567,5`` -> ``1234567.5``; ``10,000,000`` -> ``10000000``: the last separator is the
    decimal mark when both kinds appear, otherwise every separator groups thousands."""
    text = text.replace(" ", "").replace("'", "")
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        grouping = "." if decimal == "," else ","
        return text.replace(grouping, "").replace(decimal, ".")
    return text.replace(",", "").replace(".", "")


def _number(v: Any) -> Any:
    """A number as the file means it. MISSING, booleans, NaN and infinity, numbers too large to
    compute with, and text written the Spanish way (``"12,5"``, ``"1.234.567,5"``) are refused with
    a message saying how to write the number; they are never read as something else."""
    if isinstance(v, str) and v.strip().upper() == MISSING:
        raise bad("missing_value", "still marked MISSING: fill in the value")
    if isinstance(v, bool):
        raise bad("not_number", "must be a number, not true/false (YAML reads yes, no, on and off as true/false)")
    if isinstance(v, str):
        text = v.strip()
        if _DECIMAL_COMMA.fullmatch(text):
            raise bad("decimal_comma", "{t!r} has a decimal comma: write the number with a decimal point and no "
                      "quotes, e.g. {e}", {"t": v, "e": text.replace(",", ".")})
        if _GROUPED.fullmatch(text):
            raise bad("thousands_separator", "{t!r} has thousands separators: write the number without them and without "
                      "quotes, with a decimal point for decimals: {e}", {"t": v, "e": _without_separators(text)})
        if not _DECIMAL.fullmatch(text):
            raise bad("not_number", "must be a number, got the text {text!r}", {"text": v})
        v = float(text)
    if isinstance(v, (int, float)) and not math.isfinite(v):
        raise bad("not_finite", "must be a finite number, got {v}", {"v": v})
    if isinstance(v, (int, float)) and abs(v) > MAX_MAGNITUDE:
        raise bad("too_large", "{v:g} is too large: a number must be at most 1e15 in size", {"v": v})
    return v


Number = Annotated[float, BeforeValidator(_number)]


def _year(v: Any) -> Any:
    if isinstance(v, str) and v.strip().upper() == MISSING:
        raise bad("missing_value", "still marked MISSING: fill in the year")
    if isinstance(v, bool):
        raise bad("bad_year", "a year must be a whole number such as 2019 (YAML reads yes, no, on and off as true/false)")
    if not isinstance(v, (int, str)) or not str(v).strip().isdigit():
        raise bad("bad_year", "a year must be a whole number such as 2019, got {v!r}", {"v": v})
    y = int(v)
    if not YEAR_MIN <= y <= YEAR_MAX:
        raise bad(
            "year_range", "year {y} is outside {lo}-{hi}", {"y": y, "lo": YEAR_MIN, "hi": YEAR_MAX}
        )
    return y


Year = Annotated[int, BeforeValidator(_year)]


# characters a text may not hold: control characters (C0 but tab and line breaks, DEL, C1), the
# Unicode line and paragraph separators, the controls that reorder text (bidirectional embeddings,
# overrides and isolates: they can make a name read differently from what it is), byte-order marks
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]")
MAX_TEXT = 10_000  # characters of a free text (a summary, a note, an assumption)
MAX_NAME = 1_000  # characters of a name


def check_text(v: Any, min_len: int = 1, max_len: int = MAX_TEXT) -> str:
    """A free text of a parameter file, or a validation error saying what is wrong with it."""
    if isinstance(v, str) and v.strip().upper() == MISSING:
        raise bad("missing_value", "still marked MISSING: fill in the text")
    if not isinstance(v, str):
        raise bad("not_text", "must be text (put it in quotes if YAML reads it as something else)")
    bad_char = _CONTROL.search(v)
    if bad_char:
        raise bad("control_character", "contains the control character U+{c:04X}: remove it",
                  {"c": ord(bad_char.group())})
    if len(v.strip()) < min_len:
        raise bad(
            "too_short", "must be at least {n} characters of explanation", {"n": min_len}
        )
    if len(v) > max_len:
        raise bad("text_too_long", "is {n} characters long: at most {limit} are allowed",
                  {"n": f"{len(v):,}", "limit": f"{max_len:,}"})
    return v.strip().replace("\r\n", "\n").replace("\r", "\n")


def _text(min_len: int, max_len: int = MAX_TEXT):
    return BeforeValidator(lambda v: check_text(v, min_len, max_len))


Text = Annotated[str, _text(1)]
Name = Annotated[str, _text(1, MAX_NAME)]
Reasoning = Annotated[str, _text(20)]
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _key(v: Any) -> Any:
    """A key of the file that becomes an identifier (route, corridor, chemical, cost)."""
    if not isinstance(v, str) or not KEY_PATTERN.fullmatch(v):
        raise bad("key_form", "the key {k!r} must be lower-case letters, digits and _ (starting with a letter, at most "
                  "64 characters): it names the item in tables, figures and exports", {"k": v})
    return v


Key = Annotated[str, BeforeValidator(_key)]


def _partner(v: Any) -> Any:
    """The counterpart of a flow: a country's ISO3 code or a region code."""
    from .partners import PARTNER_HELP, is_partner_code

    if isinstance(v, str) and v.strip().upper() == MISSING:
        raise bad("missing_value", "still marked MISSING: fill in the text")
    if not isinstance(v, str) or not is_partner_code(v.strip()):
        raise bad("partner_form", "{v!r} is not a country or region code: give {h}", {"v": v, "h": PARTNER_HELP})
    return v.strip()


PartnerCode = Annotated[str, BeforeValidator(_partner)]


class SourceRef(Strict):
    """Where a value comes from.

    ``key`` is an entry of ``book/references.bib``; ``at`` the table, page or section;
    ``evidence`` says how the value was read:

    * ``primary``: in the publication itself or a verbatim copy of it;
    * ``secondary``: in a press or secondary report quoting the official source;
    * ``derived``: arithmetic on sourced values (``at`` shows the formula).
    """

    key: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_:\-]{0,99}$")] = Field(
        description="Key of the entry in book/references.bib (letters, digits, _ : -, starting with a letter)"
    )
    at: Text = Field(description="Table, page or section of the source (or the formula, if derived)")
    evidence: Literal["primary", "secondary", "derived"] = Field(
        description="primary: read in the publication; secondary: press or secondary report "
        "quoting the official source; derived: arithmetic on sourced values"
    )
    note: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _missing(cls, data: Any) -> Any:
        if isinstance(data, str) and data.strip().upper() == MISSING:
            raise bad("missing_value", "source still marked MISSING: cite a source or write an assumption")
        return data


class YearValue(Strict):
    """One year of a series, with its own provenance or bounds where they differ from the series'."""

    value: Number
    low: Number | None = None
    high: Number | None = None
    source: SourceRef | None = None
    assumption: Reasoning | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> "YearValue":
        if self.source is not None and self.assumption is not None:
            raise bad("two_provenances", "give either source or assumption, not both")
        for number in (self.value, self.low, self.high):
            if number is not None and number < 0:
                raise bad("negative", "must not be negative (got {n:g})", {"n": number})
        _check_bounds(self.value, self.low, self.high, "")
        return self


def _check_bounds(value: float, low: float | None, high: float | None, where: str) -> None:
    if (low is None) != (high is None):
        raise bad("half_bounds", "{w}give both low and high, or neither", {"w": where})
    if low is not None and not (low <= value <= high):
        raise bad(
            "bounds",
            "{w}bounds do not contain the value: low {lo:g} <= value {v:g} <= high {hi:g} does not hold",
            {"w": where, "lo": low, "v": value, "hi": high},
        )


def _record_or_number(v: Any) -> str:
    return "record" if isinstance(v, dict) else "number"


SeriesEntry = Annotated[
    Annotated[Number, Tag("number")] | Annotated["YearValue", Tag("record")],
    Discriminator(_record_or_number),
]
Bound = Annotated[
    Annotated[Number, Tag("number")] | Annotated[dict[Year, Number], Tag("record")],
    Discriminator(_record_or_number),
]
# tags that pydantic puts in error locations; the error formatter drops them
UNION_TAGS = {"number", "record"}


class Quantity(Strict):
    """A number with its unit, reference year(s), provenance and optional uncertainty."""

    value: Number | None = Field(default=None, description="The value (with `year`); or use `values`")
    values: dict[Year, SeriesEntry] | None = Field(
        default=None, description="A series: year -> value (or year -> {value, low, high, source})"
    )
    unit: Text = Field(description="Unit, e.g. ha, t, kg, share, USD/kg, COP/kg, persons")
    year: Year | None = Field(default=None, description="Reference year of `value`")
    source: SourceRef | None = None
    assumption: Reasoning | None = Field(
        default=None, description="Why this value is assumed, when no source gives it (a sentence)"
    )
    low: Bound | None = None
    high: Bound | None = None
    range_note: Text | None = Field(default=None, description="Where the low/high bounds come from")
    distribution: Literal["uniform", "triangular", "normal"] = Field(
        default="triangular",
        description="Shape of the input uncertainty between low and high, in two pieces with the median at the "
        "value (normal: each half at +/-2 standard deviations, truncated at the bounds)",
    )
    shared: Key | None = Field(
        default=None,
        description="A name for a quantity that appears in more than one place or file (e.g. a price both sides "
        "of a mirror flow use): every record with the same name is drawn together in the Monte Carlo")
    extend: Literal["none", "nearest"] = Field(
        default="none",
        description="For a series: 'nearest' applies the nearest year's value to model years without one",
    )
    note: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str) and data.strip().upper() == MISSING:
            raise bad("missing_value", "still marked MISSING: fill in the record")
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            raise bad(
                "bare_number",
                "a bare number has no provenance: write a record with value, unit, year and source "
                "(or assumption)",
            )
        return data

    @field_validator("source", mode="before")
    @classmethod
    def _source_missing(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v.strip().upper() == MISSING:
                raise bad("missing_value", "still marked MISSING: cite a source or write an assumption")
            raise bad(
                "source_form", "a source is a record {{key: <bib key>, at: <table or page>, evidence: primary|secondary|derived}}"
            )
        return v

    @model_validator(mode="after")
    def _check(self) -> "Quantity":
        if (self.value is None) == (self.values is None):
            raise bad("value_or_values", "give either value (with year) or values (a series), not both or neither")
        for number in self.numbers():
            if number < 0:
                raise bad("negative", "must not be negative (got {n:g})", {"n": number})
        if self.value is not None:
            if self.year is None:
                raise bad("no_year", "give the reference year of the value (year: ...)")
            if isinstance(self.low, dict) or isinstance(self.high, dict):
                raise bad("bounds_shape", "low/high of a single value must be numbers")
            _check_bounds(self.value, self.low, self.high, "")
        else:
            if self.year is not None:
                raise bad("year_with_series", "a series gives its years as keys of values; remove year")
            if not self.values:
                raise bad("empty_series", "values is empty")
            for bound in (self.low, self.high):
                if bound is not None and not isinstance(bound, dict):
                    raise bad("bounds_shape", "low/high of a series must map years to numbers")
            if (self.low is None) != (self.high is None):
                raise bad("half_bounds", "give both low and high, or neither")
            for y, v in self.values.items():
                if isinstance(v, YearValue):
                    if v.low is not None and self.low is not None:
                        raise bad("bounds_twice", "bounds for {y} given twice", {"y": y})
                    continue
                if self.low is not None:
                    if y not in self.low or y not in self.high:
                        raise bad("bounds_years", "low/high have no bound for {y}", {"y": y})
                    _check_bounds(v, self.low[y], self.high[y], f"{y}: ")
            if self.low is not None:
                extra = sorted((set(self.low) | set(self.high)) - set(self.values))
                if extra:
                    raise bad("bounds_years", "low/high give years without a value: {e}", {"e": extra})
        # provenance: on the record, or on every year of a series
        if self.source is not None and self.assumption is not None:
            raise bad("two_provenances", "give either source or assumption, not both")
        if self.source is None and self.assumption is None:
            per_year = self.values is not None and all(
                isinstance(v, YearValue) and (v.source or v.assumption) for v in self.values.values()
            )
            if not per_year:
                raise bad(
                    "no_provenance",
                    "no source: give source {{key, at, evidence}} or an assumption with its reasoning",
                )
        return self

    # ----- reading -------------------------------------------------------------------------
    def numbers(self) -> list[float]:
        """Every number in the record (values and bounds)."""
        out: list[float] = []
        if self.value is not None:
            out.append(self.value)
        for v in (self.values or {}).values():
            if isinstance(v, YearValue):
                out += [x for x in (v.value, v.low, v.high) if x is not None]
            else:
                out.append(v)
        for b in (self.low, self.high):
            if isinstance(b, dict):
                out += list(b.values())
            elif b is not None:
                out.append(b)
        return out

    def has_bounds(self) -> bool:
        if self.low is not None:
            return True
        return any(isinstance(v, YearValue) and v.low is not None for v in (self.values or {}).values())

    def reference_years(self) -> list[int]:
        return [self.year] if self.year is not None else sorted(self.values or {})

    def at_year(self, year: int) -> tuple[float, float | None, float | None, int]:
        """(value, low, high, year of the value used) for a model year.

        A single value applies to every model year. A series gives its own year; with
        ``extend: nearest`` the nearest year's value is used where the series has no entry.
        """
        if self.value is not None:
            return self.value, self.low, self.high, self.year  # type: ignore[return-value]
        assert self.values is not None
        if year in self.values:
            src_year = year
        elif self.extend == "nearest":
            src_year = min(self.values, key=lambda y: (abs(y - year), -y))
        else:
            raise KeyError(year)
        v = self.values[src_year]
        if isinstance(v, YearValue):
            return v.value, v.low, v.high, src_year
        low = self.low[src_year] if isinstance(self.low, dict) else None
        high = self.high[src_year] if isinstance(self.high, dict) else None
        return v, low, high, src_year

    def provenance_at(self, year: int) -> tuple[SourceRef | None, str | None]:
        """(source, assumption) that apply to the value used for ``year``."""
        if self.values is not None:
            try:
                src_year = self.at_year(year)[3]
            except KeyError:
                src_year = None
            v = self.values.get(src_year) if src_year is not None else None
            if isinstance(v, YearValue) and (v.source or v.assumption):
                return v.source, v.assumption
        return self.source, self.assumption

    def sources(self) -> list[SourceRef]:
        out = [self.source] if self.source else []
        for v in (self.values or {}).values():
            if isinstance(v, YearValue) and v.source:
                out.append(v.source)
        return out

    def assumptions(self) -> list[str]:
        out = [self.assumption] if self.assumption else []
        for v in (self.values or {}).values():
            if isinstance(v, YearValue) and v.assumption:
                out.append(v.assumption)
        return out


# ----- constrained quantities -------------------------------------------------------------

def _unit_is(*units: str, what: str):
    allowed = set(units)

    def check(q: Quantity) -> Quantity:
        if q.unit not in allowed:
            raise bad(
                "unit",
                "unit must be {u} ({what}), got {got!r}",
                {"u": " or ".join(repr(u) for u in sorted(allowed)), "what": what, "got": q.unit},
            )
        return q

    return AfterValidator(check)


def _at_most_one(q: Quantity) -> Quantity:
    for n in q.numbers():
        if n > 1:
            raise bad("share_gt_1", "a share must lie between 0 and 1 (got {n:g})", {"n": n})
    return q


def _at_least_one(q: Quantity) -> Quantity:
    for n in q.numbers():
        if n < 1:
            raise bad("factor_lt_1", "this factor must be at least 1 (got {n:g})", {"n": n})
    return q


def _price_unit(q: Quantity) -> Quantity:
    cur, _, per = q.unit.partition("/")
    if per != "kg" or not (len(cur) == 3 and cur.isalpha() and cur.isupper()):
        raise bad(
            "unit", "a price unit is a currency code per kg, e.g. 'USD/kg' or 'COP/kg', got {got!r}", {"got": q.unit}
        )
    return q


def _gram_price_unit(q: Quantity) -> Quantity:
    cur, _, per = q.unit.partition("/")
    if per != "g" or not (len(cur) == 3 and cur.isalpha() and cur.isupper()):
        raise bad("unit", "a retail price unit is a currency code per gram, e.g. 'USD/g' or 'MXN/g', got {got!r}",
                  {"got": q.unit})
    return q


def _above_zero(why: str, minimum: float = 0.0):
    """Refuse zero (in the value, the bounds and every year) where a zero means nothing, and values
    below ``minimum`` where the formulas divide by the number (a purity of 1e-300 would make the
    pure price overflow): ``why`` says what the number does in the formulas."""
    def check(q: Quantity) -> Quantity:
        for n in q.numbers():
            if n <= 0:
                raise bad("zero", "must be above zero: {why} (got {n:g})", {"why": why, "n": n})
            if n < minimum:
                raise bad("too_small", "must be at least {minimum:g}: {why} (got {n:g})",
                          {"why": why, "n": n, "minimum": minimum})
        return q

    return AfterValidator(check)


# the smallest values that mean something where a formula divides: a purity of 0.1%, a yield of a
# kilogram per hectare, a price or an exchange rate of a millionth
MIN_PURITY, MIN_YIELD, MIN_DIVISOR = 1e-3, 1e-3, 1e-6
MIN_GDP_USD = 1e6  # a country's GDP in US dollars is at least in the millions

Share = Annotated[Quantity, _unit_is("share", what="a fraction between 0 and 1"), AfterValidator(_at_most_one)]
Purity = Annotated[Share, _above_zero("prices and quantities are converted to pure drug with it, and a purity of 0 "
                                      "means no drug", MIN_PURITY)]
Hectares = Annotated[Quantity, _unit_is("ha", what="hectares")]
Tonnes = Annotated[Quantity, _unit_is("t", what="metric tonnes")]
Kilograms = Annotated[Quantity, _unit_is("kg", what="kilograms")]
TonnesPerHa = Annotated[Quantity, _unit_is("t/ha", what="tonnes per hectare per year"),
                        _above_zero("a yield of 0 means the crop produces nothing; leave the stage out instead",
                                    MIN_YIELD)]
KgPerHa = Annotated[Quantity, _unit_is("kg/ha", what="kilograms per hectare per year"),
                    _above_zero("a yield of 0 means the crop produces nothing; leave the stage out instead", MIN_YIELD)]
KgPerT = Annotated[Quantity, _unit_is("kg/t", what="kilograms per tonne")]
KgPerKg = Annotated[Quantity, _unit_is("kg/kg", what="kilograms per kilogram")]
Persons = Annotated[Quantity, _unit_is("persons", what="number of persons")]
Days = Annotated[Quantity, _unit_is("days", what="days of use per year")]
GramsPerDay = Annotated[Quantity, _unit_is("g/day", what="grams as sold per day of use")]
GramPrice = Annotated[Quantity, AfterValidator(_gram_price_unit),
                      _above_zero("a retail price of 0 means nothing", MIN_DIVISOR)]
Events = Annotated[Quantity, _unit_is("events", "persons", what="number of events or persons")]
GramsPerUser = Annotated[Quantity, _unit_is("g/user", what="pure grams per user per year")]
Factor = Annotated[Quantity, _unit_is("ratio", what="a dimensionless ratio of at least 1"), AfterValidator(_at_least_one)]
Price = Annotated[Quantity, AfterValidator(_price_unit),
                  _above_zero("a price of 0 would value the drug at nothing (and a price per pure kilogram is "
                              "divided by purity)", MIN_DIVISOR)]
UsdAmount = Annotated[Quantity, _unit_is("USD", what="US dollars")]
UsdPerPerson = Annotated[Quantity, _unit_is("USD/person", what="US dollars per person")]
LcuPerUsd = Annotated[Quantity, _above_zero("values in local currency are divided by the exchange rate", MIN_DIVISOR)]
Conversion = Annotated[Quantity, _above_zero("the next stage's quantity is this stage's times the conversion, so 0 "
                                             "would end the chain", MIN_DIVISOR)]
GdpUsd = Annotated[Quantity, _above_zero("total IFFs are divided by GDP to give their share of it", MIN_GDP_USD)]


class PricePoint(Strict):
    """A price where ownership may change hands, with the purity of what is sold there."""

    place: Text = Field(description="Where the price is observed, e.g. 'Pacific departure ports'")
    price: Price
    purity: Purity = Field(description="Purity of the product sold at this price (share of pure drug)")
