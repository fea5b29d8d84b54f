"""Tables the chapters display: inputs with their provenance, balances, flows, ranges.

These functions only arrange results for reading; every number comes from the model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..drugs.balance import BALANCE_ITEMS, StageBalance
from ..inputs import InputInfo
from ..params import STAGE_LABELS, CountryFile, Quantity
from ..params.partners import partner_name
from .text import Html, cited, html_text, md_text

EVIDENCE_LABELS = {
    "primary": "source",
    "secondary": "source (secondary report)",
    "derived": "derived from sources",
}
ITEM_LABELS = {
    "production": "Production", "imports": "Imports bought by residents", "inflow": "From previous stage",
    "transit_in": "Entering in transit (owned by non-residents)", "transit_out": "Leaving in transit",
    "discrepancy": "Statistical discrepancy", "exports": "Exports sold by residents", "seizures": "Seizures (pure)",
    "consumption": "Domestic consumption", "losses": "Losses", "licit_use": "Licit/traditional use",
    "outflow": "To next stage",
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


def value_text(q: Quantity, years: list[int]) -> str:
    if q.value is not None:
        text = fmt_number(q.value)
        if q.low is not None:
            text += f" ({fmt_number(q.low)}–{fmt_number(q.high)})"
        return text
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
            parts.append(f"(nearest year used for {', '.join(map(str, missing))})")
    return "; ".join(parts)


def provenance_text(q: Quantity) -> tuple[str, str]:
    """(kind, text): kind is 'source', 'source (secondary report)', 'derived from sources',
    'assumption', or 'mixed' for a series whose years differ."""
    kinds, texts = [], []
    if q.source is not None:
        kinds.append(EVIDENCE_LABELS[q.source.evidence])
        texts.append(f"[{q.source.key}] {q.source.at}")
    if q.assumption is not None:
        kinds.append("assumption")
        texts.append(q.assumption)
    for y, v in sorted((q.values or {}).items()):
        src, ass = getattr(v, "source", None), getattr(v, "assumption", None)
        if src is not None:
            kinds.append(EVIDENCE_LABELS[src.evidence])
            texts.append(f"{y}: [{src.key}] {src.at}")
        if ass is not None:
            kinds.append("assumption")
            texts.append(f"{y}: {ass}")
    uniq = sorted(set(kinds))
    kind = uniq[0] if len(uniq) == 1 else "mixed: " + ", ".join(uniq)
    text = " · ".join(texts)
    if q.range_note:
        text += f" · Range: {q.range_note}"
    if q.note:
        text += f" · Note: {q.note}"
    return kind, text


FIELD_LABELS = {
    "abroad_share": "share whose ownership changes abroad", "share_of_imports": "share of imports that stays foreign-owned",
    "lcu_per_usd": "exchange rate", "gdp_usd": "GDP", "leaf_yield": "leaf yield", "gum_yield": "gum yield",
    "coca_leaf": "coca leaf", "licit_use": "licit and traditional use", "conversion": "conversion to the next stage",
    "producer_price": "producer price", "grams_per_user": "grams per user per year", "prevalence": "past-year prevalence",
    "base_share": "share of the base", "base_fraction_of_flow": "fraction of the flow the base represents",
    "events_per_person": "apprehension events per person", "undetected_factor": "crossers per apprehended crosser",
    "share_paying": "share paying a smuggler", "per_kg": "quantity per kilogram", "imported_share": "share bought abroad",
    "share_of_users": "share of users", "days_per_year": "days of use per year", "grams_per_day": "grams per day",
    "per_paying_migrant": "cost per paying migrant", "share_of_fees": "share of fees", "morphine_content": "morphine content",
    "lab_efficiency": "laboratory efficiency",
}
CONTAINERS = {"markets", "chains", "stages", "routes", "corridors", "precursors", "services", "ladder", "sold_at",
              "user_types", "cross_checks", "payment_place", "smuggler_residence", "costs", "production", "volume",
              "conversion_from_morphine"}
PLACE_WORDS = {"origin": "the origin country", "transit": "the transit country", "destination": "the destination country"}


def input_label(path: tuple, prefix_len: int, cf: CountryFile | None = None) -> str:
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
                parts.append(STAGE_LABELS[key])
            elif parent_key == "sold_at":
                rung = (getattr(grandparent, "ladder", None) or {}).get(key)
                parts.append(f"share sold at {getattr(rung, 'place', None) or str(key).replace('_', ' ')}")
            elif parent_key == "payment_place":
                parts.append(f"share of fees paid in {PLACE_WORDS.get(key, key)}")
            elif parent_key == "smuggler_residence":
                parts.append(f"share received by smugglers resident in {PLACE_WORDS.get(key, key)}")
            elif isinstance(label, str) and label:
                parts.append(label)
            elif isinstance(place, str) and place:
                parts.append(place)
            elif key in CONTAINERS:
                pass
            else:
                parts.append(FIELD_LABELS.get(str(key), str(key).replace("_", " ")))
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


def citation_links(bib_path, base: str) -> dict[str, tuple[str, str]]:
    """Each bibliography key's citation, "Author Year", and its link to the entry on the handbook's
    bibliography page (``base``: the way from the page that cites to the book's root, e.g. "../../").
    The bibliography's entries carry the anchors ``ref-<key>`` (the book's ``bibtex_cite_id``)."""
    from docutils.nodes import make_id

    from ..params.loading import bib_labels

    return {key: (label, f"{base}reference/bibliography.html#{make_id('ref-' + key)}")
            for key, label in bib_labels(bib_path).items()}


def inputs_table(cf: CountryFile, infos: list[InputInfo], prefix: tuple,
                 citations: dict[str, tuple[str, str]] | None = None) -> pd.DataFrame:
    """Every input under ``prefix``: value (with bounds), unit, year(s), provenance and its kind.
    With ``citations``, the sources and reasoning name the publications as citations, linked."""
    rows = []
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        q = info.quantity
        kind, text = provenance_text(q)
        rows.append({
            "Input": input_label(info.path, len(prefix), cf),
            "Value (low–high)": value_text(q, cf.years).replace("; ", "\n"),
            "Unit": q.unit,
            "Year": ", ".join(map(str, q.reference_years())) if q.value is not None else "series",
            "Provenance": kind,
            "Source or reasoning": (Html("\n".join(cited(part, citations) for part in text.split(" · ")))
                                    if citations else text.replace(" · ", "\n")),
            "Scenario input": "yes" if info.structural else "",
        })
    return pd.DataFrame(rows)


def provenance_summary(infos: list[InputInfo], prefix: tuple) -> pd.DataFrame:
    """How many inputs rest on each kind of evidence. A series whose years differ counts under each."""
    counts = {"a publication (read in it)": 0, "a secondary report quoting a publication": 0,
              "arithmetic on sourced values": 0, "an assumption, with its reasoning": 0}
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
    return pd.DataFrame({"Inputs resting on": keys, "Number": list(counts.values())})


def assumptions_markdown(infos: list[InputInfo], prefix: tuple, cf: CountryFile | None = None,
                         citations: dict[str, tuple[str, str]] | None = None) -> str:
    """Markdown list of every assumption under ``prefix``, with the value it concerns and its reasoning
    (the reasoning is the parameter file's text, shown literally).

    Years of a series that share the same reasoning are listed together.
    """
    items = []
    for info in infos:
        if info.path[: len(prefix)] != prefix:
            continue
        q = info.quantity
        label = md_text(input_label(info.path, len(prefix), cf))
        reason_text = (lambda t: cited(t, citations, "md")) if citations else md_text
        if q.assumption is not None:
            value = fmt_number(q.value) if q.value is not None else "series"
            items.append(f"- **{label}** ({md_text(f'{value} {q.unit}')}): {reason_text(q.assumption)}")
        by_reason: dict[str, list[str]] = {}
        for y, v in sorted((q.values or {}).items()):
            if getattr(v, "assumption", None):
                by_reason.setdefault(v.assumption, []).append(f"{y}: {fmt_number(v.value)}")
        for reason, years in by_reason.items():
            items.append(f"- **{label}** ({md_text('; '.join(years) + ' ' + q.unit)}): {reason_text(reason)}")
    return "\n".join(items) if items else "No input of this chapter is an assumption."


def styled(df: pd.DataFrame, number_format=None, caption: str | None = None):
    """A table for display, every text (cells, row and column labels, caption) escaped for HTML: a
    label from a parameter file is shown as typed. Line breaks inside a cell are kept."""
    def cell(fmt):
        def show(x):
            if isinstance(x, Html):
                return x  # composed by the program, user text in it already escaped
            if isinstance(x, str):
                return html_text(x)
            if x is None or (isinstance(x, float) and x != x):
                return ""
            return fmt.format(x) if fmt else html_text(x)
        return show

    if isinstance(number_format, dict):
        formatter = {col: cell(number_format.get(col)) for col in df.columns}
    else:
        formatter = cell(number_format)
    style = (df.style.format(formatter)
             .format_index(escape="html", axis=0).format_index(escape="html", axis=1)
             .set_properties(**{"white-space": "pre-line"}))
    return style.set_caption(html_text(caption)) if caption else style


def styled_inputs(df: pd.DataFrame):
    """Inputs table with assumptions visibly marked."""
    def row_style(row):
        if "assumption" in row["Provenance"]:
            return ["background-color: #fff4e5"] * len(row)
        return [""] * len(row)

    return (styled(df).apply(row_style, axis=1).hide(axis="index")
            .set_properties(**{"font-size": "0.8em", "vertical-align": "top", "text-align": "left"}))


def collapsible(summary: str, html_body: str) -> str:
    """HTML that shows ``summary`` and reveals ``html_body`` (already safe HTML) on a click (no script needed)."""
    return f"<details><summary><strong>{html_text(summary)}</strong></summary>\n{html_body}\n</details>"


def data_gaps_markdown(gaps, citations: dict | None = None) -> str:
    """The data a market lacks and who holds them, as a Markdown list of literal text (a publication
    named by its key shown as its citation)."""
    if not gaps:
        return "No data gaps are recorded in the parameter file."
    text = (lambda t: cited(t, citations, "md")) if citations else md_text
    return "\n".join(f"- **{text(g.what)}** — held by: {text(g.institution)}" for g in gaps)


def stage_unit_label(stage: str) -> str:
    return {"coca_leaf": "t of leaf", "opium": "kg of gum"}.get(stage, "kg pure")


def product_label(product: str) -> str:
    """A reader's name for a product key: a stage, a drug's chemical inputs or services."""
    for suffix, what in (("_chemicals", "chemical inputs"), ("_services", "services")):
        if product.endswith(suffix):
            return f"{what} ({product[: -len(suffix)]})"
    return STAGE_LABELS.get(product, product.replace("_", " "))


def balance_table(balances: dict[str, StageBalance], years: list[int]) -> pd.DataFrame:
    """The supply-and-use balance of every stage of a chain: rows (product, item), columns years.

    Items that are zero in every year are left out; each product ends with its total supply and
    total uses, which are equal by construction.
    """
    blocks = []
    for stage, b in balances.items():
        unit = stage_unit_label(stage)
        name = f"{STAGE_LABELS.get(stage, stage).capitalize()} ({unit})"
        rows = {}
        for item in BALANCE_ITEMS:
            arr = np.asarray(getattr(b, item), dtype=float)
            if np.any(np.abs(arr) > 1e-6):
                rows[(name, ITEM_LABELS[item])] = arr
        rows[(name, "Total supply")] = b.supply()
        rows[(name, "Total uses")] = b.uses()
        blocks.append(pd.DataFrame(rows, index=[str(y) for y in years]).T)
    return pd.concat(blocks)


def gdp_share_sentence(country: str, year: int, total_usd: float, gdp_usd: float | None,
                       gdp_year: int | None = None) -> str:
    """Total IFFs as a percentage of GDP, as a sentence: :math:`s = 100 \\times IFF / GDP`.
    ``gdp_year``: the year of the GDP used, when the file carries an earlier year's value forward."""
    if gdp_usd is None or not np.isfinite(total_usd):
        return "No GDP is given in the parameter file, so IFFs are not compared with GDP."
    share = 100 * total_usd / gdp_usd
    carried = (f", the GDP of {gdp_year}: the parameter file gives none for {year}"
               if gdp_year is not None and gdp_year != year else "")
    return (f"That total is **{share:.2f}% of {md_text(country)}'s GDP** in {year} (US\\$ {gdp_usd / 1e9:,.1f} billion"
            f"{carried}), a comparison of scale only: IFFs are gross values of transactions, not a part of GDP. The "
            f"source of GDP is on the country's page of inputs.")


def _year_list(years: list) -> str:
    years = [str(y) for y in years]
    return years[0] if len(years) == 1 else ", ".join(years[:-1]) + " and " + years[-1]


def central_vs_interval(years: list[int], central, low, high) -> str:
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
    for idx, where, side in ((below, "below", "above"), (above, "above", "below")):
        if not idx:
            continue
        detail = "; ".join(f"{years[i]}: {central[i] / 1e6:,.1f} million against {low[i] / 1e6:,.1f}–"
                           f"{high[i] / 1e6:,.1f} million" for i in idx)
        parts.append(f"In {_year_list([years[i] for i in idx])} the central estimate lies {where} its 90% Monte "
                     f"Carlo interval ({detail}): several inputs have ranges that extend much further {side} their "
                     f"central value than the other way (the sources disagree, or the central value is the lowest "
                     f"or highest figure found), so most combinations of inputs give a total {side} it.")
    return ("**Note.** " + " ".join(parts) + " The central estimate combines each input's central value; both "
            "numbers are reported, and the tornado chart below shows which inputs are responsible.")


# ----- honest headlines: the Monte Carlo interval and the scenario span together --------------------------

SCENARIO_MEANING = {
    "drugs": "where the drug changes hands between residents and non-residents (the point of sale on each route, "
             "and the share of the drug that crosses the country owned by non-residents)",
    "smuggling": "where migrants pay their fees and where the smugglers who receive them reside",
}


def headline_markdown(market: str, year: int, inward: float, outward: float, total: float, mc_low: float,
                      mc_high: float, scenario_low: float, scenario_high: float) -> str:
    """The chapter's headline numbers, with both kinds of uncertainty given together and a sentence
    on what each means (millions of US dollars)."""
    def m(x):
        return f"{x / 1e6:,.1f}"

    from ..params import MARKET_LABELS

    return (f"In {year}, inward IFFs from {MARKET_LABELS[market]} were **US\\$ {m(inward)} million** and outward IFFs **US\\$ {m(outward)} million**, "
            f"a total of **US\\$ {m(total)} million**: 90% Monte Carlo interval {m(mc_low)}–{m(mc_high)}; the low and "
            f"high scenarios span {m(scenario_low)}–{m(scenario_high)}. The Monte Carlo interval is the uncertainty of "
            f"the measured and assumed inputs, with the structural shares at their central values; the scenarios move "
            f"{SCENARIO_MEANING[market]}, which no data here settle, and the span is the range of totals they give.")


def key_figures_html(market: str, country_name: str, years: list[int], summary: pd.DataFrame,
                     draws: dict) -> str:
    """The box a chapter opens with: inward, outward and total IFFs for the latest year and for the
    whole period, each with its 90% Monte Carlo interval and the span of the low and high scenarios
    (millions of current US dollars). Period figures add up the years draw by draw."""
    from ..params import MARKET_LABELS

    def m(x):
        return html_text(f"{x / 1e6:,.1f}")

    rows = summary[(summary["product"] == "all")]
    last = years[-1]
    period = f"{years[0]}–{years[-1]}"
    body = []
    for direction, name in (("inward", "Inward IFFs"), ("outward", "Outward IFFs"), ("total", "Total (SDG 16.4.1)")):
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
                cells.append("<td>not estimated</td>")
                continue
            strong = ("<strong>", "</strong>") if direction == "total" else ("", "")
            cells.append(f'<td>{strong[0]}{m(by["central"])}{strong[1]}<span class="iff-range">90% interval '
                         f'{m(lo)}–{m(hi)}</span><span class="iff-range">scenarios {m(by["low"])}–{m(by["high"])}'
                         f'</span></td>')
        body.append(f"<tr><th scope=\"row\">{name}</th>{''.join(cells)}</tr>")
    title = html_text(f"Key figures: {MARKET_LABELS[market]}, {country_name}")
    return (f'<div class="iff-key-figures" role="note"><p class="iff-key-title">{title}</p>'
            f'<table><thead><tr><th scope="col"></th><th scope="col">{last}</th><th scope="col">{period}</th></tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table>'
            f'<p class="iff-key-note">Millions of current US dollars; central estimate, its 90% Monte Carlo interval, '
            f'and the range the low and high scenarios give (where ownership changes hands, or where fees are paid '
            f'and to whom). The period adds up the years.</p></div>')


def uncertainty_notes_markdown(shares, year: int, n_draws: int, se_low: float, se_high: float) -> str:
    """Measured versus assumed, and the Monte Carlo error of the interval, as two sentences."""
    return (f"Of the Monte Carlo variance of the total in {year}, about **{100 * shares.assumed:.0f}%** comes from "
            f"inputs that rest on assumptions only, **{100 * shares.measured:.0f}%** from inputs with a source, and "
            f"{100 * shares.interactions:.0f}% from their interactions (first-order shares from the same draws). "
            f"With {n_draws:,} draws, the Monte Carlo standard error of the interval's bounds is about US\\$ "
            f"{se_low / 1e6:,.2f} million (5th percentile) and US\\$ {se_high / 1e6:,.2f} million (95th).")


def scenario_settings_table(rows: list[dict], year_index: int, labeller) -> pd.DataFrame:
    """What each scenario sets: every structural input with its value in the low, central and high
    scenarios in one year (from :func:`~methods.model.uncertainty.scenario_settings`)."""
    out = [{"input": labeller(r["path"]),
            **{name: float(np.broadcast_to(r[name], np.shape(r["central"]))[..., year_index])
               for name in ("low", "central", "high")}} for r in rows]
    return pd.DataFrame(out, columns=["input", "low", "central", "high"]).rename(
        columns={"low": "low scenario", "central": "central", "high": "high scenario"})


# ----- the national teams' requests: chemicals, services, price ladders, income, retail, cross-checks -----

def _per_year(arr, years) -> list[float]:
    return [float(x) for x in np.broadcast_to(np.asarray(arr, dtype=float), (len(years),))]


def chemicals_table(records, years: list[int]) -> pd.DataFrame:
    """One row per chemical input and year: quantity needed, price, share bought from non-residents
    and the outward IFF (quantity x share x price)."""
    rows = []
    for r in records:
        if r.component != "precursors":
            continue
        unit = r.quantity_unit.split()[0]
        for y, q, price, share, value in zip(years, _per_year(r.quantity, years), _per_year(r.price_usd, years),
                                             _per_year(r.detail["imported_share"], years), _per_year(r.value_usd, years)):
            rows.append({"chemical": r.label, "drug": r.drug, "year": y, f"quantity needed": q, "unit": unit,
                         "price, US$ per unit": price, "share bought from non-residents": share,
                         "outward IFF, US$ million": value / 1e6})
    return pd.DataFrame(rows)


def services_table(records, country: str, years: list[int]) -> pd.DataFrame:
    """The services paid across the border: rows (service, who pays whom, direction), columns years (US$ million)."""
    rows = {}
    for r in records:
        if r.component != "services":
            continue
        direction = r.direction(country) or "not this country's flow"
        payer = "residents" if r.payer == country else partner_name(r.payer)
        payee = "residents" if r.payee == country else partner_name(r.payee)
        rows[(r.label, f"{payer} → {payee}", direction)] = [v / 1e6 for v in _per_year(r.value_usd, years)]
    table = pd.DataFrame(rows, index=[str(y) for y in years]).T
    if len(table):
        table.index = table.index.set_names(["service", "paid by → to", "for this country"])
    return table


def ladder_table(route, prices_usd_per_pure_kg: dict, year_index: int, sold_at: dict | None) -> pd.DataFrame:
    """The price ladder of one route in one year: each rung's place, price per pure kilogram and the
    share of the route's quantity whose ownership passes there."""
    rows = []
    for key, point in route.rungs().items():
        share = sold_at.get(key) if sold_at else None
        rows.append({"where": point.place, "US$ per pure kg": float(np.asarray(prices_usd_per_pure_kg[key])[..., year_index]),
                     "share sold there": "" if share is None else f"{float(np.asarray(share)[..., year_index]):.0%}"})
    return pd.DataFrame(rows)


def income_table(value_chain_rows, iffs_total, years: list[int]) -> pd.DataFrame:
    """UNODC's three aggregates side by side (US$ million): gross illicit income (the sales of every
    stage), value added (income after the inputs bought) and IFFs (inward + outward)."""
    from ..drugs.chain import income_aggregates

    agg = income_aggregates(value_chain_rows)
    return pd.DataFrame({"gross illicit income": np.asarray(agg["gross_income_usd"]) / 1e6,
                         "value added (illicit income)": np.asarray(agg["value_added_usd"]) / 1e6,
                         "IFFs (inward + outward)": np.asarray(iffs_total, dtype=float) / 1e6},
                        index=[str(y) for y in years]).T


def retail_table(estimate, balance_consumption, years: list[int]) -> pd.DataFrame:
    """Triangulation: the retail market from the demand side against the balance's consumption."""
    rows = {
        ("past-year users", "persons"): _per_year(estimate.users, years),
        **{(f"grams bought ({k} users)", "grams as sold"): _per_year(g, years) for k, g in estimate.grams_by_type.items()},
        ("consumption from the demand side", "kg pure"): _per_year(estimate.pure_kg, years),
        ("consumption in the supply balance", "kg pure"): _per_year(balance_consumption, years),
        ("ratio, demand side / balance", ""): [a / b if b else float("nan") for a, b in
                                                zip(_per_year(estimate.pure_kg, years), _per_year(balance_consumption, years))],
        ("users' spending at retail", "US$ million"): [x / 1e6 for x in _per_year(estimate.spending_usd, years)],
    }
    table = pd.DataFrame(rows, index=[str(y) for y in years]).T
    table.index = table.index.set_names(["", "unit"])
    return table


def cross_check_table(stage: str, modelled_kg, cross_checks, v, years: list[int]) -> pd.DataFrame:
    """The model's production of a stage beside independent estimates of it (kg)."""
    rows = {("this handbook", STAGE_LABELS.get(stage, stage)): _per_year(modelled_kg, years)}
    for c in cross_checks.values():
        rows[(c.label, STAGE_LABELS.get(stage, stage))] = _per_year(v(c.quantity), years)
    table = pd.DataFrame(rows, index=[str(y) for y in years]).T / 1000.0
    table.index = table.index.set_names(["estimate", "product"])
    return table


def not_estimated_markdown(missing) -> str:
    """The flows a file's data gaps leave unestimated, as a Markdown list (never shown as zero)."""
    if not missing:
        return ""
    items = [f"- **{md_text(product_label(product))}** ({md_text(direction)}): not estimated. Missing: {md_text(what)}"
             for _drug, product, direction, what in missing]
    return "**Not estimated** (shown as such in every table and export, never as zero):\n\n" + "\n".join(items)


def transit_table(transit, years: list[int]) -> pd.DataFrame:
    """Drug that crossed a stage owned by non-residents, in tonnes: what entered, was seized or lost,
    and left by each route. None of it is an IFF of the country: it keeps its owner."""
    rows = {("entering", ""): _per_year(transit.entering, years),
            ("seized in the country", ""): _per_year(transit.seized, years),
            ("lost", ""): _per_year(transit.lost, years)}
    for label, partner, q in transit.routes.values():
        rows[("leaving", f"{label} ({partner_name(partner)})")] = _per_year(q, years)
    table = pd.DataFrame(rows, index=[str(y) for y in years]).T / 1000.0
    table.index = table.index.set_names(["", "route"])
    return table


def ownership_table(central: float, bars, labeller) -> pd.DataFrame:
    """How much of a total each scenario input carries: the total with the input at its low and high
    bound (the others central), and the swing as a share of the central total."""
    rows = [{"input": labeller(b), "total at low bound, US$ m": b.output_at_low / 1e6,
             "total at high bound, US$ m": b.output_at_high / 1e6,
             "swing, % of central total": 100 * b.swing / central if central else float("nan")} for b in bars]
    return pd.DataFrame(rows, columns=["input", "total at low bound, US$ m", "total at high bound, US$ m",
                                       "swing, % of central total"])
