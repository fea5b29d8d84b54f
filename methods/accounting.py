"""Residence rules: when a transaction is an inward or an outward IFF of a country.

Following balance-of-payments practice, a transaction is cross-border when it is between a
resident and a non-resident of the reporting economy, wherever the goods or people physically are.
For a payment from a payer to a payee (the seller of the drug or the provider of the smuggling
service), seen from reporting country *c*:

============================  ===========================  ==============
payer                         payee                        for *c*
============================  ===========================  ==============
non-resident of *c*           resident of *c*              inward IFF
resident of *c*               non-resident of *c*          outward IFF
resident of *c*               resident of *c*              domestic
non-resident of *c*           non-resident of *c*          not *c*'s flow
============================  ===========================  ==============

Every cross-border payment is therefore an inward IFF of the payee's country and an outward IFF
of the payer's country: the *mirror* of each other.
"""
from __future__ import annotations

import numpy as np


def flow_direction(reporting_country: str, payer_residence: str, payee_residence: str) -> str | None:
    """'inward', 'outward', 'domestic', or None when neither party is resident of the country."""
    payer_res = payer_residence == reporting_country
    payee_res = payee_residence == reporting_country
    if payee_res and not payer_res:
        return "inward"
    if payer_res and not payee_res:
        return "outward"
    if payer_res and payee_res:
        return "domestic"
    return None


def mirror_direction(direction: str) -> str:
    """The direction the same payment has in the counterpart's accounts."""
    return {"inward": "outward", "outward": "inward"}[direction]


def discrepancy_share(value_a, value_b):
    """Relative gap between two estimates of the same flow, as a share of their mean.

    .. math:: \\delta = \\frac{|a - b|}{(a + b)/2}
    """
    a, b = np.asarray(value_a, dtype=float), np.asarray(value_b, dtype=float)
    mean = (a + b) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, np.abs(a - b) / mean, 0.0)
