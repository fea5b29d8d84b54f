"""The model layer: what a country chapter computes and shows.

``params``     the parameter file: schema and safe loading
``inputs``     the file's numbers as arrays by path; ``uncertainty`` draws and scenarios over them
``drugs``      the drug chains: supply, demand, balance, prices, valuation
``smuggling``  smuggling of migrants: journeys, fees, who pays whom
``accounting`` residence rules and the one shape of a transaction, ``FlowRecord``
``results``    a country's flow records, totals and summary tables
``network``    flows between modelled countries, seen from both sides
``chapter``    the tables and figures a chapter displays; ``templates`` the chapters themselves
``outputs``    the files a chapter writes

Estimation functions are pure (no I/O) and named after the quantity they return; chapters import
only this layer, and a chapter is executed again when a module it imports changes.
"""
