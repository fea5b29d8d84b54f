"""Schema of the smuggling-of-migrants section of a parameter file.

A *corridor* is a group of migrants (a nationality group) on one journey: from their origin,
possibly through a transit country, into a destination. Its smuggling fees are

    journeys = apprehension events / events per person x undetected-crossing factor
    fees     = journeys x share paying a smuggler x fee per migrant

and each fee is split by where it is paid (origin, transit, destination) and by the residence
of the smuggler who receives it (origin, transit, destination).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .drugs import DataGap
from .records import bad, Events, Factor, Key, PartnerCode, Quantity, Share, Strict, Text

PLACES = ("origin", "transit", "destination")


class PlaceShares(Strict):
    """Shares of the fees by place (sum to 1). Structural: they define the scenarios."""

    origin: Share
    transit: Share | None = None
    destination: Share


class SmugglerCost(Strict):
    """A cost of the corridor's smugglers (transport, bribes, route fees paid to other criminal
    groups): an auxiliary breakdown. Paid by the smugglers resident in ``paid_by`` to a recipient
    resident in ``paid_to``; a payment to a non-resident is an outward IFF of the payer's country."""

    label: Text
    paid_by: Literal["origin", "transit", "destination"] = Field(
        description="Residence of the smugglers who pay: the corridor's origin, transit or destination country"
    )
    paid_to: Text = Field(
        description="Residence of the recipient: origin, transit or destination, or a country or region code"
    )
    per_paying_migrant: Quantity | None = Field(
        default=None, description="Cost per migrant who pays a smuggler (USD/person or LCU/person)"
    )
    share_of_fees: Share | None = Field(default=None, description="Cost as a share of the corridor's smuggling fees")
    note: Text | None = Field(default=None, description="Who pays whom, and why the residences were chosen")

    @model_validator(mode="after")
    def _one_measure(self) -> "SmugglerCost":
        if (self.per_paying_migrant is None) == (self.share_of_fees is None):
            raise bad("per_paying_migrant", "give exactly one of per_paying_migrant and share_of_fees")
        if self.per_paying_migrant is not None:
            cur, _, per = self.per_paying_migrant.unit.partition("/")
            if per != "person" or not (len(cur) == 3 and cur.isupper()):
                raise bad("per_paying_migrant", "unit must be a currency per person, e.g. 'USD/person', got {u!r}",
                          {"u": self.per_paying_migrant.unit})
        from .partners import is_partner_code

        if self.paid_to not in PLACES and not is_partner_code(self.paid_to):
            raise bad("paid_to", "paid_to must be origin, transit, destination or an ISO3 code, got {v!r}",
                      {"v": self.paid_to})
        return self


class Corridor(Strict):
    label: Text
    origin: PartnerCode = Field(description="Country of residence of the migrants (ISO3 code), or a region code")
    transit: PartnerCode | None = Field(default=None, description="Transit country (ISO3 code), if any")
    destination: PartnerCode = Field(description="Destination country (ISO3 code), or a region code")
    apprehensions: Events = Field(description="Apprehension events of this group on this journey")
    events_per_person: Factor = Field(description="Apprehension events per person (repeat apprehensions), >= 1")
    undetected_factor: Factor = Field(
        description="Migrants who made the journey per migrant apprehended (undetected crossings), >= 1"
    )
    share_paying: Share = Field(description="Share of migrants who pay a smuggler")
    fee: Quantity = Field(description="Fee per paying migrant for this journey (USD/person or LCU/person)")
    payment_place: PlaceShares = Field(description="Where fees are paid: origin, transit, destination")
    smuggler_residence: PlaceShares = Field(
        description="Residence of the smugglers who receive the fees: origin, transit or destination country"
    )
    costs: dict[Key, SmugglerCost] = Field(
        default_factory=dict, description="Smugglers' costs, where data exist (auxiliary breakdown; optional)"
    )

    @model_validator(mode="after")
    def _check(self) -> "Corridor":
        cur, _, per = self.fee.unit.partition("/")
        if per != "person" or not (len(cur) == 3 and cur.isupper()):
            raise bad("unit", "fee: unit must be a currency per person, e.g. 'USD/person', got {u!r}", {"u": self.fee.unit})
        for name in ("payment_place", "smuggler_residence"):
            shares = getattr(self, name)
            if self.transit is None and shares.transit is not None:
                raise bad("transit", "{n}.transit given but the corridor has no transit country", {"n": name})
        for cid, cost in self.costs.items():
            if self.transit is None and "transit" in (cost.paid_by, cost.paid_to):
                raise bad("costs", "costs.{c}: paid by or to 'transit' but the corridor has no transit country",
                          {"c": cid})
        return self


class SmugglingMarket(Strict):
    corridors: dict[Key, Corridor] = Field(default_factory=dict)
    data_gaps: list[DataGap] = Field(default_factory=list)
    note: Text | None = None

    @model_validator(mode="after")
    def _something(self) -> "SmugglingMarket":
        if not self.corridors and not self.data_gaps:
            raise bad(
                "empty_market", "give at least one corridor, or list the data_gaps that prevent an estimate"
            )
        return self
