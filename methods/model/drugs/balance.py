"""The supply-and-use balance of one product (one stage of a chain).

Identity, for every stage and year (all in the stage's unit, pure equivalent):

.. math::

    P + M + T^{in} + I + D = X + T^{out} + S + C + \\Lambda + L^{lic} + O

with production *P*, imports bought by residents *M*, drug entering in transit (owned by
non-residents) :math:`T^{in}`, inflow from the previous stage *I*, exports sold by residents *X*,
drug leaving in transit :math:`T^{out}`, seizures *S*, consumption *C*, losses :math:`\\Lambda`,
licit use :math:`L^{lic}` and outflow to the next stage *O*. One item balances the others. When the recorded uses exceed the supply, the balancing item
is set to zero and the shortfall is shown as a statistical discrepancy *D* on the supply side,
rather than a negative flow.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

BALANCE_ITEMS = ("production", "imports", "transit_in", "inflow", "discrepancy",
                 "exports", "transit_out", "seizures", "consumption", "losses", "licit_use", "outflow")
SUPPLY_ITEMS = ("production", "imports", "transit_in", "inflow", "discrepancy")
USE_ITEMS = ("exports", "transit_out", "seizures", "consumption", "losses", "licit_use", "outflow")


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
    transit_in: np.ndarray | float = 0.0
    transit_out: np.ndarray | float = 0.0

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


def transit_in_kg(imports_kg, share_of_imports):
    """Drug entering in transit, as a share of the measured imports.

    .. math:: T^{in} = \\tau \\, M^{all}

    :math:`M^{all}`: everything that enters the country (the stage's measured imports); :math:`\\tau`:
    the share that stays owned by non-residents. The rest, :math:`(1-\\tau) M^{all}`, is bought by
    residents: their imports *M*.
    """
    return np.multiply(imports_kg, share_of_imports)


def transit_part(total, own_kg, transit_kg):
    """The part of a quantity that falls on the drug in transit, in proportion to the quantities.

    .. math:: Z^{T} = Z \\, \\frac{T^{in}}{T^{in} + Q^{own}}

    (used for seizures: a seizure does not ask who owns the drug). Zero when both are zero.
    """
    own_kg, transit_kg = np.asarray(own_kg, dtype=float), np.asarray(transit_kg, dtype=float)
    present = own_kg + transit_kg
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present > 0, np.multiply(total, np.divide(transit_kg, np.where(present > 0, present, 1.0))), 0.0)


def transit_out_kg(transit_in, transit_seized, transit_lost):
    """Drug leaving in transit: what entered, less what was seized or lost on the way.

    .. math:: T^{out} = \\max(T^{in} - Z^{T} - \\Lambda^{T}, 0)
    """
    return np.maximum(np.subtract(np.subtract(transit_in, transit_seized), transit_lost), 0.0)


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
