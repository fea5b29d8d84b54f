"""Residence rules, and the one shape every transaction takes: :class:`FlowRecord`.

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

from dataclasses import dataclass, field

import numpy as np

DIRECTIONS = ("inward", "outward")


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


@dataclass
class FlowRecord:
    """One transaction: who pays whom, for what, and how much, per year.

    ``payer`` and ``payee`` are residences (an ISO3 code, or a region name for a counterpart that
    is not modelled); :meth:`direction` and :meth:`partner` say what the transaction is for a
    reporting country. Values are arrays over the model years (or draws x years).
    """

    market: str  # drugs | smuggling
    drug: str  # the chain (cocaine, heroin, methamphetamine); empty for smuggling
    product: str  # stage of a drug chain, 'precursors', or the smuggling corridor
    component: str  # drug_sales | drug_purchases | precursors | smuggling_fees | smugglers_costs
    route: str  # route, chemical, place of payment or cost, as keyed in the parameter file
    label: str
    payer: str
    payee: str
    value_usd: np.ndarray
    quantity: np.ndarray | None = None
    quantity_unit: str = ""
    price_usd: np.ndarray | None = None  # per unit of quantity
    detail: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. the home and abroad prices of a route
    path: tuple = ()  # where the transaction is described in the parameter file (a route, a chemical, a corridor)
    partner_label: str = ""  # the file's own name for the counterpart, where a region code is too broad

    def direction(self, reporting_country: str) -> str | None:
        return flow_direction(reporting_country, self.payer, self.payee)

    def partner(self, reporting_country: str) -> str:
        """The counterpart's residence (the reporting country itself for a domestic payment)."""
        if self.payee == reporting_country:
            return self.payer
        return self.payee


def discrepancy_share(value_a, value_b):
    """Relative gap between two estimates of the same flow, as a share of their mean.

    .. math:: \\delta = \\frac{|a - b|}{(a + b)/2}
    """
    a, b = np.asarray(value_a, dtype=float), np.asarray(value_b, dtype=float)
    mean = (a + b) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, np.abs(a - b) / mean, 0.0)
