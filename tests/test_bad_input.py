"""Malformed parameter files: each gets clear one-line errors naming the file and the field (or line);
nothing in the file is executed, and no country's outputs change."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO, copy_repo, run_iff
from methods.model.errors import ParameterError
from methods.model.params import bib_keys, load_country

BIB = bib_keys(REPO / "book" / "references.bib")
GOOD = (REPO / "parameters" / "XRU.yml").read_text()
MARKER = "/tmp/iff-bad-input-marker"


def sub(old: str, new: str, count: int = 1):
    def edit(text: str) -> str:
        assert old in text, f"test case refers to text that is not in XRU.yml: {old!r}"
        return text.replace(old, new, count)
    return edit


def whole(text: str):
    return lambda _: text


LEAF_YIELD = "              leaf_yield:\n                unit: t/ha\n                value: 5\n"
POPULATION = "      value: 10000000\n      year: 2018\n"
LOSSES = "              unit: share\n              value: 0.05\n"

# (id, edit of the training file, text expected in the (first) problem)
CASES = [
    ("yaml-unclosed-bracket", sub("values: {2018: 10000, 2019: 12000}", "values: {2018: 10000, 2019: 12000"), "YAML syntax error"),
    ("yaml-bad-indent", sub("  lcu_per_usd:\n    unit: XTS/USD", "  lcu_per_usd:\n      unit: XTS/USD\n    unit: x"), "YAML syntax error"),
    ("yaml-tab-indent", sub("  gdp_usd:\n    unit: USD", "  gdp_usd:\n\tunit: USD"), "YAML syntax error"),
    ("duplicate-key-top", sub("first_year: 2018\n", "first_year: 2018\nfirst_year: 2017\n"), "duplicate key 'first_year'"),
    ("duplicate-key-nested", sub(LEAF_YIELD, LEAF_YIELD + "                value: 6\n"), "duplicate key 'value'"),
    ("wrong-type-text-value", sub(POPULATION, "      value: ten million\n      year: 2018\n"), "must be a number, got the text 'ten million'"),
    ("wrong-type-year", sub(POPULATION, "      value: 10000000\n      year: twenty\n"), "a year must be a whole number"),
    ("wrong-type-list-for-mapping", sub("macro:\n", "macro: [1, 2]\nignored:\n"), "must be a mapping"),
    ("wrong-type-boolean", sub(POPULATION, "      value: true\n      year: 2018\n"), "must be a number, not true/false"),
    ("negative-quantity", sub(LEAF_YIELD, LEAF_YIELD.replace("value: 5", "value: -5")), "must not be negative (got -5)"),
    ("share-above-one", sub(LOSSES, LOSSES.replace("0.05", "1.5")), "a share must lie between 0 and 1 (got 1.5)"),
    ("share-negative", sub(LOSSES, LOSSES.replace("0.05", "-0.05")), "must not be negative (got -0.05)"),
    ("bounds-exclude-value", sub("                low: 4\n                high: 6", "                low: 5.5\n                high: 6"), "bounds do not contain the value"),
    ("half-bounds", sub("                low: 4\n                high: 6\n", "                low: 4\n"), "give both low and high, or neither"),
    ("missing-source", sub("      assumption: Fictional survey population aged 15-64, a round number for the worked example.\n", ""), "no source: give source"),
    ("source-and-assumption", sub("      assumption: Fictional survey population aged 15-64, a round number for the worked example.\n",
                                  "      assumption: Fictional survey population aged 15-64, a round number for the worked example.\n"
                                  "      source: {key: wdi_gdp, at: p. 1, evidence: primary}\n"), "give either source or assumption, not both"),
    ("unknown-source-key", sub("      assumption: Fictional survey population aged 15-64, a round number for the worked example.\n",
                               "      source: {key: no_such_publication, at: p. 1, evidence: primary}\n"), "source key 'no_such_publication' is not in book/references.bib"),
    ("source-without-page", sub("      assumption: Fictional survey population aged 15-64, a round number for the worked example.\n",
                                "      source: {key: wdi_gdp, evidence: primary}\n"), "missing required key 'at'"),
    ("source-bad-evidence", sub("      assumption: Fictional survey population aged 15-64, a round number for the worked example.\n",
                                "      source: {key: wdi_gdp, at: p. 1, evidence: rumour}\n"), "evidence"),
    ("unknown-key-top", sub("first_year: 2018", "frist_year: 2018"), "unknown key 'frist_year' (did you mean 'first_year'?)"),
    ("unknown-key-nested", sub("            licit_use:", "            licit_uses:"), "unknown key 'licit_uses' (did you mean 'licit_use'?)"),
    ("country-lowercase", sub("country: XRU", "country: xru"), "country: has the wrong form"),
    ("country-path-traversal", sub("country: XRU", "country: ../../etc/passwd"), "country: has the wrong form"),
    ("year-out-of-range", sub("first_year: 2018", "first_year: 1850"), "year 1850 is outside 1990-2100"),
    ("years-reversed", sub("last_year: 2019", "last_year: 2017"), "first_year 2018 is after last_year 2017"),
    ("nan-value", sub(POPULATION, "      value: .nan\n      year: 2018\n"), "must be a finite number"),
    ("infinite-value", sub(POPULATION, "      value: .inf\n      year: 2018\n"), "must be a finite number"),
    ("empty-file", whole(""), "the file is empty"),
    ("only-comments", whole("# nothing here\n"), "the file is empty"),
    ("root-is-a-list", whole("- country: XRU\n"), "must be a mapping of keys"),
    ("very-large-file", lambda t: t + "#" * 1_100_000 + "\n", "file is too large"),
    ("python-object-tag", whole(f"country: !!python/object/apply:os.system ['touch {MARKER}']\n"), "YAML tag"),
    ("python-name-tag", sub("name: Ruritania (fictional)", "name: !!python/name:os.system"), "YAML tag"),
    ("custom-tag", sub("name: Ruritania (fictional)", "name: !Ref other"), "YAML tag '!Ref' is not allowed"),
    ("alias-bomb", whole("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"), "expands to"),
    ("bare-number", sub("  gdp_usd:\n    unit: USD\n    values: {2018: 50.0e+9, 2019: 55.0e+9}\n    assumption: Fictional gross domestic product, a round number for the worked example.\n",
                        "  gdp_usd: 50000000000\n"), "a bare number has no provenance"),
    ("series-missing-year", sub("values: {2018: 10000, 2019: 12000}\n                assumption: Fictional seizures",
                                "values: {2018: 10000}\n                assumption: Fictional seizures"), "no value for 2019"),
    ("shares-do-not-sum-to-one", sub("value: 0.4, year: 2018, assumption: Fictional share of exports shipped",
                                     "value: 0.5, year: 2018, assumption: Fictional share of exports shipped"), "shares must sum to 1"),
    ("invalid-utf8", lambda t: t.replace("Ruritania (fictional)", "Ruritania \udcff", 1), "not valid UTF-8"),
    ("missing-marker", sub(POPULATION, "      value: MISSING\n      year: 2018\n"), "still marked MISSING"),
    ("assumption-too-short", sub("      assumption: Fictional survey population aged 15-64, a round number for the worked example.\n",
                                 "      assumption: a guess\n"), "at least 20 characters"),
    ("wrong-unit", sub(LEAF_YIELD, LEAF_YIELD.replace("t/ha", "kg/ha")), "unit must be 't/ha'"),
    ("cost-with-two-measures", sub("            paid_to: transit\n            share_of_fees:",
                                   "            paid_to: transit\n            per_paying_migrant: {unit: USD/person, value: 10, year: 2018, "
                                   "assumption: Fictional cost per migrant for the malformed case.}\n            share_of_fees:"),
     "give exactly one of per_paying_migrant and share_of_fees"),
    ("cost-paid-to-unknown", sub("            paid_to: destination\n", "            paid_to: the gang\n"),
     "paid_to must be origin, transit, destination or an ISO3 code, got 'the gang'"),
] + [
    # --- numbers written the Spanish way are refused with how to write them, never misread (issue 15)
    ("decimal-comma-quoted", sub(POPULATION, '      value: "12,5"\n      year: 2018\n'), "'12,5' has a decimal comma: write the number with a decimal point"),
    ("decimal-comma-plain", sub(POPULATION, "      value: 12,5\n      year: 2018\n"), "has a decimal comma"),
    ("thousands-dots-text", sub(POPULATION, '      value: "1.234.567,5"\n      year: 2018\n'), "has thousands separators"),
    ("thousands-commas-text", sub(POPULATION, "      value: 10,000,000\n      year: 2018\n"), "has thousands separators"),
    ("thousands-dot-ambiguous", sub(POPULATION, "      value: 61.000\n      year: 2018\n"), "the number 61.000 is ambiguous"),
    ("thousands-space", sub(POPULATION, '      value: "10 000 000"\n      year: 2018\n'), "has thousands separators"),
    # --- YAML 1.1 surprises where a number or a year is expected
    ("sexagesimal-number", sub(POPULATION, "      value: 1:30\n      year: 2018\n"), "the number '1:30' is not written as a plain decimal number, which YAML reads as 90"),
    ("octal-year", sub("first_year: 2018", "first_year: 03742"), "the number '03742' is not written as a plain decimal number, which YAML reads as 2018"),
    ("hex-year", sub("first_year: 2018", "first_year: 0x7E2"), "which YAML reads as 2018"),
    ("underscore-number", sub(POPULATION, "      value: 10_000_000\n      year: 2018\n"), "not written as a plain decimal number"),
    ("yes-as-number", sub(POPULATION, "      value: yes\n      year: 2018\n"), "YAML reads yes, no, on and off as true/false"),
    ("yes-as-year", sub(POPULATION, "      value: 10000000\n      year: no\n"), "a year must be a whole number"),
    ("binary-value", sub("name: Ruritania (fictional)", "name: !!binary aGVsbG8="), "binary data is not allowed"),
    ("date-value", sub(POPULATION, "      value: 10000000\n      year: 2018-01-01\n"), "a date is not allowed here"),
    ("set-type", sub("name: Ruritania (fictional)", "name: !!set {a, b}"), "the YAML type !!set is not allowed"),
    ("year-keys-collide", sub("values: {2018: 10000, 2019: 12000}\n                assumption: Fictional harvested",
                              "values: {2018: 10000, \"2018\": 11000, 2019: 12000}\n                assumption: Fictional harvested"),
     "duplicate key '2018': it is the same key as 2018"),
    # --- zero where the model divides, and numbers too large to compute with
    ("zero-purity", sub("purity: {unit: share, value: 0.8, year: 2018, assumption: Fictional purity at wholesale level.}",
                        "purity: {unit: share, value: 0.0, year: 2018, assumption: Fictional purity at wholesale level.}"),
     "purity: must be above zero: prices and quantities are converted to pure drug with it"),
    ("zero-price", sub("price: {unit: USD/kg, value: 20000, year: 2018,", "price: {unit: USD/kg, value: 0, year: 2018,"),
     "price: must be above zero"),
    ("zero-exchange-rate", sub("values: {2018: 2.0, 2019: 2.5}", "values: {2018: 2.0, 2019: 0}"),
     "lcu_per_usd: must be above zero: values in local currency are divided by the exchange rate"),
    ("zero-conversion", sub("              unit: kg/kg\n              value: 1.0", "              unit: kg/kg\n              value: 0"),
     "conversion: must be above zero"),
    ("zero-yield-low-bound", sub("                low: 4\n                high: 6", "                low: 0\n                high: 6"),
     "leaf_yield: must be above zero: a yield of 0"),
    ("number-too-large", sub(POPULATION, "      value: 1.0e+300\n      year: 2018\n"), "1e+300 is too large: a number must be at most 1e15"),
    # --- text that would become markup or an identifier
    ("control-character-in-name", sub("name: Ruritania (fictional)", 'name: "Ruri\\x07tania"'), "name: contains the control character U+0007"),
    ("escape-sequence-in-label", sub("label: Overland to Borduria", 'label: "Overland \\e[2J to Borduria"'), "contains the control character U+001B"),
    ("route-key-with-capitals", sub("                borduria:\n                  label: Overland", "                Borduria Route:\n                  label: Overland"),
     "the key 'Borduria Route' must be lower-case letters, digits and _"),
    ("corridor-key-is-html", sub("      ruritanians_to_borduria:", "      \"<script>x</script>\":"), "must be lower-case letters, digits and _"),
    ("chemical-key-with-role", sub("              permanganate:\n", "              \"{download}`x`\":\n"), "must be lower-case letters, digits and _"),
    ("source-key-starts-with-dash", sub("      assumption: Fictional survey population aged 15-64, a round number for the worked example.\n",
                                        "      source: {key: -cmd, at: p. 1, evidence: primary}\n"), "source.key: has the wrong form"),
    # --- files a parser must not choke on
    ("deeply-nested-brackets", whole("country: " + "[" * 50_000 + "]" * 50_000 + "\n"), "nested too deeply"),
    ("deeply-nested-flow-mapping", whole("a: " + "{b: " * 5_000 + "1" + "}" * 5_000 + "\n"), "nested too deeply"),
    ("deeply-indented", whole("".join(" " * i + f"k{i}:\n" for i in range(0, 600, 2)) + " " * 600 + "x: 1\n"), "nested too deeply"),
    ("country-with-trailing-newline", sub("country: XRU", 'country: "XRU\\n"'), "country: has the wrong form"),
    ("format-missing", sub("format: 2  # the format of this parameter file (see `iff upgrade`)\n", ""),
     "run `iff upgrade parameters/XRU.yml`"),
    ("format-newer", sub("format: 2", "format: 3"), "a newer format than this handbook reads"),
    ("partner-free-text", sub("partner: XSY", "partner: Syldavia and beyond"), "is not a country or region code"),
    ("text-names-a-missing-key", sub("assumption: Fictional seizures of coca paste and base, bulk weight.",
                                     "assumption: Fictional seizures as in press_nowhere_2019, bulk weight."),
     "names 'press_nowhere_2019', which is not a key of book/references.bib"),
    # --- found in review: divisors that overflow, more characters that are not text, commas in braces
    ("tiny-purity-overflows", sub("purity: {unit: share, value: 0.8, year: 2018, assumption: Fictional purity at wholesale level.}",
                                  "purity: {unit: share, value: 1.0e-300, year: 2018, assumption: Fictional purity at wholesale level.}"),
     "purity: must be at least 0.001"),
    ("tiny-exchange-rate", sub("values: {2018: 2.0, 2019: 2.5}", "values: {2018: 2.0, 2019: 1.0e-300}"),
     "lcu_per_usd: must be at least 1e-06"),
    ("zero-gdp", sub("values: {2018: 50.0e+9, 2019: 55.0e+9}", "values: {2018: 50.0e+9, 2019: 0}"),
     "gdp_usd: must be above zero: total IFFs are divided by GDP"),
    ("decimal-comma-in-braces", sub("values: {2018: 2.0, 2019: 2.5}", "values: {2018: 2,0, 2019: 2.5}"),
     "2,0 has a decimal comma: write the number with a decimal point (2.0)"),
    ("nul-byte", sub("name: Ruritania (fictional)", "name: Ruri\x00tania"), "contains the character U+0000"),
    ("del-character", sub("name: Ruritania (fictional)", "name: Ruri\x7ftania"), "contains the character U+007F"),
    # (escapes of YAML's double-quoted text: the characters themselves would be read as line breaks)
    ("c1-control-in-name", sub("name: Ruritania (fictional)", r'name: "Ruri\u0085tania"'), "contains the control character U+0085"),
    ("bidi-override-in-name", sub("name: Ruritania (fictional)", r'name: "Ruri\u202etania"'), "contains the control character U+202E"),
    ("line-separator-in-label", sub("label: Overland to Borduria", r'label: "Overland\u2028to Borduria"'),
     "contains the control character U+2028"),
    ("name-far-too-long", sub("name: Ruritania (fictional)", "name: " + "R" * 200_000), "at most 1,000 are allowed"),
    ("unit-of-a-section-named-at-its-line", sub("    unit: XTS/USD", "    unit: XTS"),
     "macro.lcu_per_usd: unit must be '<currency>/USD'"),
]


def write_case(tmp_path: Path, edit) -> Path:
    text = edit(GOOD)
    path = tmp_path / "XRU.yml"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    return path


@pytest.mark.parametrize("case,edit,expected", CASES, ids=[c[0] for c in CASES])
def test_malformed_file_gets_a_clear_one_line_error(tmp_path, case, edit, expected):
    path = write_case(tmp_path, edit)
    Path(MARKER).unlink(missing_ok=True)
    with pytest.raises(ParameterError) as exc:
        load_country(path, BIB, display="parameters/XRU.yml")
    problems = [str(p) for p in exc.value.problems]
    assert problems, case
    for line in problems:
        assert "\n" not in line
        assert line.startswith("parameters/XRU.yml"), line
        # names the field (a dotted path) or the line of the problem
        assert re.match(r"parameters/XRU\.yml(:\d+)?: ", line), line
    assert any(expected in p for p in problems), problems
    assert not Path(MARKER).exists(), "a YAML tag was executed"


def test_at_least_85_malformed_cases():
    assert len(CASES) >= 85


def test_a_unit_error_of_a_section_names_the_line_of_the_unit(tmp_path):
    """A check of a whole section that concerns one field is reported at that field's line."""
    path = write_case(tmp_path, sub("    unit: XTS/USD", "    unit: XTS"))
    with pytest.raises(ParameterError) as exc:
        load_country(path, BIB, display="parameters/XRU.yml")
    line = GOOD.splitlines().index("    unit: XTS/USD") + 1
    assert str(exc.value.problems[0]).startswith(f"parameters/XRU.yml:{line}: macro.lcu_per_usd: unit"), exc.value


def test_a_loop_of_links_is_one_line_and_the_other_files_are_read(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    (root / "parameters" / "XLA.yml").symlink_to("XLB.yml")
    (root / "parameters" / "XLB.yml").symlink_to("XLA.yml")
    result = run_iff("validate", cwd=root)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "parameters/XRU.yml: ok" in result.stdout
    lines = [ln for ln in result.stdout.splitlines() if "XLA.yml" in ln or "XLB.yml" in ln]
    assert len(lines) == 2 and all("a loop of links" in ln for ln in lines), result.stdout


def test_export_refuses_a_folder_path_and_a_name_too_long(tmp_path):
    from methods.build.export import check_output
    from methods.model.errors import IffError

    with pytest.raises(IffError, match="names a folder"):
        check_output(f"{tmp_path}/new-folder/")
    with pytest.raises(IffError, match="the file name is too long"):
        check_output(str(tmp_path / ("a" * 300 + ".csv")))
    assert check_output(str(tmp_path / "results.csv")) is False


def test_new_country_refuses_a_name_its_validator_would_refuse(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    for name in ("Bol\x07ivia", "Bol\u202eivia"):
        result = run_iff("new-country", "XQQ", "--name", name, cwd=root)
        assert result.returncode == 1 and "--name: contains the control character" in result.stderr
    assert not (root / "parameters" / "XQQ.yml").exists()


def test_upgrade_refuses_a_link_leading_outside_the_repository(tmp_path):
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    victim = tmp_path / "victim.yml"
    victim.write_text("x: 1\n")
    (root / "parameters" / "XQZ.yml").symlink_to(victim)
    result = run_iff("upgrade", "parameters/XQZ.yml", cwd=root)
    assert result.returncode == 1 and "a link to a file outside the repository" in result.stdout
    assert victim.read_text() == "x: 1\n" and (root / "parameters" / "XQZ.yml").is_symlink()


@pytest.mark.slow
def test_bad_files_through_the_commands_leave_other_countries_untouched(tmp_path):
    """A sample of cases through `iff validate` and `iff run`: one line each, non-zero exit, no traceback,
    and the other country's chapters are not touched."""
    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    text = (root / "parameters" / "XRU.yml").read_text()
    (root / "parameters" / "XRV.yml").write_text(text.replace("country: XRU", "country: XRV"))
    assert run_iff("run", "--draws", "200", "--country", "XRU", cwd=root).returncode == 0
    before = {p: p.read_bytes() for p in (root / "book" / "countries").rglob("*") if p.is_file()}
    sample = {c[0]: c for c in CASES}
    for name in ("yaml-unclosed-bracket", "duplicate-key-top", "share-above-one", "python-object-tag",
                 "country-path-traversal", "nan-value", "empty-file"):
        _, edit, expected = sample[name]
        bad = edit(text).replace("country: XRU", "country: XRV")
        (root / "parameters" / "XRV.yml").write_text(bad)
        for command in (("validate", "parameters/XRV.yml"), ("run", "--draws", "200")):
            result = run_iff(*command, cwd=root)
            output = result.stdout + result.stderr
            assert result.returncode == 1, (name, command)
            assert "Traceback" not in output
            lines = [ln for ln in output.splitlines() if "parameters/XRV.yml" in ln]
            assert lines and all(re.search(r"parameters/XRV\.yml(:\d+)?: ", ln) for ln in lines), (name, output)
            assert any(expected in ln for ln in lines), (name, output)
        assert not Path(MARKER).exists()
        after = {p: p.read_bytes() for p in (root / "book" / "countries").rglob("*") if p.is_file()}
        assert after == before, name
