"""The build layer: the machinery that turns the model into the published handbook.

``cli``          the ``iff`` command
``project``      where things are in a checkout
``runner``       papermill, in parallel, only for chapters whose inputs changed
``forkserver``   the warm engine's fork server (``zygote``), which ``kernels`` gives papermill kernels from
``pages``        the generated pages (table of contents, country pages, reference of inputs) and the book build
``sphinxbuild``  the Sphinx process
``regional``     the cross-country pages; ``charts`` their figures
``export``       csv, xlsx and SDMX-CSV
``newcountry``   the blank parameter file; ``render`` safe text for pages and files; ``files`` atomic writes
``bench``        the benchmark

No chapter imports this layer: changing it never re-executes a chapter.
"""
