"""The supply-and-use balance of one product (one stage of a chain).

Identity, for every stage and year (all in the stage's unit, pure equivalent):

.. math::

    P + M + I + D = X + S + C + \\Lambda + L^{lic} + O

with production *P*, imports *M*, inflow from the previous stage *I*, exports *X*, seizures *S*,
consumption *C*, losses :math:`\\Lambda`, licit use :math:`L^{lic}` and outflow to the next stage
*O*. One item balances the others. When the recorded uses exceed the supply, the balancing item
is set to zero and the shortfall is shown as a statistical discrepancy *D* on the supply side,
rather than a negative flow.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

BALANCE_ITEMS = ("production", "imports", "inflow", "discrepancy",
                 "exports", "seizures", "consumption", "losses", "licit_use", "outflow")
SUPPLY_ITEMS = ("production", "imports", "inflow", "discrepancy")
USE_ITEMS = ("exports", "seizures", "consumption", "losses", "licit_use", "outflow")


@dataclass
class StageBalance:
    """Balance of one stage; every field is an array over years (or draws x years)."""

    product: str
    unit: str
    production: np.ndarray
    imports: np.ndarray
    inflow: np.ndarray
    discrepancy: np.ndarray
    exports: np.ndarray
    seizures: np.ndarray
    consumption: np.ndarray
    losses: np.ndarray
    licit_use: np.ndarray
    outflow: np.ndarray

    def supply(self) -> np.ndarray:
        return sum(getattr(self, k) for k in SUPPLY_ITEMS)

    def uses(self) -> np.ndarray:
        return sum(getattr(self, k) for k in USE_ITEMS)

    def processed(self) -> np.ndarray:
        """Quantity produced at this stage (production, or inflow converted from the previous stage)."""
        return self.production + self.inflow

    def items(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in BALANCE_ITEMS}


def supply_kg(production, imports, inflow):
    """Supply of a stage before uses.

    .. math:: P + M + I
    """
    return np.add(np.add(production, imports), inflow)


def residual_and_discrepancy(supply, uses):
    """Split ``supply - uses`` into a non-negative residual and a non-negative discrepancy.

    .. math:: R = \\max(P + M + I - W, 0), \\quad D = \\max(W - (P + M + I), 0)

    so that :math:`P + M + I + D = W + R` always holds (*W*: the uses other than the balancing item *R*).
    """
    gap = np.subtract(supply, uses)
    return np.maximum(gap, 0.0), np.maximum(-gap, 0.0)


def losses_given_uses_kg(loss_share, exports, seizures, consumption):
    """Losses when the supply is itself the unknown (transit imports, demand-led production).

    With :math:`\\Lambda = \\lambda (P + M + I)` and, at the last stage of a chain (no outflow),
    :math:`P + M + I = X + S + C + \\Lambda`:

    .. math:: \\Lambda = \\frac{\\lambda}{1-\\lambda} (X + S + C)
    """
    loss_share = np.asarray(loss_share, dtype=float)
    return loss_share / (1.0 - loss_share) * (np.add(np.add(exports, seizures), consumption))


def route_quantity(flow_quantity, route_share, sum_of_route_shares):
    """Quantity on one route: the flow split by the routes' shares, normalised to sum to one.

    .. math:: Q_r = Q \\times s_r / \\sum_k s_k

    (Normalising keeps the split exact when shares are drawn independently in the Monte Carlo.)
    """
    return np.multiply(flow_quantity, np.divide(route_share, sum_of_route_shares))


def traded_by_residents_kg(route_quantity, resident_share):
    """Part of a route's quantity that residents of the reporting country buy or sell.

    .. math:: Q^{res}_r = Q_r \\times \\rho_r

    The rest crosses the country under the ownership of non-residents: a transaction between
    non-residents, which is not an IFF of the reporting country.
    """
    return np.multiply(route_quantity, resident_share)


def flow_from_base_kg(base_kg, base_share, base_fraction_of_flow=1.0):
    """A flow estimated from an observed one.

    .. math:: Q = B \\times s_B / f_B

    ``base_kg`` (*B*): the observed flow, e.g. a partner's production or the seizures in a
    destination market; ``base_share`` (:math:`s_B`): the part of it that concerns this flow, e.g.
    the share of a partner's production that transits the country; ``base_fraction_of_flow``
    (:math:`f_B`): the fraction of the flow that the base represents, e.g. the share of supply that
    is seized (1 when the base is the whole flow).
    """
    return np.divide(np.multiply(base_kg, base_share), base_fraction_of_flow)
