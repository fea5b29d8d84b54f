"""Prices: to US dollars and to pure equivalent, and the price at which ownership changes."""
from __future__ import annotations

import numpy as np


def price_usd_per_kg(price_lcu_per_kg, lcu_per_usd):
    """Price in US dollars at the annual average exchange rate.

    .. math:: p^{USD} = p^{LCU} / e

    ``lcu_per_usd``: local currency units per US dollar, annual average of the price's year
    (pass 1 for prices already in US dollars).
    """
    return np.divide(price_lcu_per_kg, lcu_per_usd)


def price_usd_per_pure_kg(price_usd_per_kg, purity):
    """Purity-adjusted price: US dollars per kilogram of pure drug.

    .. math:: p^* = p / \\pi
    """
    return np.divide(price_usd_per_kg, purity)


def transaction_price_usd_per_pure_kg(home_price_usd_per_pure_kg, abroad_price_usd_per_pure_kg, abroad_share):
    """Average price at which ownership passes between residents and non-residents.

    .. math:: \\bar p_r = (1 - \\varphi)\\, p^*_{home} + \\varphi\\, p^*_{abroad}

    ``abroad_share`` (:math:`\\varphi`): share of the quantity whose ownership changes abroad
    (drugs delivered abroad by residents; or bought abroad by residents).
    """
    return (1.0 - np.asarray(abroad_share)) * home_price_usd_per_pure_kg + np.multiply(
        abroad_share, abroad_price_usd_per_pure_kg
    )


def ladder_price_usd_per_pure_kg(rung_prices_usd_per_pure_kg, sold_at_shares):
    """Average price at which ownership passes, over the rungs of a route's price ladder.

    .. math:: \\bar p_r = \\sum_k w_k\\, p^*_k \\Big/ \\sum_k w_k

    ``sold_at_shares`` (:math:`w_k`): share of the route's quantity whose ownership passes between a
    resident and a non-resident at rung *k* (production zone, airstrip, border, abroad ...);
    normalised, so that the shares always sum to one. With two rungs, home and abroad, this is the
    home/abroad mix above. Should every share be zero (a scenario that puts each at a low bound of
    zero), the rungs count equally.
    """
    total = sum(sold_at_shares)
    weighted = sum(np.multiply(w, p) for w, p in zip(sold_at_shares, rung_prices_usd_per_pure_kg))
    equal = sum(rung_prices_usd_per_pure_kg) / len(rung_prices_usd_per_pure_kg)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(total) > 0, weighted / np.where(np.asarray(total) > 0, total, 1.0), equal)


def fob_price_usd_per_pure_kg(border_price_usd_per_pure_kg, destination_price_usd_per_pure_kg, margin_share):
    """The FOB valuation of Colombian national-accounts work (Montenegro, Llano and Ibáñez 2019): the
    border price plus a share of the difference to the destination's wholesale price.

    .. math:: p^{FOB} = p^*_{border} + m\\,(p^*_{dest} - p^*_{border})
    """
    return np.add(border_price_usd_per_pure_kg,
                  np.multiply(margin_share, np.subtract(destination_price_usd_per_pure_kg, border_price_usd_per_pure_kg)))
