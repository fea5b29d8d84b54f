"""`iff new-country`: a blank parameter file with every required field present and marked MISSING.

Each field carries a comment saying what it is, its unit and where such data usually come from.
`iff validate` then lists every MISSING value; once all are filled in, `iff build` adds the
country's chapters to the handbook.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import IffError
from .loading import ISO3
from .project import Project
from .schema import MARKETS

SOURCE_HELP = ("source: {key: <entry of book/references.bib>, at: <table or page>, evidence: primary|secondary|derived}"
               " -- or replace the line by  assumption: <a sentence of reasoning>")


def record(indent: int, name: str, what: str, unit: str, where: str, year: bool = True) -> list[str]:
    """A blank record with comments."""
    pad = " " * indent
    lines = [f"{pad}# {what}", f"{pad}# Usually from: {where}", f"{pad}{name}:", f"{pad}  unit: {unit}",
             f"{pad}  value: MISSING"]
    if year:
        lines.append(f"{pad}  year: MISSING        # the year the value refers to (or use values: {{2019: ..., 2020: ...}} instead of value and year)")
    lines += [f"{pad}  source: MISSING      # {SOURCE_HELP}"]
    return lines


def price_point(indent: int, name: str, place: str, where: str) -> list[str]:
    pad = " " * indent
    return ([f"{pad}{name}:", f"{pad}  place: {place}"]
            + record(indent + 2, "price", "Price per kilogram as sold there", "USD/kg   # or <your currency>/kg", where)
            + record(indent + 2, "purity", "Purity of what is sold at that price (share of pure drug, 0-1)", "share",
                     "forensic laboratory analyses of seizures (police, prosecutor's office)"))


def drug_section(currency: str) -> list[str]:
    lines = ["  drugs:"]
    lines += record(4, "population", "Population covered by the drug-use survey (e.g. aged 12-65)", "persons",
                    "the national statistics office's population projections")
    lines += [
        "    chains:",
        "      # This blank file describes cocaine in a TRANSIT country (cocaine bought abroad and sold abroad).",
        "      # A producer country adds the stages coca_leaf and coca_paste_base before cocaine_hcl, and",
        "      # heroin or methamphetamine chains can be added: see Reference > Parameter files in the handbook",
        "      # and parameters/COL.yml, PER.yml and MEX.yml for complete examples.",
        "      cocaine:",
        "        role: transit          # producer | transit",
        "        balance: exports       # the balancing item: exports (given imports), imports (given exports) or production",
        "        stages:",
        "          cocaine_hcl:",
        "            imports:",
        "              volume:",
    ]
    lines += record(16, "quantity", "Cocaine entering the country in the year, pure kilograms", "kg",
                    "drug observatory or anti-narcotics police estimates; or derive it from a partner's production with base and base_share")
    lines += [
        "              routes:",
        "                main_supplier:",
        "                  label: MISSING        # e.g. Bought from Colombian suppliers",
        "                  partner: MISSING      # ISO3 code of the sellers' country, e.g. COL",
    ]
    lines += record(18, "share", "Share of imports on this route (all routes sum to 1)", "share",
                    "seizure records with origin (anti-narcotics police, UNODC Individual Drug Seizures)")
    lines += price_point(18, "home", "MISSING  # where the drug is delivered in the country, e.g. northern border",
                         "police price monitoring; UNODC Annual Report Questionnaire")
    lines += price_point(18, "abroad", "MISSING  # where it is bought abroad, e.g. production zones of the partner",
                         "police price monitoring; partner's drug observatory")
    lines += record(18, "abroad_share", "Share bought abroad by resident groups (0) ... delivered by non-residents (1)? "
                    "Share whose ownership changes abroad; a scenario input: give low and high", "share",
                    "police intelligence; otherwise an assumption with low: 0 and high: 1")
    lines += ["            seizures:"]
    lines += record(14, "quantity", "Cocaine seized in the year, as reported (bulk weight)", "kg",
                    "anti-narcotics police and customs seizure statistics")
    lines += record(14, "purity", "Purity of seized cocaine (share of pure drug)", "share",
                    "forensic laboratory analyses of seizures")
    lines += ["            consumption:"]
    lines += record(14, "prevalence", "Past-year prevalence of cocaine use in the survey population", "share",
                    "national household survey on drug use (drug observatory, statistics office)")
    lines += record(14, "grams_per_user", "Pure grams consumed per user per year", "g/user",
                    "surveys of users or treatment centres; otherwise an assumption with a wide range")
    lines += record(12, "losses", "Share of supply lost (spoilage, abandoned shipments)", "share",
                    "usually an assumption; UNODC's global cocaine balance used 5 per cent")
    lines += ["            exports:", "              routes:", "                main_destination:",
              "                  label: MISSING        # e.g. By sea to Europe",
              "                  partner: MISSING      # ISO3 code of the buyers' country, or a region name"]
    lines += record(18, "share", "Share of exports on this route (all routes sum to 1)", "share",
                    "seizure records with destination; UNODC Individual Drug Seizures")
    lines += price_point(18, "home", "MISSING  # e.g. departure ports", "police price monitoring")
    lines += price_point(18, "abroad", "MISSING  # e.g. destination wholesale", "UNODC World Drug Report price tables; EMCDDA")
    lines += record(18, "abroad_share", "Share of exports sold abroad by resident groups (ownership changes abroad); "
                    "a scenario input: give low and high", "share", "police intelligence; otherwise an assumption")
    lines += ["    data_gaps: []           # list what is missing: - {what: ..., institution: ...}"]
    return lines


def smuggling_section() -> list[str]:
    lines = ["  smuggling:", "    corridors:", "      main_corridor:",
             "        label: MISSING            # e.g. Nationals smuggled into the United States",
             "        origin: MISSING           # ISO3 code of the migrants' country of residence",
             "        # transit: MISSING        # ISO3 code of a transit country, if any (then add transit shares below)",
             "        destination: MISSING      # ISO3 code of the destination"]
    lines += record(8, "apprehensions", "Apprehension events of this group on this journey in the year", "events",
                    "the migration authority's statistics by nationality; the destination's border statistics")
    lines += record(8, "events_per_person", "Apprehension events per person (repeat apprehensions), at least 1", "ratio",
                    "migration authority (events vs persons); border agency recidivism rates")
    lines += record(8, "undetected_factor", "Migrants who made the journey per migrant apprehended, at least 1", "ratio",
                    "border agency estimates of apprehension rates; otherwise an assumption with a range")
    lines += record(8, "share_paying", "Share of migrants who pay a smuggler", "share",
                    "migration surveys (e.g. EMIF Sur, EMIF Norte); IOM surveys")
    lines += record(8, "fee", "Fee per paying migrant for this journey", "USD/person   # or <your currency>/person",
                    "migration surveys; prosecutors' case files")
    lines += ["        payment_place:            # where fees are paid; the shares sum to 1 (scenario inputs: give low/high)"]
    lines += record(10, "origin", "Share of the fee paid before departure (by the migrant or family at home)", "share",
                    "migration surveys (place and payer of the payment)")
    lines += record(10, "destination", "Share paid at destination (by relatives there, or on arrival)", "share",
                    "migration surveys")
    lines += ["        smuggler_residence:       # residence of the smugglers who receive the fees; the shares sum to 1"]
    lines += record(10, "origin", "Share received by smugglers resident in the origin country", "share",
                    "prosecutors' and financial intelligence case files")
    lines += record(10, "destination", "Share received by smugglers resident in the destination country", "share",
                    "prosecutors' and financial intelligence case files")
    lines += ["        # costs:                  # optional: smugglers' costs (transport, bribes, route fees), where data exist",
              "        #   route_fee:",
              "        #     label: Route fees paid to a criminal group",
              "        #     paid_by: origin      # residence of the smugglers who pay: origin, transit or destination",
              "        #     paid_to: destination # residence of the recipient: origin, transit, destination or an ISO3 code",
              "        #     per_paying_migrant: {unit: USD/person, value: ..., year: ..., source: ...}   # or share_of_fees",
              "    data_gaps: []"]
    return lines


def blank_file(iso3: str, name: str, markets: list[str]) -> str:
    fictional = iso3.startswith("X")
    lines = [
        f"# {name}: parameters of the IFF estimates. Written by `iff new-country`.",
        "# Replace every MISSING. Every number needs its provenance: a source (a key of book/references.bib,",
        "# the table or page, and whether you read it in the publication itself, in a secondary report, or",
        "# derived it) or an assumption (a sentence of reasoning). Check with:  iff validate parameters/"
        f"{iso3}.yml",
        f"country: {iso3}",
        f"name: {name}",
        "name_es: MISSING           # the name in Spanish (optional: delete the line if not needed)",
    ]
    if fictional:
        lines.append("fictional: true           # codes XAA-XZZ are fictional (training) countries")
    else:
        lines.append("m49: MISSING              # UN M49 numeric code, e.g. 170 for Colombia")
    lines += [
        "currency: MISSING          # ISO 4217 code of the local currency, e.g. COP",
        "first_year: MISSING        # first year estimated, e.g. 2015",
        "last_year: MISSING         # last year estimated, e.g. 2019",
        "summary: MISSING           # one paragraph: the country's place in the markets covered",
        "",
        "macro:",
    ]
    lines += record(2, "lcu_per_usd", "Annual average exchange rate, local currency per US dollar "
                    "(delete this record if every value is in US dollars)", "MISSING/USD   # e.g. COP/USD",
                    "the central bank; World Bank WDI series PA.NUS.FCRF")
    lines += record(2, "gdp_usd", "Gross domestic product, current US dollars", "USD",
                    "the national statistics office; World Bank WDI series NY.GDP.MKTP.CD")
    lines += ["", "markets:"]
    if "drugs" in markets:
        lines += drug_section("")
    if "smuggling" in markets:
        lines += smuggling_section()
    return "\n".join(lines) + "\n"


def new_country(project: Project, iso3: str, name: str, markets: list[str]) -> Path:
    """Write parameters/<ISO3>.yml; refuse a bad code or an existing file (nothing is overwritten)."""
    if not ISO3.match(iso3 or ""):
        raise IffError(f"{iso3!r} is not an ISO 3166-1 alpha-3 code: give three capital letters, e.g. BOL "
                       "(XAA-XZZ for a fictional training country)")
    if not name or not name.strip():
        raise IffError("--name: give the country's name")
    if "\n" in name or ":" in name or "#" in name:
        raise IffError("--name: the name must be one line without ':' or '#'")
    unknown = [m for m in markets if m not in MARKETS]
    if unknown or not markets:
        raise IffError(f"--markets: choose among {', '.join(MARKETS)}")
    path = project.parameters_dir / f"{iso3}.yml"
    if path.exists():
        raise IffError(f"{project.rel(path)} already exists; nothing was written (edit it, or delete it first)")
    text = blank_file(iso3, name.strip(), markets)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        os.link(tmp, path)  # fails if the file appeared meanwhile: never overwrites
    except FileExistsError:
        raise IffError(f"{project.rel(path)} already exists; nothing was written") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
