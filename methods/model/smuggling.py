"""Smuggling of migrants: journeys, fees, and where and to whom the fees are paid.

The fee a migrant (or someone on the migrant's behalf) pays a smuggler is the transaction. Who
pays depends on where the payment is made: at origin or in transit, the migrant (a resident of
the origin country: a traveller does not change residence by crossing a country); at destination,
relatives or the migrant settled there (residents of the destination). The smuggler who receives
it is resident in the origin, transit or destination country. The residence rules of
:mod:`methods.accounting` then make each payment inward, outward or domestic for a country.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .accounting import FlowRecord
from .inputs import Values
from .params import PLACES, Corridor, SmugglingMarket


def persons_apprehended(apprehension_events, events_per_person):
    """Distinct persons behind apprehension events (removing repeat apprehensions).

    .. math:: N^{app} = E / \\rho

    ``events_per_person`` (:math:`\\rho \\ge 1`): apprehension events per person.
    """
    return np.divide(apprehension_events, events_per_person)


def smuggled_journeys(persons_apprehended, undetected_factor):
    """Migrants who made the journey, detected or not.

    .. math:: N = N^{app} \\times g

    ``undetected_factor`` (:math:`g \\ge 1`): migrants per migrant apprehended, e.g. the inverse of the
    probability of being apprehended at least once.
    """
    return np.multiply(persons_apprehended, undetected_factor)


def paying_migrants(smuggled_journeys, share_paying):
    """Migrants who paid a smuggler.

    .. math:: N^{pay} = N \\times s
    """
    return np.multiply(smuggled_journeys, share_paying)


def smuggling_fees_usd(paying_migrants, fee_usd_per_person):
    """Fees paid to smugglers, US dollars.

    .. math:: F = N^{pay} \\times f
    """
    return np.multiply(paying_migrants, fee_usd_per_person)


def smugglers_cost_per_migrant_usd(paying_migrants, cost_usd_per_paying_migrant):
    """A smugglers' cost given per migrant who pays a smuggler, US dollars.

    .. math:: K = N^{pay} \\times k
    """
    return np.multiply(paying_migrants, cost_usd_per_paying_migrant)


def smugglers_cost_share_usd(fees_usd, cost_share_of_fees):
    """A smugglers' cost given as a share of the corridor's fees, US dollars.

    .. math:: K = F \\times \\kappa
    """
    return np.multiply(fees_usd, cost_share_of_fees)


def payer_residence(place: str, origin: str, destination: str) -> str:
    """Residence of the payer of a fee paid at ``place`` (origin, transit or destination)."""
    return destination if place == "destination" else origin


def fee_payment_usd(fees_usd, payment_place_share, smuggler_residence_share):
    """Part of the fees paid at one place to smugglers resident in one country.

    .. math:: F_{p,r} = F \\times \\pi_p \\times \\sigma_r

    (Place of payment and residence of the smuggler are taken as independent.)
    """
    return np.multiply(np.multiply(fees_usd, payment_place_share), smuggler_residence_share)


@dataclass
class CorridorResult:
    corridor: str
    label: str
    origin: str
    transit: str | None
    destination: str
    persons_apprehended: np.ndarray
    journeys: np.ndarray
    paying: np.ndarray
    fee_usd_per_person: np.ndarray
    fees_usd: np.ndarray
    payments: list[FlowRecord]  # the fees, by place of payment and smuggler residence
    costs: list[FlowRecord] = field(default_factory=list)  # the smugglers' costs

    def total(self, reporting_country: str, direction: str) -> np.ndarray:
        """Fees and smugglers' costs that are ``direction`` flows of ``reporting_country``."""
        vals = [p.value_usd for p in [*self.payments, *self.costs] if p.direction(reporting_country) == direction]
        return np.sum(np.broadcast_arrays(*vals), axis=0) if vals else np.zeros_like(self.fees_usd)


@dataclass
class SmugglingResult:
    corridors: dict[str, CorridorResult]

    def total(self, reporting_country: str, direction: str) -> np.ndarray:
        vals = [c.total(reporting_country, direction) for c in self.corridors.values()]
        return np.sum(np.broadcast_arrays(*vals), axis=0) if vals else np.zeros(1)


def normalised_share(share, sum_of_shares):
    """A share rescaled so that the shares of its group sum to one.

    .. math:: \\tilde s_k = s_k / \\sum_j s_j

    (When a scenario moves one share to its bound, the others are rescaled in proportion.)
    """
    return np.divide(share, sum_of_shares)


def corridor_payments(cid: str, c: Corridor, fees_usd, v: Values) -> list[FlowRecord]:
    """Fees split by place of payment and smuggler residence."""
    countries = {"origin": c.origin, "transit": c.transit, "destination": c.destination}
    places = {p: v(getattr(c.payment_place, p)) for p in PLACES if getattr(c.payment_place, p) is not None}
    residences = {r: v(getattr(c.smuggler_residence, r)) for r in PLACES if getattr(c.smuggler_residence, r) is not None}
    pi_sum, sigma_sum = sum(places.values()), sum(residences.values())
    out = []
    for place, pi in places.items():
        for res, sigma in residences.items():
            payer, payee = payer_residence(place, c.origin, c.destination), countries[res]
            out.append(FlowRecord(
                market="smuggling", drug="", product=cid, component="smuggling_fees", route=place,
                label=f"{c.label}: paid at {place} by residents of {payer} to smugglers resident in {payee}",
                payer=payer, payee=payee, path=("markets", "smuggling", "corridors", cid),
                value_usd=fee_payment_usd(fees_usd, normalised_share(pi, pi_sum), normalised_share(sigma, sigma_sum))))
    return out


def corridor_costs(cid: str, c: Corridor, paying, fees_usd, v: Values) -> list[FlowRecord]:
    """The smugglers' costs of a corridor, each from the smugglers who pay it to its recipient."""
    countries = {"origin": c.origin, "transit": c.transit, "destination": c.destination}
    out = []
    for kid, k in c.costs.items():
        if k.per_paying_migrant is not None:
            per = np.divide(v(k.per_paying_migrant), v.fx_for(k.per_paying_migrant))
            value = smugglers_cost_per_migrant_usd(paying, per)
        else:
            value = smugglers_cost_share_usd(fees_usd, v(k.share_of_fees))
        payer, payee = countries[k.paid_by], countries.get(k.paid_to, k.paid_to)
        out.append(FlowRecord(
            market="smuggling", drug="", product=cid, component="smugglers_costs", route=kid,
            label=f"{c.label}: {k.label} (smugglers' cost, paid by smugglers resident in {payer} to residents of {payee})",
            payer=payer, payee=payee, value_usd=value, path=("markets", "smuggling", "corridors", cid, "costs", kid)))
    return out


def evaluate_corridor(cid: str, c: Corridor, v: Values) -> CorridorResult:
    persons = persons_apprehended(v(c.apprehensions), v(c.events_per_person))
    journeys = smuggled_journeys(persons, v(c.undetected_factor))
    paying = paying_migrants(journeys, v(c.share_paying))
    fee = np.divide(v(c.fee), v.fx_for(c.fee))
    fees = smuggling_fees_usd(paying, fee)
    return CorridorResult(cid, c.label, c.origin, c.transit, c.destination, persons, journeys, paying, fee, fees,
                          corridor_payments(cid, c, fees, v), corridor_costs(cid, c, paying, fees, v))


def evaluate_smuggling_market(market: SmugglingMarket, v: Values) -> SmugglingResult:
    return SmugglingResult({cid: evaluate_corridor(cid, c, v) for cid, c in market.corridors.items()})
