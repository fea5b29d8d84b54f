"""Tables the chapters display: inputs with their provenance, balances, flows, ranges.

These functions only arrange results for reading; every number comes from the model.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..drugs.balance import BALANCE_ITEMS, StageBalance
from ..inputs import InputInfo
from ..params import STAGE_LABELS, CountryFile, Quantity
from ..i18n import N_, Translator
from ..params.partners import partner_name
from .text import Html, cited, html_text, md_text

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

EN = Translator("en")  # English: the words as written here
# words the tables show as they are, translated where shown
DIRECTION_NAMES = {"inward": N_("inward"), "outward": N_("outward"), "total": N_("total"), "domestic": N_("domestic"),
                   "low": N_("low"), "central": N_("central"), "high": N_("high"), "fob": N_("fob")}

EVIDENCE_LABELS = {
    "primary": N_("source"),
    "secondary": N_("source (secondary report)"),
    "derived": N_("derived from sources"),
}
ITEM_LABELS = {
    "production": N_("Production"), "imports": N_("Imports bought by residents"), "inflow": N_("From previous stage"),
    "transit_in": N_("Entering in transit (owned by non-residents)"), "transit_out": N_("Leaving in transit"),
    "discrepancy": N_("Statistical discrepancy"), "exports": N_("Exports sold by residents"),
    "seizures": N_("Seizures (pure)"), "consumption": N_("Domestic consumption"), "losses": N_("Losses"),
    "licit_use": N_("Licit/traditional use"), "outflow": N_("To next stage"),
}


def plain(x):
    """A plain Python number (or text) for myst-nb's glue, which cannot format numpy scalars."""
    if isinstance(x, (str, int)) and not isinstance(x, bool):
        return x
    return float(x)


def fmt_number(x: float) -> str:
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:,.1f}".rstrip("0").rstrip(".")
    if a >= 0.01:
        return f"{x:.3g}"
    if a >= 0.0001:
        return f"{x:.4f}".rstrip("0")
    return f"{x:.2e}"


def value_text(q: Quantity, years: list[int], tr: Translator = EN) -> str:
    if q.value is not None:
        text = fmt_number(q.value)
        if q.low is not None:
            text += f" ({fmt_number(q.low)}–{fmt_number(q.high)})"
        return tr.numbers(text)
    parts = []
    for y in sorted(q.values or {}):
        val, lo, hi, _ = q.at_year(y)
        t = f"{y}: {fmt_number(val)}"
        if lo is not None:
            t += f" ({fmt_number(lo)}–{fmt_number(hi)})"
        parts.append(t)
    if q.extend == "nearest":
        missing = [y for y in years if y not in (q.values or {})]
        if missing:
            parts.append(tr("(nearest year used for {years})").format(years=", ".join(map(str, missing))))
    return tr.numbers("; ".join(parts))


def provenance_text(q: Quantity, tr: Translator = EN) -> tuple[str, str]:
    """(kind, text): kind is 'source', 'source (secondary report)', 'derived from sources',
    'assumption', or 'mixed' for a series whose years differ."""
    kinds, texts = [], []
    if q.source is not None:
        kinds.append(tr(EVIDENCE_LABELS[q.source.evidence]))
        texts.append(f"[{q.source.key}] {tr.text(q.source.at)}")
    if q.assumption is not None:
        kinds.append(tr(N_("assumption")))
        texts.append(tr.text(q.assumption))
    for y, v in sorted((q.values or {}).items()):
        src, ass = getattr(v, "source", None), getattr(v, "assumption", None)
        if src is not None:
            kinds.append(tr(EVIDENCE_LABELS[src.evidence]))
            texts.append(f"{y}: [{src.key}] {tr.text(src.at)}")
        if ass is not None:
            kinds.append(tr(N_("assumption")))
            texts.append(f"{y}: {tr.text(ass)}")
    uniq = sorted(set(kinds))
    kind = uniq[0] if len(uniq) == 1 else tr("mixed") + ": " + ", ".join(uniq)
    text = " · ".join(texts)
    if q.range_note:
        text += f" · {tr('Range')}: {tr.text(q.range_note)}"
    if q.note:
        text += f" · {tr('Note')}: {tr.text(q.note)}"
    return kind, text


FIELD_LABELS = {
    "abroad_share": N_("share whose ownership changes abroad"), "share_of_imports": N_("share of imports that stays foreign-owned"),
    "lcu_per_usd": N_("exchange rate"), "gdp_usd": N_("GDP"), "leaf_yield": N_("leaf yield"), "gum_yield": N_("gum yield"),
    "coca_leaf": N_("coca leaf"), "licit_use": N_("licit and traditional use"), "conversion": N_("conversion to the next stage"),
    "producer_price": N_("producer price"), "grams_per_user": N_("grams per user per year"), "prevalence": N_("past-year prevalence"),
    "base_share": N_("share of the base"), "base_fraction_of_flow": N_("fraction of the flow the base represents"),
    "events_per_person": N_("apprehension events per person"), "undetected_factor": N_("crossers per apprehended crosser"),
    "share_paying": N_("share paying a smuggler"), "per_kg": N_("quantity per kilogram"), "imported_share": N_("share bought abroad"),
    "share_of_users": N_("share of users"), "days_per_year": N_("days of use per year"), "grams_per_day": N_("grams per day"),
    "per_paying_migrant": N_("cost per paying migrant"), "share_of_fees": N_("share of fees"), "morphine_content": N_("morphine content"),
    "lab_efficiency": N_("laboratory efficiency"),
}
CONTAINERS = {"markets", "chains", "stages", "routes", "corridors", "precursors", "services", "ladder", "sold_at",
              "user_types", "cross_checks", "payment_place", "smuggler_residence", "costs", "production", "volume",
              "conversion_from_morphine"}
PLACE_WORDS = {"origin": N_("the origin country"), "transit": N_("the transit country"),
               "destination": N_("the destination country")}


def input_label(path: tuple, prefix_len: int, cf: CountryFile | None = None, tr: Translator = EN) -> str:
    """A reader's name for an input: the product (or corridor), and each step of its place in the
    file named by the file's own labels (a route's, a corridor's, a chemical's label, a price
    point's place) or in words, never by the keys of the file."""
    parts: list[str] = []
    node, parent_key, grandparent = cf, None, None
    for i, key in enumerate(path):
        child = None
        if node is not None:
            child = node.get(key) if isinstance(node, dict) else getattr(node, str(key), None)
        if i >= prefix_len:
            label = getattr(child, "label", None) if child is not None else None
            place = getattr(child, "place", None) if child is not None else None
            following = path[i + 1] if i + 1 < len(path) else None
            if key in ("drugs", "smuggling") and i < 2:
                pass
            elif parent_key == "chains" and following == "stages":
                pass  # the stage names the drug
            elif key in STAGE_LABELS and parent_key == "stages":
                parts.append(tr(STAGE_LABELS[key]))
            elif parent_key == "sold_at":
                rung = (getattr(grandparent, "ladder", None) or {}).get(key)
                place = tr.text(getattr(rung, "place", None) or str(key).replace("_", " "))
                parts.append(tr("share sold at {place}").format(place=place))
            elif parent_key == "payment_place":
                parts.append(tr("share of fees paid in {place}").format(place=tr(PLACE_WORDS.get(key, key))))
            elif parent_key == "smuggler_residence":
                parts.append(tr("share received by smugglers resident in {place}").format(place=tr(PLACE_WORDS.get(key, key))))
            elif isinstance(label, str) and label:
                parts.append(tr.text(label))
            elif isinstance(place, str) and place:
                parts.append(tr.text(place))
            elif key in CONTAINERS:
                pass
            else:
                parts.append(tr(FIELD_LABELS.get(str(key), str(key).replace("_", " "))))
        node, parent_key, grandparent = child, key, node
    return " › ".join(parts)


def input_glue_names(infos: list[InputInfo], prefix: tuple) -> dict[str, InputInfo]:
    """Names under which a chapter glues its inputs' central values, ``in_<field path>`` without
    container names, e.g. ``in_coca_leaf_production_area`` (the year is appended per value).
    Raises ValueError if two inputs would share a name."""
    out: dict[str, InputInfo] = {}
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        parts = list(info.path[len(prefix):])
        if parts[:1] == ["chains"] and len(parts) > 3 and parts[2] == "stages":
            parts = parts[3:]
        name = "in_" + "_".join(str(p) for p in parts if p not in ("stages", "chains", "routes", "corridors"))
        if name in out:
            raise ValueError(f"two inputs would be glued as {name}: {out[name].name} and {info.name}")
        out[name] = info
    return out


def citation_links(bib_path, base: str, tr: Translator = EN) -> dict[str, tuple[str, str]]:
    """Each bibliography key's citation, "Author Year" (two authors joined by the word for "and" of
    ``tr``'s language), and its link to the entry on the handbook's bibliography page (``base``: the
    way from the page that cites to the book's root, e.g. "../../"). The bibliography's entries carry
    the anchors ``ref-<key>`` (the book's ``bibtex_cite_id``)."""
    from docutils.nodes import make_id

    from ..params.loading import bib_labels

    return {key: (label, f"{base}reference/bibliography.html#{make_id('ref-' + key)}")
            for key, label in bib_labels(bib_path, tr("and")).items()}


def inputs_table(cf: CountryFile, infos: list[InputInfo], prefix: tuple,
                 citations: dict[str, tuple[str, str]] | None = None, tr: Translator = EN) -> pd.DataFrame:
    """Every input under ``prefix``: value (with bounds), unit, year(s), provenance and its kind.
    With ``citations``, the sources and reasoning name the publications as citations, linked."""
    rows = []
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        q = info.quantity
        kind, text = provenance_text(q, tr)
        rows.append({
            tr("Input"): input_label(info.path, len(prefix), cf, tr),
            tr("Value (low–high)"): value_text(q, cf.years, tr).replace("; ", "\n"),
            tr("Unit"): q.unit,
            tr("Year"): ", ".join(map(str, q.reference_years())) if q.value is not None else tr("series"),
            tr("Provenance"): kind,
            tr("Source or reasoning"): (Html("\n".join(cited(part, citations) for part in text.split(" · ")))
                                        if citations else text.replace(" · ", "\n")),
            tr("Scenario input"): tr("yes") if info.structural else "",
        })
    return pd.DataFrame(rows)


def provenance_summary(infos: list[InputInfo], prefix: tuple, tr: Translator = EN) -> pd.DataFrame:
    """How many inputs rest on each kind of evidence. A series whose years differ counts under each."""
    counts = {N_("a publication (read in it)"): 0, N_("a secondary report quoting a publication"): 0,
              N_("arithmetic on sourced values"): 0, N_("an assumption, with its reasoning"): 0}
    keys = list(counts)
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        q = info.quantity
        kinds = {s.evidence for s in q.sources()}
        if "primary" in kinds:
            counts[keys[0]] += 1
        if "secondary" in kinds:
            counts[keys[1]] += 1
        if "derived" in kinds:
            counts[keys[2]] += 1
        if q.assumptions():
            counts[keys[3]] += 1
    return pd.DataFrame({tr("Inputs resting on"): [tr(k) for k in keys], tr("Number"): list(counts.values())})


def assumptions_markdown(infos: list[InputInfo], prefix: tuple, cf: CountryFile | None = None,
                         citations: dict[str, tuple[str, str]] | None = None, tr: Translator = EN) -> str:
    """Markdown list of every assumption under ``prefix``, with the value it concerns and its reasoning
    (the reasoning is the parameter file's text, shown literally).

    Years of a series that share the same reasoning are listed together.
    """
    items = []
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        q = info.quantity
        label = md_text(input_label(info.path, len(prefix), cf, tr))
        reason_text = (lambda t: cited(tr.text(t), citations, "md")) if citations else (lambda t: md_text(tr.text(t)))
        if q.assumption is not None:
            value = tr.numbers(fmt_number(q.value)) if q.value is not None else tr("series")
            items.append(f"- **{label}** ({md_text(f'{value} {q.unit}')}): {reason_text(q.assumption)}")
        by_reason: dict[str, list[str]] = {}
        for y, v in sorted((q.values or {}).items()):
            if getattr(v, "assumption", None):
                by_reason.setdefault(v.assumption, []).append(f"{y}: {tr.numbers(fmt_number(v.value))}")
        for reason, years in by_reason.items():
            items.append(f"- **{label}** ({md_text('; '.join(years) + ' ' + q.unit)}): {reason_text(reason)}")
    return "\n".join(items) if items else tr("No input of this chapter is an assumption.")


def styled(df: pd.DataFrame, number_format=None, caption: str | None = None, tr: Translator = EN):
    """A table for display, every text (cells, row and column labels, caption) escaped for HTML: a
    label from a parameter file is shown as typed. Line breaks inside a cell are kept. With a
    translator ``tr``, the labels and texts are shown in its language and numbers in its style."""
    def cell(fmt):
        def show(x):
            if isinstance(x, Html):
                return x  # composed by the program, user text in it already escaped
            if isinstance(x, str):  # a text: its numbers are already written in the edition's style
                return html_text(tr(x) if tr(x) != x else tr.text(x))
            if x is None or (isinstance(x, float) and x != x):
                return ""
            return html_text(tr.numbers(fmt.format(x))) if fmt else html_text(x)
        return show

    def label(x):
        return html_text((tr(x) if tr(x) != x else tr.text(x)) if isinstance(x, str) else x)

    if isinstance(number_format, dict):
        formatter = {col: cell(number_format.get(col)) for col in df.columns}
    else:
        formatter = cell(number_format)
    if tr.lang != "en":
        df = df.rename_axis(index=[tr(n) if isinstance(n, str) else n for n in df.index.names],
                            columns=[tr(n) if isinstance(n, str) else n for n in df.columns.names])
    from pandas.io.formats.style import Styler

    # a style for every cell is one rule for the table's cells, not a rule naming each cell; and a
    # cell has an id only if it has a style of its own (the table's HTML was twice as long)
    style = (Styler(df, cell_ids=False).format(formatter)
             .format_index(label, axis=0).format_index(label, axis=1)
             .pipe(cells_styled, {"white-space": "pre-line"}))
    return style.set_caption(html_text(tr(caption))) if caption else style


def cells_styled(style: Styler, properties: dict[str, str]) -> Styler:
    """``style`` with CSS ``properties`` set for all its data cells, in one rule for the table."""
    return style.set_table_styles([{"selector": "td", "props": list(properties.items())}], overwrite=False)


def styled_inputs(df: pd.DataFrame, tr: Translator = EN):
    """Inputs table with assumptions visibly marked."""
    assumption = tr(N_("assumption"))

    def row_style(row):
        if assumption in row[tr("Provenance")]:
            return ["background-color: #fff4e5"] * len(row)
        return [""] * len(row)

    return (styled(df, tr=tr).apply(row_style, axis=1).hide(axis="index")
            .pipe(cells_styled, {"font-size": "0.8em", "vertical-align": "top", "text-align": "left"}))


def collapsible(summary: str, html_body: str) -> str:
    """HTML that shows ``summary`` and reveals ``html_body`` (already safe HTML) on a click (no script needed)."""
    return f"<details><summary><strong>{html_text(summary)}</strong></summary>\n{html_body}\n</details>"


def data_gaps_markdown(gaps, citations: dict | None = None, tr: Translator = EN) -> str:
    """The data a market lacks and who holds them, as a Markdown list of literal text (a publication
    named by its key shown as its citation)."""
    if not gaps:
        return tr("No data gaps are recorded in the parameter file.")
    text = (lambda t: cited(tr.text(t), citations, "md")) if citations else (lambda t: md_text(tr.text(t)))
    held = tr("held by")
    return "\n".join(f"- **{text(g.what)}** — {held}: {text(g.institution)}" for g in gaps)


def stage_unit_label(stage: str, tr: Translator = EN) -> str:
    return tr({"coca_leaf": N_("t of leaf"), "opium": N_("kg of gum")}.get(stage, N_("kg pure")))


DRUG_NAMES = {"cocaine": N_("cocaine"), "heroin": N_("heroin"), "methamphetamine": N_("methamphetamine")}


def product_label(product: str, tr: Translator = EN) -> str:
    """A reader's name for a product key: a stage, a drug's chemical inputs or services."""
    for suffix, what in (("_chemicals", N_("chemical inputs ({drug})")), ("_services", N_("services ({drug})"))):
        if product.endswith(suffix):
            drug = product[: -len(suffix)]
            return tr(what).format(drug=tr(DRUG_NAMES.get(drug, drug)))
    return tr(STAGE_LABELS.get(product, product.replace("_", " ")))


def balance_table(balances: dict[str, StageBalance], years: list[int], tr: Translator = EN) -> pd.DataFrame:
    """The supply-and-use balance of every stage of a chain: rows (product, item), columns years.

    Items that are zero in every year are left out; each product ends with its total supply and
    total uses, which are equal by construction.
    """
    blocks = []
    for stage, b in balances.items():
        unit = stage_unit_label(stage, tr)
        name = f"{tr(STAGE_LABELS.get(stage, stage)).capitalize()} ({unit})"
        rows = {}
        for item in BALANCE_ITEMS:
            arr = np.asarray(getattr(b, item), dtype=float)
            if np.any(np.abs(arr) > 1e-6):
                rows[(name, tr(ITEM_LABELS[item]))] = arr
        rows[(name, tr("Total supply"))] = b.supply()
        rows[(name, tr("Total uses"))] = b.uses()
        blocks.append(pd.DataFrame(rows, index=[str(y) for y in years]).T)
    return pd.concat(blocks)


def gdp_share_sentence(country: str, year: int, total_usd: float, gdp_usd: float | None,
                       gdp_year: int | None = None, tr: Translator = EN) -> str:
    """Total IFFs as a percentage of GDP, as a sentence: :math:`s = 100 \\times IFF / GDP`.
    ``gdp_year``: the year of the GDP used, when the file carries an earlier year's value forward."""
    if gdp_usd is None or not np.isfinite(total_usd):
        return tr("No GDP is given in the parameter file, so IFFs are not compared with GDP.")
    share = 100 * total_usd / gdp_usd
    carried = (tr(", the GDP of {gdp_year}: the parameter file gives none for {year}").format(gdp_year=gdp_year, year=year)
               if gdp_year is not None and gdp_year != year else "")
    return tr("That total is **{share}% of {country}'s GDP** in {year} (US\\$ {gdp} billion{carried}), a comparison "
              "of scale only: IFFs are gross values of transactions, not a part of GDP. The source of GDP is on the "
              "country's page of inputs.").format(share=tr.number(share, 2), country=md_text(country), year=year,
                                                  gdp=tr.number(gdp_usd / 1e9, 1), carried=carried)


def _year_list(years: list, tr: Translator = EN) -> str:
    years = [str(y) for y in years]
    return years[0] if len(years) == 1 else ", ".join(years[:-1]) + " " + tr("and") + " " + years[-1]


def central_vs_interval(years: list[int], central, low, high, tr: Translator = EN) -> str:
    """A sentence placing the central estimate of each year against its 90% Monte Carlo interval.

    Years where the central estimate lies outside the interval are named, with both numbers.
    """
    central, low, high = (np.asarray(a, dtype=float) for a in (central, low, high))
    shown = [i for i in range(len(years)) if np.isfinite(central[i])]
    if not shown:
        return ""
    below = [i for i in shown if central[i] < low[i]]
    above = [i for i in shown if central[i] > high[i]]
    if not below and not above:
        return ""  # the usual case: each input's value is the median of its draws
    parts = []
    for idx, message in (
            (below, N_("In {years} the central estimate lies below its 90% Monte Carlo interval ({detail}): several "
                       "inputs have ranges that extend much further above their central value than the other way (the "
                       "sources disagree, or the central value is the lowest or highest figure found), so most "
                       "combinations of inputs give a total above it.")),
            (above, N_("In {years} the central estimate lies above its 90% Monte Carlo interval ({detail}): several "
                       "inputs have ranges that extend much further below their central value than the other way (the "
                       "sources disagree, or the central value is the lowest or highest figure found), so most "
                       "combinations of inputs give a total below it."))):
        if not idx:
            continue
        detail = "; ".join(tr("{year}: {central} million against {low}–{high} million").format(
            year=years[i], central=tr.number(central[i] / 1e6), low=tr.number(low[i] / 1e6), high=tr.number(high[i] / 1e6))
            for i in idx)
        parts.append(tr(message).format(years=_year_list([years[i] for i in idx], tr), detail=detail))
    return (tr("**Note.**") + " " + " ".join(parts) + " " + tr(
        "The central estimate combines each input's central value; both numbers are reported, and the tornado chart "
        "below shows which inputs are responsible."))


# ----- honest headlines: the Monte Carlo interval and the scenario span together --------------------------

SCENARIO_MEANING = {
    "drugs": N_("where the drug changes hands between residents and non-residents (the point of sale on each route, "
                "and the share of the drug that crosses the country owned by non-residents)"),
    "smuggling": N_("where migrants pay their fees and where the smugglers who receive them reside"),
}


def headline_markdown(market: str, year: int, inward: float, outward: float, total: float, mc_low: float,
                      mc_high: float, scenario_low: float, scenario_high: float, tr: Translator = EN) -> str:
    """The chapter's headline numbers, with both kinds of uncertainty given together and a sentence
    on what each means (millions of US dollars)."""
    from ..params import MARKET_LABELS

    def m(x):
        return tr.number(x / 1e6)

    return tr("In {year}, inward IFFs from {market} were **US\\$ {inward} million** and outward IFFs **US\\$ {outward} "
              "million**, a total of **US\\$ {total} million**: 90% Monte Carlo interval {mc_low}–{mc_high}; the low "
              "and high scenarios span {scenario_low}–{scenario_high}. The Monte Carlo interval is the uncertainty of "
              "the measured and assumed inputs, with the structural shares at their central values; the scenarios "
              "move {meaning}, which no data here settle, and the span is the range of totals they give.").format(
        year=year, market=tr(MARKET_LABELS[market]), inward=m(inward), outward=m(outward), total=m(total),
        mc_low=m(mc_low), mc_high=m(mc_high), scenario_low=m(scenario_low), scenario_high=m(scenario_high),
        meaning=tr(SCENARIO_MEANING[market]))


def key_figures_html(market: str, country_name: str, years: list[int], summary: pd.DataFrame,
                     draws: dict, tr: Translator = EN) -> str:
    """The box a chapter opens with: inward, outward and total IFFs for the latest year and for the
    whole period, each with its 90% Monte Carlo interval and the span of the low and high scenarios
    (millions of current US dollars). Period figures add up the years draw by draw."""
    from ..params import MARKET_LABELS

    def m(x):
        return html_text(tr.number(x / 1e6))

    rows = summary[(summary["product"] == "all")]
    last = years[-1]
    period = f"{years[0]}–{years[-1]}"
    body = []
    for direction, name in (("inward", N_("Inward IFFs")), ("outward", N_("Outward IFFs")),
                            ("total", N_("Total (SDG 16.4.1)"))):
        cells = []
        for which in (last, period):
            sel = rows[(rows["direction"] == direction) & ((rows["year"] == which) if which == last else True)]
            by = {sc: sel[sel["scenario"] == sc]["value_usd"].sum(min_count=1) for sc in ("low", "central", "high")}
            if which == last:
                c = sel[sel["scenario"] == "central"]
                lo, hi = float(c["mc_p05_usd"].iloc[0]), float(c["mc_p95_usd"].iloc[0])
            else:
                d = np.asarray(draws[("all", direction)], dtype=float).sum(axis=1)
                lo, hi = np.percentile(d, [5, 95])
            if not np.isfinite(by["central"]):
                cells.append(f"<td>{html_text(tr('not estimated'))}</td>")
                continue
            strong = ("<strong>", "</strong>") if direction == "total" else ("", "")
            interval = html_text(tr("90% interval"))
            scenarios = html_text(tr("scenarios"))
            cells.append(f'<td>{strong[0]}{m(by["central"])}{strong[1]}<span class="iff-range">{interval} '
                         f'{m(lo)}–{m(hi)}</span><span class="iff-range">{scenarios} {m(by["low"])}–{m(by["high"])}'
                         f'</span></td>')
        body.append(f"<tr><th scope=\"row\">{html_text(tr(name))}</th>{''.join(cells)}</tr>")
    title = html_text(tr("Key figures: {market}, {country}").format(market=tr(MARKET_LABELS[market]), country=country_name))
    note = html_text(tr("Millions of current US dollars; central estimate, its 90% Monte Carlo interval, and the range "
                        "the low and high scenarios give (where ownership changes hands, or where fees are paid and to "
                        "whom). The period adds up the years."))
    return (f'<div class="iff-key-figures" role="note"><p class="iff-key-title">{title}</p>'
            f'<table><thead><tr><th scope="col"></th><th scope="col">{last}</th><th scope="col">{period}</th></tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table>'
            f'<p class="iff-key-note">{note}</p></div>')


def uncertainty_notes_markdown(shares, year: int, n_draws: int, se_low: float, se_high: float,
                               tr: Translator = EN) -> str:
    """Measured versus assumed, and the Monte Carlo error of the interval, as two sentences."""
    return tr("Of the Monte Carlo variance of the total in {year}, about **{assumed}%** comes from inputs that rest on "
              "assumptions only, **{measured}%** from inputs with a source, and {interactions}% from their interactions "
              "(first-order shares from the same draws). With {draws} draws, the Monte Carlo standard error of the "
              "interval's bounds is about US\\$ {se_low} million (5th percentile) and US\\$ {se_high} million (95th).").format(
        year=year, assumed=tr.number(100 * shares.assumed, 0), measured=tr.number(100 * shares.measured, 0),
        interactions=tr.number(100 * shares.interactions, 0), draws=tr.number(n_draws, 0),
        se_low=tr.number(se_low / 1e6, 2), se_high=tr.number(se_high / 1e6, 2))


def scenario_settings_table(rows: list[dict], year_index: int, labeller, tr: Translator = EN) -> pd.DataFrame:
    """What each scenario sets: every structural input with its value in the low, central and high
    scenarios in one year (from :func:`~methods.model.uncertainty.scenario_settings`)."""
    out = [{"input": labeller(r["path"]),
            **{name: float(np.broadcast_to(r[name], np.shape(r["central"]))[..., year_index])
               for name in ("low", "central", "high")}} for r in rows]
    return pd.DataFrame(out, columns=["input", "low", "central", "high"]).rename(
        columns={"input": tr("input"), "low": tr("low scenario"), "central": tr("central"), "high": tr("high scenario")})


# ----- the national teams' requests: chemicals, services, price ladders, income, retail, cross-checks -----

def _per_year(arr, years) -> list[float]:
    return [float(x) for x in np.broadcast_to(np.asarray(arr, dtype=float), (len(years),))]


def chemicals_table(records, years: list[int], tr: Translator = EN) -> pd.DataFrame:
    """One row per chemical input and year: quantity needed, price, share bought from non-residents
    and the outward IFF (quantity x share x price)."""
    rows = []
    for r in records:
        if r.component != "precursors":
            continue
        unit = r.quantity_unit.split()[0]
        for y, q, price, share, value in zip(years, _per_year(r.quantity, years), _per_year(r.price_usd, years),
                                             _per_year(r.detail["imported_share"], years), _per_year(r.value_usd, years)):
            rows.append({N_("chemical"): tr.text(r.label), N_("drug"): tr(DRUG_NAMES.get(r.drug, r.drug)), N_("year"): y,
                         N_("quantity needed"): q, N_("unit"): unit, N_("price, US$ per unit"): price,
                         N_("share bought from non-residents"): share, N_("outward IFF, US$ million"): value / 1e6})
    return pd.DataFrame(rows)


def services_table(records, country: str, years: list[int], tr: Translator = EN) -> pd.DataFrame:
    """The services paid across the border: rows (service, who pays whom, direction), columns years (US$ million)."""
    rows = {}
    for r in records:
        if r.component != "services":
            continue
        direction = tr(r.direction(country) or N_("not this country's flow"))
        payer = tr("residents") if r.payer == country else partner_name(r.payer, tr.lang)
        payee = tr("residents") if r.payee == country else partner_name(r.payee, tr.lang)
        rows[(tr.text(r.label), f"{payer} → {payee}", direction)] = [v / 1e6 for v in _per_year(r.value_usd, years)]
    table = pd.DataFrame(rows, index=[str(y) for y in years]).T
    if len(table):
        table.index = table.index.set_names([tr("service"), tr("paid by → to"), tr("for this country")])
    return table


def ladder_table(route, prices_usd_per_pure_kg: dict, year_index: int, sold_at: dict | None,
                 tr: Translator = EN) -> pd.DataFrame:
    """The price ladder of one route in one year: each rung's place, price per pure kilogram and the
    share of the route's quantity whose ownership passes there."""
    rows = []
    for key, point in route.rungs().items():
        share = sold_at.get(key) if sold_at else None
        rows.append({N_("where"): tr.text(point.place),
                     N_("US$ per pure kg"): float(np.asarray(prices_usd_per_pure_kg[key])[..., year_index]),
                     N_("share sold there"): "" if share is None else tr.number(100 * float(np.asarray(share)[..., year_index]), 0) + "%"})
    return pd.DataFrame(rows)


def income_table(value_chain_rows, iffs_total, years: list[int]) -> pd.DataFrame:
    """UNODC's three aggregates side by side (US$ million): gross illicit income (the sales of every
    stage), value added (income after the inputs bought) and IFFs (inward + outward)."""
    from ..drugs.chain import income_aggregates

    agg = income_aggregates(value_chain_rows)
    return pd.DataFrame({N_("gross illicit income"): np.asarray(agg["gross_income_usd"]) / 1e6,
                         N_("value added (illicit income)"): np.asarray(agg["value_added_usd"]) / 1e6,
                         N_("IFFs (inward + outward)"): np.asarray(iffs_total, dtype=float) / 1e6},
                        index=[str(y) for y in years]).T


def retail_table(estimate, balance_consumption, years: list[int], tr: Translator = EN) -> pd.DataFrame:
    """Triangulation: the retail market from the demand side against the balance's consumption."""
    rows = {
        (N_("past-year users"), N_("persons")): _per_year(estimate.users, years),
        **{(tr("grams bought ({kind} users)").format(kind=tr(k.replace("_", " "))), N_("grams as sold")): _per_year(g, years)
           for k, g in estimate.grams_by_type.items()},
        (N_("consumption from the demand side"), N_("kg pure")): _per_year(estimate.pure_kg, years),
        (N_("consumption in the supply balance"), N_("kg pure")): _per_year(balance_consumption, years),
        (N_("ratio, demand side / balance"), ""): [a / b if b else float("nan") for a, b in
                                                zip(_per_year(estimate.pure_kg, years), _per_year(balance_consumption, years))],
        (N_("users' spending at retail"), N_("US$ million")): [x / 1e6 for x in _per_year(estimate.spending_usd, years)],
    }
    table = pd.DataFrame(rows, index=[str(y) for y in years]).T
    table.index = table.index.set_names(["", N_("unit")])
    return table


def cross_check_table(stage: str, modelled_kg, cross_checks, v, years: list[int], tr: Translator = EN) -> pd.DataFrame:
    """The model's production of a stage beside independent estimates of it (kg)."""
    product = tr(STAGE_LABELS.get(stage, stage))
    rows = {(tr("this handbook"), product): _per_year(modelled_kg, years)}
    for c in cross_checks.values():
        rows[(tr.text(c.label), product)] = _per_year(v(c.quantity), years)
    table = pd.DataFrame(rows, index=[str(y) for y in years]).T / 1000.0
    table.index = table.index.set_names([N_("estimate"), N_("product")])
    return table


def not_estimated_markdown(missing, tr: Translator = EN) -> str:
    """The flows a file's data gaps leave unestimated, as a Markdown list (never shown as zero)."""
    if not missing:
        return ""
    items = [f"- **{md_text(product_label(product, tr))}** ({md_text(tr(direction))}): {tr('not estimated')}. "
             f"{tr('Missing')}: {md_text(tr.text(what))}" for _drug, product, direction, what in missing]
    return tr("**Not estimated** (shown as such in every table and export, never as zero):") + "\n\n" + "\n".join(items)


def transit_table(transit, years: list[int], tr: Translator = EN) -> pd.DataFrame:
    """Drug that crossed a stage owned by non-residents, in tonnes: what entered, was seized or lost,
    and left by each route. None of it is an IFF of the country: it keeps its owner."""
    rows = {(tr("entering"), ""): _per_year(transit.entering, years),
            (tr("seized in the country"), ""): _per_year(transit.seized, years),
            (tr("lost"), ""): _per_year(transit.lost, years)}
    for label, partner, q in transit.routes.values():
        rows[(tr("leaving"), f"{tr.text(label)} ({partner_name(partner, tr.lang)})")] = _per_year(q, years)
    table = pd.DataFrame(rows, index=[str(y) for y in years]).T / 1000.0
    table.index = table.index.set_names(["", tr("route")])
    return table


def ownership_table(central: float, bars, labeller) -> pd.DataFrame:
    """How much of a total each scenario input carries: the total with the input at its low and high
    bound (the others central), and the swing as a share of the central total."""
    rows = [{N_("input"): labeller(b), N_("total at low bound, US$ m"): b.output_at_low / 1e6,
             N_("total at high bound, US$ m"): b.output_at_high / 1e6,
             N_("swing, % of central total"): 100 * b.swing / central if central else float("nan")} for b in bars]
    return pd.DataFrame(rows, columns=[N_("input"), N_("total at low bound, US$ m"), N_("total at high bound, US$ m"),
                                       N_("swing, % of central total")])
