"""Small Sphinx adjustments for the handbook.

* The pages load no script twice. jupyter-book's Thebe support (live code cells, unused here)
  declares its configuration twice on some pages, which the browser reports as an error
  ("Identifier 'THEBE_JS_URL' has already been declared"), and names a script on an external host:
  its scripts are dropped.
"""


def _clean_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        filename = str(getattr(script, "filename", script) or "")
        body = str(getattr(script, "attributes", {}).get("body", ""))
        if "thebe" in filename.lower() or "THEBE_JS_URL" in body:
            continue
        key = (filename, body)
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _clean_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
